"""Runtime paths the stages share: staged files under <warehouse>/staging, and where a release's pointer lives.

Every stage that needs to find another stage's files asks here, so no stage imports another
just for a path (more paths join as modules move here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.config import Settings

LATEST_POINTER = "latest.json"


def reference_dir(settings: Settings) -> Path:
    """The staged US reference tables (clusters, regions, NAICS concordance …), one Parquet each."""
    return settings.staging_dir / "reference"


def cbp_staged_path(settings: Settings, year: int, geo: str) -> Path:
    """The staged CBP file of one geography and year (its JSON sidecar sits beside it)."""
    return settings.staging_dir / "cbp" / geo / f"year={year}.parquet"


def cbp_quarantine_path(settings: Settings, year: int, geo: str) -> Path:
    """Rows of a CBP year set aside by row-level rules (pipelines/validation/), with the reason."""
    return settings.staging_dir / "cbp_quarantine" / geo / f"year={year}.parquet"


def eu_dir(settings: Settings) -> Path:
    """The staged Eurostat tables (eu_industry_employment, nuts_crosswalk …), one Parquet each."""
    return settings.staging_dir / "eu"


def read_latest(releases_dir: Path) -> dict[str, Any] | None:
    """The latest release's pointer (version, path, fingerprint), or None before the first release.

    Lives below every stage: validation compares with the previous release, the release stage moves it."""
    p = releases_dir / LATEST_POINTER
    return json.loads(p.read_text()) if p.exists() else None
