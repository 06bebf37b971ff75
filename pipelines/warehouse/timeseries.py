"""The constant-definition series (issue 19): every year's 6-digit industry rows mapped to ONE
cluster definition — the 2012-based benchmark definitions — so that a region × cluster series
means one thing from its first year to its last. cluster_indicators keeps the native view (each
year on the definitions of its own NAICS vintage, comparable with clustermapping.us).

US: the 2012 definitions are carried to the NAICS 2002, 2007, 2017 and 2022 codes through the NAICS
year concordance (pipelines.sources.naics.derive_definitions gives the clusters of each code). A
NAICS 2002 or 2007 code whose 2012 counterparts sit in several clusters is apportioned by the
EMPLOYMENT that went to its successor codes (2002 → 2007, 2007 → 2012, chained): weight per
cluster = the code's estimated flow into its successors in that cluster / its flow into all of
them. The flows fit both ends of the vintage change, the old codes' national employment in the
last year of their vintage and the successors' in the first year of theirs
(sql/us/successor_employment.sql, pipelines/warehouse/successor_flows.py), so a successor merged
from several old codes is shared among them, never counted in full for each. An equal split would
send half of 326199 Plastics (~421k jobs) to Water Transportation because one successor is 336612
Boat Building; counting Boat Building in full for Plastics still sent 11.5 %; the flows send 0.3 %.
Where the run has no such year, or the successors have no employment, the split is equal;
``method`` says which, per code, in the published table constant_definition_splits. 2017/2022 codes
keep the equal split of the native definitions (cluster_naics), so the series equals the native
view in those years. NAICS 1997 data (CBP 1998–2002) cannot be bridged (the concordance
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
from pipelines.warehouse.successor_flows import successor_flows

SCHEMA = "constant_definition"
SERIES_TABLE = "cluster_timeseries"
BASE_VINTAGE = "2012"
SPLITS_TABLE = "constant_definition_splits"
# vintages before the base → the vintage of their successor codes, nearest to the base first
SUCCESSOR = {"2007": "2012", "2002": "2007"}
SUCCESSOR_EMP_SCHEMA = {"naics_vintage": pl.String, "naics": pl.String, "year": pl.Int32, "emp": pl.Float64}
SPLITS_SCHEMA = {
    "naics_vintage": pl.String, "naics": pl.String, "cluster_code": pl.String, "weight": pl.Float64,
    "derived_from": pl.String, "method": pl.String, "successor_year": pl.Int32,
}  # fmt: skip
DEFINITION_COLUMNS = ["naics_vintage", "naics", "cluster_code", "weight", "derived_from", "method", "successor_year"]
# definition_effect before any series is built (supplied cluster totals): no effect known
DEFINITION_EFFECT_COLUMNS = (
    "year INTEGER, cluster_code VARCHAR, reference_type VARCHAR, naics_vintage VARCHAR, "
    "native_emp DOUBLE, constant_emp DOUBLE, definition_effect DOUBLE"
)


def constant_definitions(
    cluster_naics: pl.DataFrame, concordance: pl.DataFrame, successor_emp: pl.DataFrame | None = None
) -> pl.DataFrame:
    """cluster_naics-shaped rows (+ method, successor_year): the 2012 definitions as they are, and
    every other vintage of the concordance carried to them; NAICS 2002/2007 split codes apportioned
    by the employment that flowed to their successors (``successor_emp``: naics_vintage, naics,
    year, emp — national, first and last year of each vintage; none → equal), 2017/2022 ones
    equally as in the native definitions."""
    base = cluster_naics.filter(pl.col("naics_vintage") == BASE_VINTAGE).with_columns(
        method=pl.lit("single"), successor_year=pl.lit(None, pl.Int32)
    )
    emp = successor_emp if successor_emp is not None else pl.DataFrame(schema=SUCCESSOR_EMP_SCHEMA)
    defs = {BASE_VINTAGE: base.select(DEFINITION_COLUMNS)}
    for target in naics.VINTAGES:
        if target == BASE_VINTAGE or target in SUCCESSOR:
            continue  # SUCCESSOR: below, nearest to the base first (2002 codes chain through 2007's weights)
        derived = naics.derive_definitions(cluster_naics, concordance, target, base=BASE_VINTAGE)[0]
        defs[target] = derived.with_columns(
            method=pl.when(pl.col("weight") < 1).then(pl.lit("equal")).otherwise(pl.lit("single")),
            successor_year=pl.lit(None, pl.Int32),
        ).select(DEFINITION_COLUMNS)
    for target, successor in SUCCESSOR.items():
        derived = naics.derive_definitions(cluster_naics, concordance, target, base=BASE_VINTAGE)[0]
        defs[target] = apportion_by_successors(derived, concordance, defs[successor], emp, target, successor)
    return pl.concat([defs[v] for v in naics.VINTAGES if v in defs])


def apportion_by_successors(
    derived: pl.DataFrame,
    concordance: pl.DataFrame,
    successor_defs: pl.DataFrame,
    successor_emp: pl.DataFrame,
    target: str,
    successor: str,
) -> pl.DataFrame:
    """Weights of the `target` codes of ``derived`` (equal splits) replaced by the employment that
    flowed to their `successor` codes, per cluster (pipelines/warehouse/successor_flows.py: a
    successor merged from several old codes is shared among them, never counted in full for each;
    a successor itself split counts with its own weights); a code whose successors have no
    employment keeps the equal split, and one whose employed successors are themselves split
    equally inherits that split: both say method 'equal'."""
    new_emp, year = _vintage_end(successor_emp, successor, last=False)
    old_emp, _ = _vintage_end(successor_emp, target, last=True)
    links = concordance.select(
        pl.col(f"naics_{target}").alias("naics"), pl.col(f"naics_{successor}").alias("successor")
    ).unique()
    flows = successor_flows(links, new_emp, old_emp)
    # an old code whose fitted flows are all zero (zero jobs in its last year) rests on the
    # column step alone: its successors' employment shared equally among their predecessors
    fitted = pl.col("flow").sum().over("naics") > 0
    per_cluster = (
        flows.with_columns(basis=pl.when(fitted).then(pl.col("flow")).otherwise(pl.col("equal_share")))
        .join(
            successor_defs.select(
                pl.col("naics").alias("successor"), "cluster_code", pl.col("weight").alias("w"),
                (pl.col("method") == "equal").alias("via_equal"),
            ),
            on="successor",
        )
        .sort("naics", "cluster_code", "successor")  # one order of summing: identical rebuilds
        .group_by("naics", "cluster_code")
        .agg(
            (pl.col("basis") * pl.col("w")).sum().alias("num"),
            pl.lit(year, pl.Int32).alias("successor_year"),
            (pl.col("via_equal") & (pl.col("basis") > 0)).any().alias("via_equal"),
        )
    )
    n = pl.len().over("naics")
    total = pl.col("num").sum().over("naics")
    by_emp = (n > 1) & (total > 0)
    # a weight that inherits a successor's own equal split rests on that split: said so (equal)
    via_equal = pl.col("via_equal").fill_null(False).any().over("naics")
    return (
        derived.join(per_cluster, on=["naics", "cluster_code"], how="left")
        .with_columns(pl.col("num").fill_null(0.0))
        .with_columns(
            weight=pl.when(by_emp).then(pl.col("num") / total).otherwise(pl.col("weight")),
            method=pl.when(n == 1).then(pl.lit("single")).when(by_emp & ~via_equal).then(pl.lit("employment")).otherwise(pl.lit("equal")),
            successor_year=pl.when(by_emp & ~via_equal).then(pl.col("successor_year").max().over("naics")).cast(pl.Int32),
        )
        .select(DEFINITION_COLUMNS)
        .sort("naics", "cluster_code")
    )


def _vintage_end(successor_emp: pl.DataFrame, vintage: str, *, last: bool) -> tuple[pl.DataFrame, int | None]:
    """(naics, emp) of one vintage in its first (or last) year in ``successor_emp``, and that year
    (none: no rows); the first year's codes are named ``successor``."""
    rows = successor_emp.filter(pl.col("naics_vintage") == vintage)
    year = None if rows.height == 0 else int(rows["year"].max() if last else rows["year"].min())
    rows = rows.filter(pl.col("year") == pl.lit(year, pl.Int32)).select("naics", "emp")
    return (rows if last else rows.rename({"naics": "successor"})), year


def splits_report(defs: pl.DataFrame) -> pl.DataFrame:
    """The rows of the constant definitions that split a code over clusters (published as
    constant_definition_splits), with the method of each."""
    return defs.filter(pl.col("method") != "single").sort("naics_vintage", "naics", "cluster_code")


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
        register_frame(con, SPLITS_TABLE, pl.DataFrame(schema=SPLITS_SCHEMA))
        return {}
    defs = constant_definitions(
        fetch_frame(con, "SELECT * FROM cluster_naics"),
        fetch_frame(con, "SELECT * FROM naics_concordance"),
        runner.fetch(con, "us/successor_employment", params),
    )
    register_frame(con, SPLITS_TABLE, splits_report(defs))
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


def splits_rows(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation | None:
    """The constant-definition splits a release publishes; None when the warehouse was built
    without industry rows (supplied cluster totals: no series, no splits)."""
    return con.table(SPLITS_TABLE) if SPLITS_TABLE in _tables(con) else None
