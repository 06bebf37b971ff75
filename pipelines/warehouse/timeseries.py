"""The constant-definition series (issue 19): every year's 6-digit industry rows mapped to ONE
cluster definition — the 2012-based benchmark definitions — so that a region × cluster series
means one thing from its first year to its last. cluster_indicators keeps the native view (each
year on the definitions of its own NAICS vintage, comparable with clustermapping.us).

US: the 2012 definitions are carried to the NAICS 2002, 2007, 2017 and 2022 codes through the NAICS
year concordance with the apportioning the 2017/2022 derivations use
(pipelines.sources.naics.derive_definitions: a code whose 2012 counterparts sit in several clusters
is split with equal weights). NAICS 1997 data (CBP 1998–2002) cannot be bridged (the concordance
has no 1997 column): those years are left out of the series, never guessed. The same SQL rules as
the native table (sql/us/cluster_totals.sql, custom_cluster_totals.sql, cluster_indicators.sql)
run on the constant definitions in DuckDB schema ``constant_definition`` (searched before
``main``), so nothing of the rules is copied.

EU: NACE Rev.2 throughout on one NACE → cluster mapping: the series is the EU indicator rows.

Both sides land in one table, ``cluster_timeseries`` (column ``side``), which the indicator
families read (pipelines/warehouse/families.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb
import polars as pl

from pipelines.sources import naics
from pipelines.warehouse.sql import SqlRunner, fetch_frame, register_frame, row_count

SCHEMA = "constant_definition"
SERIES_TABLE = "cluster_timeseries"
BASE_VINTAGE = "2012"
# definition_effect before any series is built (supplied cluster totals): no effect known
DEFINITION_EFFECT_COLUMNS = (
    "year INTEGER, cluster_code VARCHAR, reference_type VARCHAR, naics_vintage VARCHAR, "
    "native_emp DOUBLE, constant_emp DOUBLE, definition_effect DOUBLE"
)


def constant_definitions(cluster_naics: pl.DataFrame, concordance: pl.DataFrame) -> pl.DataFrame:
    """cluster_naics-shaped rows: the 2012 definitions as they are, and for every other vintage of
    the concordance its codes carried to them (weights, derived_from as derive_definitions gives)."""
    base = cluster_naics.filter(pl.col("naics_vintage") == BASE_VINTAGE)
    derived = [
        naics.derive_definitions(cluster_naics, concordance, target, base=BASE_VINTAGE)[0]
        for target in naics.VINTAGES
        if target != BASE_VINTAGE
    ]
    cols = ["naics_vintage", "naics", "cluster_code", "weight", "derived_from"]
    return pl.concat([base.select(cols), *[d.select(cols) for d in derived]])


def _tables(con: duckdb.DuckDBPyConnection, schema: str = "main") -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $s", {"s": schema}
    ).fetchall()
    return {r[0] for r in rows}


def _in_schema(con: duckdb.DuckDBPyConnection, run) -> Any:
    """Run `run()` with the constant_definition schema searched (and created in) before main."""
    con.execute(f"SET search_path = '{SCHEMA},main'")
    try:
        return run()
    finally:
        con.execute("RESET search_path")


def build_constant_totals(
    con: duckdb.DuckDBPyConnection, runner: SqlRunner, params: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """constant_definition.cluster_totals (+ custom regions) and main.definition_effect, from the
    warehouse's cluster_naics, naics_concordance and native cluster_totals; without the
    concordance (hand-made inputs) an empty definition_effect (no effect known)."""
    con.execute(f"CREATE TABLE IF NOT EXISTS definition_effect ({DEFINITION_EFFECT_COLUMNS})")
    # a working schema left by an interrupted build must never feed this one
    con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    if "naics_concordance" not in _tables(con):
        return {}
    defs = constant_definitions(
        fetch_frame(con, "SELECT * FROM cluster_naics"), fetch_frame(con, "SELECT * FROM naics_concordance")
    )
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")

    def run() -> int:
        register_frame(con, "cluster_naics", defs)
        runner.create_table(con, "cluster_totals", "us/cluster_totals", params)
        if "custom_regions" in _tables(con):
            runner.insert_into(con, "cluster_totals", "us/custom_cluster_totals", params)
        return row_count(con, "cluster_totals")

    counts = {"constant_cluster_totals": _in_schema(con, run)}
    counts["definition_effect"] = runner.create_table(con, "definition_effect", "us/definition_effect", params)
    return counts


def build_us_series(
    con: duckdb.DuckDBPyConnection, runner: SqlRunner, params: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """The US rows of cluster_timeseries: sql/us/cluster_indicators.sql on the constant totals,
    then sql/us/cluster_timeseries.sql; the working schema is dropped afterwards."""
    if "cluster_totals" not in _tables(con, SCHEMA):
        # no series could be built (no concordance): never leave an older build's US rows behind
        if SERIES_TABLE in _tables(con):
            con.execute(f"DELETE FROM {SERIES_TABLE} WHERE side = 'us'")
        return {}
    _in_schema(con, lambda: runner.create_table(con, "cluster_indicators", "us/cluster_indicators", params))
    n = replace_side(con, "us", runner, "us/cluster_timeseries", params)
    con.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    return {SERIES_TABLE: n}


def replace_side(
    con: duckdb.DuckDBPyConnection,
    side: str,
    runner: SqlRunner,
    sql_name: str,
    params: Mapping[str, Any] | None = None,
) -> int:
    """Replace one side's rows of cluster_timeseries by the rows of sql/<sql_name>.sql (the US and
    EU indicators are built by separate assets, in either order)."""
    if SERIES_TABLE not in _tables(con):
        runner.create_table(con, SERIES_TABLE, sql_name, params)
    else:
        con.execute(f"DELETE FROM {SERIES_TABLE} WHERE side = $side", {"side": side})
        runner.insert_into(con, SERIES_TABLE, sql_name, params)
    return int(
        con.execute(f"SELECT count(*) FROM {SERIES_TABLE} WHERE side = $side", {"side": side}).fetchall()[0][0]
    )


def release_rows(con: duckdb.DuckDBPyConnection, *sides: str | None) -> duckdb.DuckDBPyRelation:
    """The rows of cluster_timeseries a release publishes: those of its sides (a US-only release
    never carries EU rows a previous run left in the warehouse); missing rows are an error."""
    wanted = [s for s in sides if s is not None]
    if SERIES_TABLE not in _tables(con):
        raise ValueError(f"{SERIES_TABLE} is not in the warehouse; rebuild the indicators (observatory refresh --sources publish)")
    have = {r[0] for r in con.execute(f"SELECT DISTINCT side FROM {SERIES_TABLE}").fetchall()}
    missing = [s for s in wanted if s not in have]
    if missing:
        raise ValueError(f"{SERIES_TABLE} has no rows for {missing}; rebuild the indicators")
    return con.table(SERIES_TABLE).filter(f"side IN ({', '.join(repr(s) for s in wanted)})")
