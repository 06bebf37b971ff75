"""The DuckDB warehouse: staged Parquet in, indicator tables out, then the release."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from pipelines.config import Settings
from pipelines.layout import custom_dir, eu_dir, reference_dir
from pipelines.staging import census_api
from pipelines.staging.cbp import staged_cbp_paths
from pipelines.staging.custom_regions import stage_us_custom
from pipelines.staging.eu import EU_TABLES
from pipelines.staging.reference import REFERENCE_TABLES
from pipelines.warehouse import families
from pipelines.warehouse.eu import EU_DEFAULT_PARAMS, eu_indicators
from pipelines.warehouse.indicators import build_cluster_tables

US_RELEASE_TABLES = (
    "industry_employment", "cluster_indicators", "region_indicators", "unmapped_industries",
    *REFERENCE_TABLES,
)  # fmt: skip
log = logging.getLogger(__name__)
EU_RELEASE_TABLES = (
    "eu_industry_employment", "eu_cluster_indicators", "nace_cluster_concordance", "nace_concordance_report",
    "nuts_crosswalk",
)  # fmt: skip


@contextmanager
def connect(settings: Settings, read_only: bool = False):
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.duckdb_path), read_only=read_only)
    configure(con, settings)
    try:
        yield con
    finally:
        con.close()


def configure(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Per-connection DuckDB settings of the warehouse (validated in Settings)."""
    con.execute(f"SET memory_limit = '{settings.duckdb_memory_limit}'")


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    rows = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = $n", {"n": name}
    ).fetchall()
    for (kind,) in rows:
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {name}")


def _load_parquet(
    con: duckdb.DuckDBPyConnection, table: str, paths: list[Path], *, view: bool = False
) -> None:
    """Expose staged Parquet to SQL: a view for the large fact table (no copy), tables else."""
    listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    if view:
        # Views cannot hold prepared parameters; the paths are ours (staging), quoted above.
        _drop(con, table)
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"
        )
        return
    _drop(con, table)
    con.execute(
        f"CREATE TABLE {table} AS SELECT * FROM read_parquet($paths, union_by_name = true, hive_partitioning = false)",
        {"paths": [str(p) for p in paths]},
    )


def _load_api_rows(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> None:
    """industry_employment = the CBP file rows plus Census API pulls (pipelines/sources/census_api.py)
    for keys the files do not hold: a targeted pull never doubles a file row."""
    _drop(con, "industry_employment")
    if not paths:
        con.execute("CREATE VIEW industry_employment AS SELECT * FROM cbp_file_rows")
        return
    # Explicit schema: the year=YYYY folder names must never decide the type of `year`.
    listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    _drop(con, "cbp_api_rows")
    con.execute(
        f"CREATE VIEW cbp_api_rows AS SELECT {census_api.duckdb_select()} "
        f"FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"
    )
    con.execute(
        """
        CREATE VIEW industry_employment AS
        SELECT * FROM cbp_file_rows
        UNION ALL BY NAME
        SELECT a.* FROM cbp_api_rows AS a
        ANTI JOIN cbp_file_rows AS f
            USING (year, region_type, region_code, classification, industry_code, lfo)
        """
    )


def build_indicators(
    con: duckdb.DuckDBPyConnection,
    staged: list[Path],
    reference_dir: Path,
    params: Mapping[str, Any] | None = None,
    *,
    api_rows: list[Path] | None = None,
    custom_regions: Path | None = None,
) -> dict[str, int]:
    """Staged harmonised Parquet (read in place, never copied) + reference tables → the
    indicator tables in `con`; the assets' path, callable without Dagster (benchmarks)."""
    # Every table whose order matters is sorted where it is published (pipelines.release.publish), so
    # DuckDB may write results in whatever order its threads finish: ~20 % faster here.
    con.execute("SET preserve_insertion_order = false")
    try:
        return _build_indicators(con, staged, reference_dir, params, api_rows=api_rows, custom_regions=custom_regions)
    finally:
        con.execute("RESET preserve_insertion_order")


def _build_indicators(
    con: duckdb.DuckDBPyConnection,
    staged: list[Path],
    reference_dir: Path,
    params: Mapping[str, Any] | None,
    *,
    api_rows: list[Path] | None,
    custom_regions: Path | None,
) -> dict[str, int]:
    _load_parquet(con, "cbp_file_rows", staged, view=True)
    _load_api_rows(con, api_rows or [])
    if custom_regions is not None:
        _load_parquet(con, "custom_regions", [custom_regions])
    for name in REFERENCE_TABLES:
        _load_parquet(con, name, [reference_dir / f"{name}.parquet"])
    counts = {"industry_employment": int(con.execute("SELECT count(*) FROM industry_employment").fetchall()[0][0])}
    counts.update(build_cluster_tables(con, params))
    return counts


def build_us_indicators(settings: Settings, params: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Load staged CBP + reference into DuckDB and run the indicator SQL; returns row counts."""
    custom = stage_us_custom(settings)
    with connect(settings) as con:
        counts = build_indicators(
            con,
            staged_cbp_paths(settings),
            reference_dir(settings),
            # the families' parameters are for the families (below); any other name must be an indicator's
            {k: v for k, v in (params or {}).items() if k not in families.FAMILY_PARAMS},
            api_rows=census_api.staged_paths(settings),
            custom_regions=custom_dir(settings) / "custom_regions.parquet",
        )
        counts["custom_regions"] = int(con.execute("SELECT count(*) FROM custom_regions").fetchall()[0][0])
        counts["us_region_groups"] = custom["us_groups"]
        counts.update(_families(con, "us", params))  # issue 12: pipelines/warehouse/families.py
        return counts


def _families(con: duckdb.DuckDBPyConnection, side: families.Side, params: Mapping[str, Any] | None) -> dict[str, int]:
    """build_families with one progress line for the step (the per-table lines are detail)."""
    started = time.perf_counter()
    counts = families.build_families(con, side, params)
    log.info(
        "indicator families (%s): %d tables, %s rows (%.1fs)",
        side.upper(), len(counts), f"{sum(counts.values()):,}", time.perf_counter() - started,
    )
    return counts


def build_eu_indicators(settings: Settings, params: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Load the staged EU tables into DuckDB and run sql/eu/cluster_indicators.sql."""
    import json

    used = {**EU_DEFAULT_PARAMS, "fixed_reference": settings.eu_fixed_reference, **(params or {})}
    with connect(settings) as con:
        counts = {}
        for name in EU_TABLES:
            _load_parquet(con, name, [eu_dir(settings) / f"{name}.parquet"])
            counts[name] = int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
        counts["eu_cluster_indicators"] = eu_indicators(con, used).height
        _load_parquet(con, "related_clusters", [reference_dir(settings) / "related_clusters.parquet"])
        counts.update(_families(con, "eu", families.FAMILY_PARAMS))  # issue 12
    # the release records the parameters the EU table was built with (thresholds, reference)
    (eu_dir(settings) / "indicator_params.json").write_text(json.dumps(used, indent=1, sort_keys=True))
    return counts
