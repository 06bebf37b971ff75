"""`python -m pipelines.cli`: the `observatory` command."""

import sys

from pipelines.cli import main

sys.exit(main())
