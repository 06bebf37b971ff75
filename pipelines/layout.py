"""Every runtime path inside the warehouse: staged files, validation results, notes, the release pointer.

The roots (warehouse, raw, staging, releases, DuckDB file) come from config.Settings; the paths
under them are named here once, so no stage imports another just to find its files."""

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
    """Rows of a CBP year set aside by row-level rules (pipelines/staging/quarantine.py), with the reason."""
    return settings.staging_dir / "cbp_quarantine" / geo / f"year={year}.parquet"


def eu_dir(settings: Settings) -> Path:
    """The staged Eurostat tables (eu_industry_employment, nuts_crosswalk …), one Parquet each."""
    return settings.staging_dir / "eu"


def custom_dir(settings: Settings) -> Path:
    """The staged user-defined regions (custom_regions.parquet)."""
    return settings.staging_dir / "custom"


def census_api_dir(settings: Settings) -> Path:
    """Staged Census API pulls: year=YYYY/state=SS.parquet, same schema as the staged CBP files."""
    return settings.staging_dir / "cbp_api"


def eurostat_work_dir(settings: Settings) -> Path:
    """Decompressed Eurostat TSVs, scratch for the parser (the raw archive keeps the originals)."""
    return settings.staging_dir / "eurostat"


def notes_dir(settings: Settings) -> Path:
    """The notes of the next release (coverage, NAICS vintages, worked examples), copied into it."""
    return settings.warehouse / "notes"


def results_dir(warehouse: Path) -> Path:
    """Validation results, one JSON per suite × table (× scope), reused while their fingerprint holds."""
    return warehouse / "validation"


def report_dir(warehouse: Path) -> Path:
    """The validation report of the latest run (a release copies it into validation/)."""
    return results_dir(warehouse) / "report"


def read_latest(releases_dir: Path) -> dict[str, Any] | None:
    """The latest release's pointer (version, path, fingerprint), or None before the first release.

    Lives below every stage: validation compares with the previous release, the release stage moves it."""
    p = releases_dir / LATEST_POINTER
    return json.loads(p.read_text()) if p.exists() else None
