"""Runtime paths the stages share: where a release's pointer lives (more paths join as modules move here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LATEST_POINTER = "latest.json"


def read_latest(releases_dir: Path) -> dict[str, Any] | None:
    """The latest release's pointer (version, path, fingerprint), or None before the first release.

    Lives below every stage: validation compares with the previous release, the release stage moves it."""
    p = releases_dir / LATEST_POINTER
    return json.loads(p.read_text()) if p.exists() else None
