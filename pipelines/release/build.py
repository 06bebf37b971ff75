"""Build the release from the warehouse: validate, write the notes, publish the tables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from pipelines.config import Settings
from pipelines.layout import eu_dir, notes_dir
from pipelines.release.catalog import maps
from pipelines.release.family_notes import write_family_notes
from pipelines.release.notes import (
    naics_vintage_notes,
    write_coverage_notes,
    write_release_notes,
    years_present,
)
from pipelines.release.publish import ReleaseResult, publish_release
from pipelines.release.series_notes import write_series_notes
from pipelines.staging import census_api
from pipelines.staging.cbp import staged_sources
from pipelines.staging.eu import staged_eu_sources
from pipelines.staging.quarantine import quarantine_frame
from pipelines.validation.gate import release_validation
from pipelines.warehouse import families, timeseries
from pipelines.warehouse.database import EU_RELEASE_TABLES, US_RELEASE_TABLES, connect
from pipelines.warehouse.indicators import DEFAULT_PARAMS


def _write_note(dest: Path, text: str | None) -> Path | None:
    if text is None:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    return dest


def check_built_years(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """The release claims settings.cbp_years: refuse to publish tables built for other years
    (another run rebuilt the warehouse in between), instead of a release that holds less than it says."""
    built = sorted(int(r[0]) for r in con.execute("SELECT DISTINCT year FROM cbp_file_rows").fetchall())
    if built != sorted(settings.cbp_years):
        raise RuntimeError(
            f"warehouse {settings.duckdb_path} holds indicator tables built for CBP years "
            f"{built[0] if built else '-'}–{built[-1] if built else '-'} ({len(built)} years), but this run publishes "
            f"{settings.cbp_years[0]}–{settings.cbp_years[-1]}: another run rebuilt them; nothing published, run again"
        )


def _release_params(settings: Settings, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters the release records: indicator and family defaults, overrides, the run's
    CBP years and geographies, and the parameters the EU table was built with."""
    merged = {
        **DEFAULT_PARAMS,
        **families.FAMILY_PARAMS,
        **(params or {}),
        "cbp_years": list(settings.cbp_years),
        "cbp_geos": list(settings.cbp_geos),
        "max_shrink": settings.max_shrink,
    }
    eu_params = eu_dir(settings) / "indicator_params.json"
    if settings.eurostat and eu_params.exists():
        merged["eu_indicators"] = json.loads(eu_params.read_text())
    return merged


def _release_sources(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    """The release's source records (CBP, EU, Census API, map geometry) and the geometry files
    it carries ({release path: archived file})."""
    sources = staged_sources(settings)
    seen = {s["source_id"] for s in sources}
    if settings.eurostat:
        sources += [s for s in staged_eu_sources(settings) if s["source_id"] not in seen]
    sources += census_api.staged_sources(settings)
    map_sources, map_files = maps.fetch_geometry(settings)  # geometry for the release page's maps
    sources += map_sources
    return sources, map_files


def _write_notes(
    con: duckdb.DuckDBPyConnection, settings: Settings, sources: list[dict[str, Any]]
) -> tuple[dict[str, Path], dict]:
    """Write the release notes to <warehouse>/notes/: ({release path: file} in the order the
    datapackage lists them, the datapackage `coverage.six_digit` entry)."""
    notes = notes_dir(settings)
    lq_note = write_release_notes(con, notes / "lq_worked_example.md")
    coverage_md, six_digit = write_coverage_notes(con, sources, notes / "coverage.md")
    family_notes = write_family_notes(con, settings.warehouse)  # notes/<family>_worked_example.md
    series_notes = write_series_notes(con, settings.warehouse)  # issue 19: definition effect, evaluation over time
    vintages = _write_note(notes / "naics_vintages.md", naics_vintage_notes(con, sources))
    files = {
        "notes/coverage.md": coverage_md,
        **({"notes/lq_worked_example.md": lq_note} if lq_note else {}),
        **({"notes/naics_vintages.md": vintages} if vintages else {}),
        **family_notes,
        **series_notes,
    }
    return files, six_digit


def _release_tables(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, Any]:
    """The published tables: US (with custom regions), EU when the run has it, the indicator
    families of both, and the CBP quarantine."""
    tables: dict[str, Any] = {name: con.table(name) for name in US_RELEASE_TABLES}
    tables["custom_regions"] = con.table("custom_regions")
    eu = list(EU_RELEASE_TABLES) if settings.eurostat else []
    tables.update({name: con.table(name) for name in eu})
    tables.update({n: con.table(n) for n in families.release_tables(con, "us", "eu" if eu else None)})
    # issue 19: the constant-definition series, the sides this release holds
    tables[timeseries.SERIES_TABLE] = timeseries.release_rows(con, "us", "eu" if eu else None)
    if (splits := timeseries.splits_rows(con)) is not None:
        tables[timeseries.SPLITS_TABLE] = splits  # the weights the series apportioned split codes with
    tables["cbp_quarantine"] = quarantine_frame(settings)
    return tables


def _release_metadata(
    con: duckdb.DuckDBPyConnection, settings: Settings, checked_metadata: Any, notes: list[str], six_digit: dict
) -> dict[str, Any]:
    """The datapackage metadata of the release: national reference, coverage, validation, notes."""
    eu = bool(settings.eurostat)
    nat = ", ".join(sorted(str(r[0]) for r in con.execute("SELECT DISTINCT national_reference FROM cluster_indicators").fetchall()))
    return {
        "national_reference": nat,
        "national_reference_note": (
            "US cluster totals for LQ and shares: 'national rows' = the CBP US file; "
            "'sum of regions' = sum of the regions of the same type (no US file in the inputs)."
        ),
        "coverage": {
            "cbp_years": list(settings.cbp_years),
            "cbp_geographies": list(settings.cbp_geos),
            "eurostat": eu,
            "region_groups": str(settings.region_groups) if settings.region_groups else None,
            "years_present": years_present(con, europe=eu),
            "six_digit": six_digit,
        },
        "validation": checked_metadata,
        "notes": notes,
    }


def publish_us_release(
    settings: Settings, params: Mapping[str, Any] | None = None, *, force_new: bool = False
) -> ReleaseResult:
    """Publish the current warehouse tables as a new release (or report that nothing changed)."""
    merged = _release_params(settings, params)
    sources, map_files = _release_sources(settings)
    with connect(settings, read_only=True) as con:
        check_built_years(con, settings)
        # Raises ValidationError (nothing is published) when an error-level expectation fails.
        checked = release_validation(settings, con)
        notes, six_digit = _write_notes(con, settings, sources)
        tables = _release_tables(con, settings)
        return publish_release(
            tables,
            releases_dir=settings.releases_dir,
            sources=sources,
            params=merged,
            metadata=_release_metadata(con, settings, checked.metadata, list(notes), six_digit),
            extra_files={**checked.files, **notes, **map_files},
            force_new=force_new,
            allow_narrower=settings.allow_narrower,
        )
