"""Indicator SQL on a hand-checked example: LQ bases, shares, wage, CAGR, job creation, strong."""

from __future__ import annotations

import math

import duckdb
import polars as pl
import pytest

from pipelines.warehouse.indicators import (
    INDICATOR_SQL,
    build_cluster_tables,
    indicators_from_totals,
)
from pipelines.warehouse.sql import fetch_frame, register_frame

CLUSTERS = pl.DataFrame({"cluster_code": ["1", "2", "101"], "traded": [True, True, False]})


def _totals(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"year": pl.Int32, "region_type": pl.String, "region_code": pl.String, "cluster_code": pl.String,
                "emp": pl.Float64, "emp_reported": pl.Float64, "est": pl.Float64, "payroll": pl.Float64},
        orient="row",
    )


def test_lq_shares_wage_by_hand() -> None:
    t = _totals([
        (2010, "state", "A", "1", 100, 80, 10, 4000, ), (2010, "state", "A", "2", 100, 100, 5, 3000),
        (2010, "state", "A", "101", 200, 200, 20, 5000),
        (2010, "state", "B", "1", 50, 50, 2, 1000), (2010, "state", "B", "2", 250, 250, 9, 9000),
        (2010, "state", "B", "101", 300, 300, 30, 6000),
    ])
    ci = indicators_from_totals(t, CLUSTERS)["cluster_indicators"]
    a1 = ci.filter((pl.col("region_code") == "A") & (pl.col("cluster_code") == "1")).row(0, named=True)
    # National (sum of regions): cluster 1 = 150, traded total = 500. Region A traded = 200.
    assert a1["lq"] == pytest.approx((100 / 200) / (150 / 500))
    assert a1["region_emp_share"] == pytest.approx(0.5)
    assert a1["cluster_emp_share"] == pytest.approx(100 / 150)
    assert a1["wage"] == pytest.approx(4000 * 1000 / 80)  # suppressed cells out of the denominator
    a_local = ci.filter((pl.col("region_code") == "A") & (pl.col("cluster_code") == "101")).row(0, named=True)
    # Local clusters use LOCAL employment as the base: A local = 200 of 500 national local.
    assert a_local["lq"] == pytest.approx((200 / 200) / (500 / 500))
    assert a_local["strong"] is None
    ri = indicators_from_totals(t, CLUSTERS)["region_indicators"].filter(pl.col("region_code") == "A").row(0, named=True)
    assert ri["traded_emp"] == 200 and ri["local_emp"] == 200 and ri["traded_share"] == pytest.approx(0.5)


def test_cagr_and_job_creation_from_first_year() -> None:
    t = _totals([
        (2000, "state", "A", "1", 100, 100, 5, 100), (2002, "state", "A", "1", 121, 121, 5, 100),
        (2001, "state", "A", "1", 110, 110, 5, 100),
        (2000, "state", "A", "101", 10, 10, 1, 10), (2001, "state", "A", "101", 10, 10, 1, 10),
        (2002, "state", "A", "101", 10, 10, 1, 10),
    ])
    ci = indicators_from_totals(t, CLUSTERS)["cluster_indicators"].filter(pl.col("cluster_code") == "1").sort("year")
    assert ci["base_year"].to_list() == [2000, 2000, 2000]
    assert ci["job_creation"].to_list() == [None, 10.0, 21.0]
    assert ci["cagr"][0] is None
    assert ci["cagr"][2] == pytest.approx(0.10)
    assert math.isclose(ci["cagr"][1], 0.10)


def test_strong_percentiles_interpolate_linearly() -> None:
    # Five regions; cluster 1 LQs known; 75th percentile by linear interpolation (numpy default).
    rows = []
    emps = [10, 20, 30, 40, 50]
    for i, e in enumerate(emps):
        rows += [(2010, "county", f"R{i}", "1", e, e, 1 + i, 100), (2010, "county", f"R{i}", "2", 100, 100, 10, 100)]
    ci = indicators_from_totals(_totals(rows), CLUSTERS)["cluster_indicators"].filter(pl.col("cluster_code") == "1").sort("region_code")
    lq = ci["lq"].to_numpy()
    import numpy as np

    p75, e25, s25 = np.percentile(lq, 75), np.percentile(emps, 25), np.percentile([1, 2, 3, 4, 5], 25)
    expected = [(lq[i] >= p75) and (emps[i] > e25) and ((1 + i) > s25) and lq[i] >= 1 for i in range(5)]
    assert ci["strong"].to_list() == expected
    assert sum(expected) == 2


def test_cluster_totals_from_industry_rows_with_weights_and_zero_fill() -> None:
    ind = pl.DataFrame({
        "year": [2018, 2018, 2018, 2018],
        "region_type": ["state"] * 4,
        "region_code": ["01", "01", "02", "01"],
        "classification": ["NAICS2017"] * 4,
        "industry_code": ["336411", "999999", "336411", "TOTAL"],
        "industry_level": [6, 6, 6, 0],
        "lfo": ["-"] * 4,
        "emp": [100.0, 5.0, 60.0, 1000.0],
        "emp_reported": [None, 5, 60, 1000],
        "est": [3, 1, 2, 50],
        "payroll": [None, 10, 600, 5000],
        "qp1": [None, None, None, None],
        "emp_imputed": [True, False, False, False],
    }, schema_overrides={"emp_reported": pl.Int64, "payroll": pl.Int64, "qp1": pl.Int64, "industry_level": pl.Int8})
    cluster_naics = pl.DataFrame({
        "naics_vintage": ["2017", "2017"], "naics": ["336411", "336411"], "cluster_code": ["1", "2"], "weight": [0.75, 0.25],
    })
    with duckdb.connect() as con:
        register_frame(con, "industry_employment", ind)
        register_frame(con, "cluster_naics", cluster_naics)
        register_frame(con, "clusters", CLUSTERS)
        counts = build_cluster_tables(con)
        tot = fetch_frame(con, "SELECT * FROM cluster_totals ORDER BY region_code, cluster_code")
        unmapped = fetch_frame(con, "SELECT * FROM unmapped_industries")
    assert counts["cluster_totals"] == 4  # 2 regions × 2 clusters in the definitions
    r01 = tot.filter(pl.col("region_code") == "01")
    assert r01["emp"].to_list() == [75.0, 25.0]
    assert r01["emp_reported"].to_list() == [None, None]  # only a suppressed cell behind it
    assert r01["n_imputed"].to_list() == [1, 1]
    assert unmapped["naics"].to_list() == ["999999"] and unmapped["emp"].to_list() == [5.0]


def test_sql_params_are_named_and_complete() -> None:
    assert INDICATOR_SQL.bind("SELECT $min_lq -- $not_a_param\n") == {"min_lq": 1.0}
    with pytest.raises(KeyError):
        INDICATOR_SQL.bind("SELECT $nope")
