"""Issue 19: the EU family tables hold no extra-regio code, no overlapping NUTS version, no region
or cell without data (diversification, links, density, φ); the blocking eu_families check names
any such row."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines.validation.engines import run_sql_check
from pipelines.validation.gate import EU_WAREHOUSE_SUITES
from pipelines.validation.suites import load_suite
from pipelines.warehouse.eu import eu_indicators
from pipelines.warehouse.families import build_families
from pipelines.warehouse.sql import fetch_frame
from tests.helpers.eu_totals import frame
from tests.helpers.families_data import connection, indicator_rows

ROW_TABLES = ("eu_cluster_links", "eu_relatedness_density")
BAD_REGIONS = {"AAZZ", "AA09", "CC09"}


def totals() -> pl.DataFrame:
    base = frame(years=(2014, 2015))
    aa01 = base.filter(pl.col("region_code") == "AA01")
    extra = aa01.with_columns(pl.lit("AAZZ").alias("region_code"), pl.lit(True).alias("extra_regio"))
    # an older-version code covering AA01's territory again the same years
    old = aa01.with_columns(pl.lit("AA09").alias("region_code"), pl.lit("2013").alias("nuts_version"))
    # a region without any data, and one cell without data (DD03, cluster 2)
    empty = aa01.with_columns(
        pl.lit("CC09").alias("region_code"),
        *[pl.lit(None, dtype=pl.Float64).alias(c) for c in ("emp", "emp_reported", "est", "payroll", "emp_payroll", "region_total_emp")],
    )
    out = pl.concat([base, extra, old, empty])
    hole = (pl.col("region_code") == "DD03") & (pl.col("cluster_code") == "2")
    return out.with_columns(*[pl.when(hole).then(None).otherwise(pl.col(c)).alias(c) for c in ("emp", "emp_reported")])


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = connection("eu_cluster_totals", totals())
    c.execute("INSERT INTO related_clusters VALUES ('1', '2', 0.5)")
    ind = eu_indicators(c)
    # the fixture means what it says: each bad row is excluded from the rankings for its reason
    why = dict(ind.filter(pl.col("cluster_code") == "1", pl.col("year") == 2015).select("region_code", "rank_exclusion").iter_rows())
    assert (why["AAZZ"], why["AA09"], why["CC09"]) == ("extra-regio", "overlapping NUTS version", "no employment")
    build_families(c, "eu")
    return c


def _frame(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    return fetch_frame(con, f"SELECT * FROM {table}")


def test_family_tables_hold_only_ranked_regions_with_data(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("eu_diversification", *ROW_TABLES):
        df = _frame(con, table)
        assert df.height > 0, table
        assert not set(df["region_code"]) & BAD_REGIONS, table
    for table in ROW_TABLES:
        df = _frame(con, table)
        assert df.filter(pl.col("region_code") == "DD03", pl.col("cluster_code") == "2").height == 0, table
        assert df["lq"].null_count() == 0, table
    # DD03 keeps its other cells; its density counts only the cells with data
    dens = _frame(con, "eu_relatedness_density")
    assert dens.filter(pl.col("region_code") == "DD03", pl.col("cluster_code") == "1").height == 2


def test_phi_counts_only_ranked_regions(con: duckdb.DuckDBPyConnection) -> None:
    phi = _frame(con, "eu_cluster_relatedness").filter(pl.col("region_type") == "nuts2")
    # 12 NUTS 2 regions ranked with data; DD03 has no cluster-2 cell, so the pair counts 11
    assert phi["n_regions"].max() == 11
    assert set(phi["n_regions"]) == {11}


def test_blocking_check_passes_clean_tables_and_names_bad_rows(con: duckdb.DuckDBPyConnection) -> None:
    assert EU_WAREHOUSE_SUITES["eu_families"] == "eu_cluster_indicators"
    spec = {e.id: e for e in load_suite("eu_families").expectations}["family_rows_ranked"]
    assert spec.severity == "error"
    assert run_sql_check(con, "eu_family_rows_ranked", table="eu_cluster_indicators") == (0, [])
    bad = con.cursor()
    bad.execute("CREATE TEMP TABLE eu_cluster_links AS SELECT * FROM main.eu_cluster_links")
    bad.execute(
        "INSERT INTO temp.eu_cluster_links BY NAME SELECT region_type, 'AAZZ' AS region_code, cluster_code, year "
        "FROM main.eu_cluster_links WHERE region_code = 'AA01'"
    )
    count, sample = run_sql_check(bad, "eu_family_rows_ranked", table="eu_cluster_indicators")
    assert count == 4  # 2 years × 2 traded clusters
    assert {(r["family_table"], r["region_code"], r["reason"]) for r in sample} == {("eu_cluster_links", "AAZZ", "extra-regio")}


def test_window_families_hold_no_bad_rows_and_the_check_names_one(con: duckdb.DuckDBPyConnection) -> None:
    """eu_shift_share and eu_emerging_clusters (on the common panel) hold no extra-regio,
    overlapping or empty region at either window end; the blocking check covers them too."""
    assert _frame(con, "eu_shift_share").height > 0  # (two years: too short for an emerging window)
    for table in ("eu_shift_share", "eu_emerging_clusters"):
        assert not set(_frame(con, table)["region_code"]) & BAD_REGIONS, table
    bad = con.cursor()
    bad.execute("CREATE TEMP TABLE eu_shift_share AS SELECT * FROM main.eu_shift_share")
    bad.execute(
        "INSERT INTO temp.eu_shift_share BY NAME SELECT * REPLACE ('AA09' AS region_code) "
        "FROM main.eu_shift_share WHERE region_code = 'AA01' AND cluster_code = '1' LIMIT 1"
    )
    count, sample = run_sql_check(bad, "eu_family_rows_ranked", table="eu_cluster_indicators")
    assert count == 2  # the window's start and end
    assert {(r["family_table"], r["region_code"], r["reason"]) for r in sample} == {
        ("eu_shift_share", "AA09", "overlapping NUTS version")
    }


def test_scope_drops_excluded_cells_the_panel_keeps_and_rows_without_a_cluster_code() -> None:
    """sql/families/scope.sql on a source whose panel keeps every row (no `ranked` column): a cell
    the indicator table excludes from its rankings (rank_exclusion) is in no scoped family table,
    nor is a row without a cluster code (the scope was once a join on the cells' keys, which no
    NULL key passes); the region's other cells stay."""
    emp = {(r, c): [100.0] for r in ("A", "B", "C") for c in ("1", "2")}
    rows = indicator_rows(emp, [2005]).with_columns(
        rank_exclusion=pl.when((pl.col("region_code") == "B") & (pl.col("cluster_code") == "1"))
        .then(pl.lit("no employment")).otherwise(pl.lit(None, dtype=pl.String))
    )
    no_code = rows.filter(pl.col("region_code") == "C", pl.col("cluster_code") == "1").with_columns(
        cluster_code=pl.lit(None, dtype=pl.String)
    )
    c = connection("cluster_indicators", pl.concat([rows, no_code]))
    build_families(c, "us")
    for table in ("cluster_links", "relatedness_density"):
        cells = set(_frame(c, table).select("region_code", "cluster_code").iter_rows())
        assert cells == {("A", "1"), ("A", "2"), ("B", "2"), ("C", "1"), ("C", "2")}, table
    n_clusters = dict(_frame(c, "diversification").select("region_code", "n_clusters").iter_rows())
    assert n_clusters == {"A": 2, "B": 1, "C": 2}
    assert _frame(c, "cluster_relatedness").filter(pl.col("cluster_code") == "1")["n_regions"].to_list() == [2]
