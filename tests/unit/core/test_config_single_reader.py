"""Settings are read in one place: pipelines/config.py is the only module that reads the
environment, so every variable is documented and overridable in one file."""

from __future__ import annotations

import re

from pipelines.config import PROJECT_ROOT

READS = re.compile(r"os\.environ|os\.getenv|getenv\(")


def test_only_config_reads_the_environment() -> None:
    offenders = [
        f"{p.relative_to(PROJECT_ROOT)}:{n}"
        for p in sorted((PROJECT_ROOT / "pipelines").rglob("*.py"))
        if p.name != "config.py" or p.parent.name != "pipelines"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if READS.search(line)
    ]
    assert offenders == [], f"read settings through pipelines/config.py: {offenders}"
