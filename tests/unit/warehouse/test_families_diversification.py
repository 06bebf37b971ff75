"""Diversification family (sql/families/diversification.sql): hand-computed case and the entropy identity."""

from __future__ import annotations

import math

import duckdb
import polars as pl
import pytest

from pipelines.warehouse.families import STEP_INTERMEDIATES, build_families
from pipelines.warehouse.sql import fetch_frame
from tests.helpers.families_data import connection, indicator_rows

# 2005 is a NAICS 2002-definition year (sql/common/macros.sql).
INDUSTRY = [  # region, naics, emp
    ("A", "111111", 50),
    ("A", "222222", 50),
    ("A", "333333", 100),
    ("B", "111111", 300),
    ("B", "333333", 60),
    ("B", "444444", 40),
]
DEFINITIONS = [
    ("111111", "1", 1.0),
    ("222222", "1", 1.0),
    ("333333", "2", 1.0),
    ("444444", "1", 0.5),
    ("444444", "2", 0.5),
]


def _inputs() -> duckdb.DuckDBPyConnection:
    # cluster totals consistent with the industry rows: A 100 / 100, B 320 / 80
    emp = {("A", "1"): [100.0], ("A", "2"): [100.0], ("B", "1"): [320.0], ("B", "2"): [80.0]}
    custom = indicator_rows(
        {("AB", "1"): [420.0], ("AB", "2"): [180.0]}, [2005], region_type="custom", traded={"1"}
    )
    con = connection(
        "cluster_indicators", pl.concat([indicator_rows(emp, [2005], traded={"1"}), custom])
    )
    con.executemany(
        "INSERT INTO industry_employment VALUES (2005, 'state', ?, 'NAICS2002', ?, 6, '-', ?)",
        INDUSTRY,
    )
    con.executemany("INSERT INTO cluster_naics VALUES ('2002', ?, ?, ?)", DEFINITIONS)
    con.execute("INSERT INTO custom_regions VALUES ('AB', 'state', ['A', 'B'])")
    return con


def _diversification(con: duckdb.DuckDBPyConnection | None = None):
    con = con or _inputs()
    build_families(con, "us")
    df = fetch_frame(con, "SELECT * FROM diversification ORDER BY region_type, region_code")
    return {r["region_code"]: r for r in df.to_dicts()}


def test_variety_and_specialisation_by_hand():
    a = _diversification()["A"]
    # pieces 50, 50 (cluster 1) and 100 (cluster 2) of 200: p = .25, .25, .5
    assert a["total_entropy"] == pytest.approx(1.5)
    assert a["unrelated_variety"] == pytest.approx(1.0)
    assert a["related_variety"] == pytest.approx(0.5)
    assert a["n_industries"] == 3 and a["n_clusters"] == 2
    assert a["herfindahl"] == pytest.approx(0.5)
    # reference shares (A + B): cluster 1 420/600, cluster 2 180/600
    assert a["krugman_index"] == pytest.approx(abs(0.5 - 0.7) + abs(0.5 - 0.3))


def test_split_code_counts_once_per_cluster_and_identity_holds():
    got = _diversification()
    b = got["B"]
    # pieces 300, 20 (444444 → 1) in cluster 1; 60, 20 (444444 → 2) in cluster 2; of 400
    p = [300 / 400, 20 / 400, 60 / 400, 20 / 400]
    assert b["n_industries"] == 4
    assert b["total_entropy"] == pytest.approx(-sum(x * math.log2(x) for x in p))
    assert b["unrelated_variety"] == pytest.approx(-(0.8 * math.log2(0.8) + 0.2 * math.log2(0.2)))
    for r in got.values():
        assert r["related_variety"] + r["unrelated_variety"] == pytest.approx(
            r["total_entropy"], abs=1e-12
        )
    # the custom region sums its members' pieces: 350, 50, 20 | 160, 20 of 600
    ab = got["AB"]
    p = [350 / 600, 50 / 600, 20 / 600, 160 / 600, 20 / 600]
    assert ab["total_entropy"] == pytest.approx(-sum(x * math.log2(x) for x in p))


def test_stale_intermediates_never_feed_a_build_and_none_is_left():
    """The industry pieces are a TEMP table built just before diversification and dropped after it
    (memory under the DuckDB cap): a table of that name left on the connection (an earlier side,
    a failed build) is rebuilt, never read, and no step intermediate outlives the build."""
    con = _inputs()
    con.execute(
        "CREATE TEMP TABLE family_industry AS SELECT 2005 AS year, 'state' AS region_type, "
        "'A' AS region_code, '999999' AS industry_code, '1' AS cluster_code, 1e6 AS emp"
    )
    stale = _diversification(con)
    assert stale == _diversification()
    assert stale["A"]["n_industries"] == 3
    temps = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary UNION SELECT view_name FROM duckdb_views() WHERE temporary"
    ).fetchall()}
    assert temps.isdisjoint(t for ts in STEP_INTERMEDIATES.values() for t in ts)
    assert {"family_panel", "family_scope"} <= temps
