"""Indicator families beyond the anchors (issue 12): shift-share, emerging clusters and their
backtest, diversification, cluster-to-cluster links. One SQL file per family in sql/, run by
DuckDB on a common panel (sql/families/panel.sql) built from the published indicator table of
one side: US (cluster_indicators, with custom regions) or EU (eu_cluster_indicators, with custom
regions). The same rules run on both; EU tables carry the prefix ``eu_``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Literal

import duckdb
import polars as pl

from pipelines.staging.eu_sbs import select_mapping_rows
from pipelines.warehouse.emerging_score import EMERGING_PARAMS, prepare_emerging
from pipelines.warehouse.indicators import DEFAULT_PARAMS
from pipelines.warehouse.sql import (
    SqlRunner,
    create_macros,
    fetch_frame,
    load_sql,
    register_frame,
    row_count,
)

Side = Literal["us", "eu"]
log = logging.getLogger(__name__)

# Named SQL parameters of the families, with their defaults; every release records the values.
FAMILY_PARAMS: dict[str, Any] = {
    # shift-share (sql/families/shift_share.sql)
    "ss_window_years": 5,
    # emerging clusters, their score and backtest (sql/families/emerging*.sql; defaults and
    # meaning in pipelines/warehouse/emerging_score.py)
    **EMERGING_PARAMS,
    # co-location relatedness and density (sql/families/cluster_relatedness.sql, sql/families/relatedness_density.sql)
    "rel_min_lq": 1.0,
}

# The family statements (sql/families/): the indicator rules' parameters and the families' own.
FAMILY_SQL = SqlRunner({**DEFAULT_PARAMS, **FAMILY_PARAMS}, "indicator family")

# Stable columns of the source tables the families read (see sql/families/panel.sql).
SOURCE_COLUMNS = (
    "year",
    "region_type",
    "region_code",
    "cluster_code",
    "cluster_type",
    "emp",
    "lq",
    "strong",
    "est",
    "definition_vintage",
    "emp_reported",
    "coverage",
    "growth_basis",
    "ranked",
    "extra_regio",
    "definition_effect",
)
# Columns a source may lack: strong (EU before the US rule was applied, supplied totals),
# definition_vintage (EU rows are NACE Rev.2 throughout; supplied totals may not say), and the
# growth-basis inputs (issue 19): without them the panel computes what it can and says nothing
# it does not know (NULL coverage is not partial; without emp_reported nothing counts as imputed).
OPTIONAL_COLUMNS = {
    "strong": "BOOLEAN",
    "definition_vintage": "VARCHAR",
    "emp_reported": "DOUBLE",
    "coverage": "DOUBLE",
    "growth_basis": "VARCHAR",
    "ranked": "BOOLEAN",
    "extra_regio": "BOOLEAN",
    "definition_effect": "DOUBLE",
}
# The constant-definition series (issue 19): both sides in one table, column `side`; the
# families read it by default. Its column for the panel's definition_vintage is naics_vintage.
SERIES_TABLE = "cluster_timeseries"
SERIES_ALIASES = {"definition_vintage": "naics_vintage"}
# The native indicator tables, read when the warehouse has no series (supplied or hand-made tables).
SOURCE_TABLES: dict[Side, str] = {"us": "cluster_indicators", "eu": "eu_cluster_indicators"}
PREFIX: dict[Side, str] = {"us": "", "eu": "eu_"}
# family table (US name) → its SQL file in sql/, in build order (the emerging score reads the
# relatedness density of the flag year)
FAMILY_TABLES: dict[str, str] = {
    "shift_share": "families/shift_share",
    "cluster_relatedness": "families/cluster_relatedness",
    "relatedness_density": "families/relatedness_density",
    "emerging_clusters": "families/emerging",
    "emerging_backtest": "families/emerging_backtest",
    "diversification": "families/diversification",
    "cluster_links": "families/cluster_links",
    "relatedness_agreement": "families/relatedness_agreement",
}


def family_table_names(side: Side) -> list[str]:
    """Published names of the family tables of one side (e.g. shift_share, eu_shift_share)."""
    return [PREFIX[side] + t for t in FAMILY_TABLES]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    cols = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $t", {"t": table}
    ).fetchall()
    return {c[0] for c in cols}


def build_panel(
    con: duckdb.DuckDBPyConnection, side: Side, params: Mapping[str, Any] | None = None
) -> int:
    """TEMP table family_panel from the constant-definition series (the side's rows of
    cluster_timeseries) when the warehouse has them, else from the side's indicator table
    (hand-made or supplied tables; the panel's column `series` says which)."""
    present_tables = _tables(con)
    if side not in SOURCE_TABLES:
        raise ValueError(f"indicator families: unknown side {side!r}")
    has_series = SERIES_TABLE in present_tables and bool(
        con.execute(f"SELECT count(*) FROM {SERIES_TABLE} WHERE side = $s", {"s": side}).fetchall()[0][0]
    )
    if has_series:
        source, aliases, where, series = SERIES_TABLE, SERIES_ALIASES, f"WHERE side = '{side}'", "constant"
    elif SOURCE_TABLES[side] in present_tables:
        source, aliases, where, series = SOURCE_TABLES[side], {}, "", "native"
    else:
        raise ValueError(
            f"indicator families ({side}): neither {SERIES_TABLE} nor {SOURCE_TABLES[side]} is in the warehouse"
        )
    present = _columns(con, source)

    def column(c: str) -> str | None:
        name = aliases.get(c, c)
        if name in present:
            return name if name == c else f"{name} AS {c}"
        if c in OPTIONAL_COLUMNS:
            return f"CAST(NULL AS {OPTIONAL_COLUMNS[c]}) AS {c}"
        return None

    missing = [c for c in SOURCE_COLUMNS if column(c) is None]
    if missing:
        raise ValueError(f"indicator families ({side}): {source} lacks columns {missing}")
    select = ", ".join([*(column(c) for c in SOURCE_COLUMNS), f"'{series}' AS series"])
    create_macros(con)
    # side is checked above and `series` is ours: no user value is formatted into the view
    con.execute(f"CREATE OR REPLACE TEMP VIEW family_source AS SELECT {select} FROM {source} {where}")
    return FAMILY_SQL.create_table(
        con, "family_panel", "families/panel", params, temp=True,
        computed={
            "side": side,
            "has_strong": "strong" in present,
            "has_reported": aliases.get("emp_reported", "emp_reported") in present,
        },
    )


def build_scope(con: duckdb.DuckDBPyConnection, side: Side) -> None:
    """TEMP view family_scope (the columns of family_panel): the panel rows a family may publish or
    count (issue 19): with data (emp known) and not excluded from the rankings in the side's
    indicator table (EU rank_exclusion: extra-regio codes, overlapping
    NUTS versions, outside the reference, no employment). The families that read other inputs
    (industry pieces) or compute over all regions (φ, density) keep to it, whatever the panel holds."""
    source = SOURCE_TABLES[side]
    cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $t", {"t": source}
    ).fetchall()}
    if "rank_exclusion" in cols:  # the table name is ours (SOURCE_TABLES), not a user value
        excluded = f"SELECT year, region_type, region_code, cluster_code FROM {source} WHERE rank_exclusion IS NOT NULL"
    else:
        excluded = "SELECT NULL::INTEGER AS year, NULL::VARCHAR AS region_type, NULL::VARCHAR AS region_code, NULL::VARCHAR AS cluster_code WHERE false"
    con.execute(f"CREATE OR REPLACE TEMP VIEW family_excluded AS {excluded}")
    # no parameters (a view cannot hold bound values): DuckDB refuses a $name here
    con.execute(f"CREATE OR REPLACE TEMP VIEW family_scope AS {load_sql('families/scope')}")


def _check_industry_inputs(con: duckdb.DuckDBPyConnection, side: Side) -> None:
    need = {
        "us": ["industry_employment", "cluster_naics", "custom_regions"],
        "eu": ["eu_industry_employment", "nace_cluster_concordance"],
    }[side]
    missing = [t for t in need if t not in _tables(con)]
    if missing:
        raise ValueError(f"indicator families ({side}): diversification needs tables {missing}")


def build_industry_pieces(con: duckdb.DuckDBPyConnection, side: Side) -> int:
    """TEMP table family_industry (year, region_type, region_code, industry_code, cluster_code,
    emp): the industry pieces behind the cluster totals, for the diversification family.
    US: sql/families/industry_us.sql; EU: the NACE rows the EU cluster totals are apportioned from
    (pipelines.staging.eu_sbs.select_mapping_rows) × the NACE → cluster weights."""
    _check_industry_inputs(con, side)
    if side == "us":
        FAMILY_SQL.create_table(con, "family_industry", "families/industry_us", temp=True)
    else:
        ind = fetch_frame(
            con,
            "SELECT year, region_type, region_code, nuts_version, source_id, classification, industry_code, "
            "industry_level, emp FROM eu_industry_employment WHERE classification = 'NACE_R2' AND industry_level IN (2, 3)",
        )
        conc = fetch_frame(
            con,
            "SELECT nace_code AS industry_code, cluster_code, weight FROM nace_cluster_concordance",
        )
        pieces = (
            select_mapping_rows(ind.lazy())
            .join(conc.lazy(), on="industry_code", how="inner")
            .select(
                pl.col("year").cast(pl.Int32),
                "region_type",
                "region_code",
                "industry_code",
                "cluster_code",
                (pl.col("emp").cast(pl.Float64) * pl.col("weight")).alias("emp"),
            )
            .collect()
        )
        register_frame(con, "family_industry_src", pieces)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE family_industry AS SELECT * FROM family_industry_src"
        )
        con.execute("DROP TABLE family_industry_src")
    return row_count(con, "family_industry")


def build_families(
    con: duckdb.DuckDBPyConnection, side: Side, params: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Create every family table of one side in `con`; returns their row counts."""
    if "related_clusters" not in _tables(con):
        raise ValueError(
            f"indicator families ({side}): the reference table related_clusters is not in the warehouse"
        )
    _check_industry_inputs(con, side)  # before any table is built: a missing input is no half build
    build_panel(con, side, params)
    build_scope(con, side)
    counts: dict[str, int] = {}
    try:
        for table, sql_name in FAMILY_TABLES.items():
            started = time.perf_counter()
            name = PREFIX[side] + table
            # each TEMP intermediate lives only while the families that read it are built: TEMP
            # tables hold memory under the DuckDB cap (25 county years: ~1 GB of industry pieces)
            if table == "emerging_clusters":
                prepare_emerging(con, FAMILY_SQL, params)  # features and walk-forward score weights
            if table == "diversification":
                build_industry_pieces(con, side)
            counts[name] = FAMILY_SQL.create_table(con, name, sql_name, params)
            _drop_temp(con, *STEP_INTERMEDIATES.get(table, ()))
            log.info("family %s: %s rows (%.1fs)", name, f"{counts[name]:,}", time.perf_counter() - started)
            # later families read earlier ones under a side-independent name (family_<table>)
            con.execute(f"CREATE OR REPLACE TEMP VIEW family_{table} AS SELECT * FROM {name}")
    finally:
        _drop_temp(con, *(t for ts in STEP_INTERMEDIATES.values() for t in ts))
    return counts


# TEMP intermediates (families.py, emerging_score.py) dropped once the family that reads them is built
STEP_INTERMEDIATES: dict[str, tuple[str, ...]] = {
    "emerging_clusters": ("family_emerging_features", "family_emerging_weights"),
    "diversification": ("family_industry",),
}


def _drop_temp(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for t in tables:  # names from STEP_INTERMEDIATES, not user values
        con.execute(f"DROP TABLE IF EXISTS temp.{t}")


def release_tables(con: duckdb.DuckDBPyConnection, *sides: Side | None) -> list[str]:
    """Family tables of the given sides to publish; an indicator table without its family
    tables (a warehouse built before issue 12) is an error, not a silently thinner release."""
    present = _tables(con)
    names: list[str] = []
    for side in sides:
        if side is None:
            continue
        wanted = family_table_names(side)
        missing = [n for n in wanted if n not in present]
        if missing:
            raise ValueError(
                f"indicator families ({side}): tables {missing} are not in the warehouse; "
                "rebuild the indicators (observatory refresh --sources publish)"
            )
        names += wanted
    return names
