"""The DuckDB warehouse: staged Parquet in, indicator tables out, then the release."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from pipelines.config import Settings
from pipelines.fingerprints import code_fingerprint
from pipelines.layout import custom_dir, eu_dir, reference_dir
from pipelines.staging import census_api
from pipelines.staging.cbp import staged_cbp_paths
from pipelines.staging.custom_regions import stage_us_custom
from pipelines.staging.eu import EU_TABLES
from pipelines.staging.reference import REFERENCE_TABLES
from pipelines.warehouse import families, timeseries
from pipelines.warehouse.eu import EU_DEFAULT_PARAMS, EU_SQL, eu_indicators
from pipelines.warehouse.indicators import build_cluster_tables

US_RELEASE_TABLES = (
    "industry_employment", "cluster_indicators", "region_indicators", "unmapped_industries",
    *REFERENCE_TABLES,
)  # fmt: skip
log = logging.getLogger(__name__)
EU_RELEASE_TABLES = (
    "eu_industry_employment", "eu_cluster_indicators", "nace_cluster_concordance", "nace_concordance_report",
    "nuts_crosswalk", "nuts_regions",
)  # fmt: skip


class WarehouseMemoryError(MemoryError):
    """DuckDB ran out of memory under the configured cap: names the setting that raises it."""


@contextmanager
def connect(settings: Settings, read_only: bool = False):
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.duckdb_path), read_only=read_only)
    configure(con, settings)
    try:
        yield con
    except duckdb.OutOfMemoryException as exc:
        said = str(exc).splitlines()[0]
        # from None: the CLI prints the innermost cause, which would be DuckDB's advice (SET memory_limit)
        raise WarehouseMemoryError(
            f"DuckDB ran out of memory under OBSERVATORY_DUCKDB_MEMORY_LIMIT={settings.duckdb_memory_limit}: "
            f"raise it (e.g. 8GB) if the machine has the memory, or build fewer years at a time ({said})"
        ) from None
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
    """Load staged CBP + reference into DuckDB and run the indicator SQL; returns row counts.
    Skipped (counts read back) when its inputs, parameters and code are those of the last build."""
    custom = stage_us_custom(settings)
    staged = staged_cbp_paths(settings)
    api = census_api.staged_paths(settings)
    custom_path = custom_dir(settings) / "custom_regions.parquet"
    inputs = [*staged, *api, custom_path, *(reference_dir(settings) / f"{n}.parquet" for n in REFERENCE_TABLES)]

    def build(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        counts = build_indicators(
            con,
            staged,
            reference_dir(settings),
            # the families' parameters are for the families (below); any other name must be an indicator's
            {k: v for k, v in (params or {}).items() if k not in families.FAMILY_PARAMS},
            api_rows=api,
            custom_regions=custom_path,
        )
        counts["custom_regions"] = int(con.execute("SELECT count(*) FROM custom_regions").fetchall()[0][0])
        counts.update(_families(con, "us", params))  # issue 12: pipelines/warehouse/families.py
        return counts

    with connect(settings) as con:
        counts = _build_once(con, "us", build_fingerprint(settings, inputs, params), build)
    counts["us_region_groups"] = custom["us_groups"]
    return counts


BUILDS_TABLE = "observatory_builds"  # per side: the fingerprint and row counts of the last build


def build_fingerprint(settings: Settings, inputs: list[Path], params: Mapping[str, Any] | None) -> str:
    """What a side's tables are built from: the bytes of every input file (staged CBP/EU Parquet,
    reference tables, custom regions, API pulls), the parameters, every setting and the code."""
    h = hashlib.sha256(code_fingerprint().encode())
    h.update(json.dumps({k: str(v) for k, v in dataclasses.asdict(settings).items()}, sort_keys=True).encode())
    h.update(json.dumps(dict(params or {}), sort_keys=True, default=str).encode())
    for p in inputs:
        h.update(str(p).encode())
        if p.is_file():
            with p.open("rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
        else:
            h.update(b"missing")
    return h.hexdigest()


def _build_once(
    con: duckdb.DuckDBPyConnection, side: str, fingerprint: str, build: Callable[[duckdb.DuckDBPyConnection], dict[str, int]]
) -> dict[str, int]:
    """Run `build` unless the last build of `side` had this fingerprint and its tables are still
    as it left them (row-hash digest, so a table edited or dropped since is rebuilt): indicators
    and families are computed once per changed input, not per call."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {BUILDS_TABLE} (side VARCHAR PRIMARY KEY, fingerprint VARCHAR, counts VARCHAR, digest VARCHAR)"
    )
    row = con.execute(f"SELECT fingerprint, counts, digest FROM {BUILDS_TABLE} WHERE side = $s", {"s": side}).fetchall()
    if row and row[0][0] == fingerprint:
        counts = json.loads(row[0][1])
        if _tables_digest(con, counts) == row[0][2]:
            log.info("%s indicators and families: inputs, parameters and code unchanged, tables kept", side.upper())
            return counts
    con.execute(f"DELETE FROM {BUILDS_TABLE} WHERE side = $s", {"s": side})  # a failed build leaves none
    counts = build(con)
    con.execute(
        f"INSERT INTO {BUILDS_TABLE} VALUES ($s, $f, $c, $d)",
        {"s": side, "f": fingerprint, "c": json.dumps(counts), "d": _tables_digest(con, counts)},
    )
    return counts


def _tables_digest(con: duckdb.DuckDBPyConnection, names: Mapping[str, Any]) -> str:
    """Row count and order-independent sum of row hashes of each built table of main (views read
    the staged files, which the fingerprint covers). A count key that names no table of main (a
    working schema's table, a tally) is hashed as absent: a table dropped since changes the digest,
    while such keys never make every digest alike (they once did, as None, so edits went unseen)."""
    kinds = dict(con.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall())
    h = hashlib.sha256()
    for n in sorted(names):
        if kinds.get(n) == "BASE TABLE":
            n_rows, total = con.execute(f'SELECT count(*), sum(hash(t)) FROM "{n}" AS t').fetchall()[0]
            h.update(f"{n}:{n_rows}:{total}\n".encode())
        else:
            h.update(f"{n}:{kinds.get(n, 'absent')}\n".encode())
    return h.hexdigest()


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
    """Load the staged EU tables into DuckDB and run sql/eu/cluster_indicators.sql (skipped when
    its inputs, parameters and code are those of the last build)."""
    used = {**EU_DEFAULT_PARAMS, "fixed_reference": settings.eu_fixed_reference, **(params or {})}
    inputs = [*(eu_dir(settings) / f"{n}.parquet" for n in EU_TABLES), reference_dir(settings) / "related_clusters.parquet"]

    def build(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        counts = {}
        for name in EU_TABLES:
            _load_parquet(con, name, [eu_dir(settings) / f"{name}.parquet"])
            counts[name] = int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
        counts["eu_cluster_indicators"] = eu_indicators(con, used).height
        # issue 19: the EU rows of the constant-definition series (one NACE mapping throughout)
        counts["eu_cluster_timeseries"] = timeseries.replace_side(con, "eu", EU_SQL, "eu/cluster_timeseries")
        _load_parquet(con, "related_clusters", [reference_dir(settings) / "related_clusters.parquet"])
        counts.update(_families(con, "eu", families.FAMILY_PARAMS))  # issue 12
        return counts

    with connect(settings) as con:
        counts = _build_once(con, "eu", build_fingerprint(settings, inputs, {**used, **families.FAMILY_PARAMS}), build)
    # the release records the parameters the EU table was built with (thresholds, reference)
    (eu_dir(settings) / "indicator_params.json").write_text(json.dumps(used, indent=1, sort_keys=True))
    return counts
