"""sql/eu_cluster_indicators.sql on a small hand-checked example (LQ, shares, stars, growth)."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines.eu_clusters import eu_indicators

REGIONS = ["AA01", "AA02", "AA03", "AA04", "AA05", "BB01", "BB02", "BB03", "BB04", "BB05"]


def totals() -> pl.DataFrame:
    """Ten NUTS 2 regions: cluster 1 grows 10..100 over the regions, cluster 2 is 100 everywhere
    except BB05 (10), local cluster 101 is 50 everywhere. 2017 = 2015 × 1.21."""
    recs = []
    for i, r in enumerate(REGIONS, start=1):
        for cl, emp, traded in (("1", 10.0 * i, True), ("2", 10.0 if r == "BB05" else 100.0, True), ("101", 50.0, False)):
            recs.append((r, "nuts2", cl, traded, emp))
    for country in ("AA", "BB"):
        for cl, traded in (("1", True), ("2", True), ("101", False)):
            emp = sum(e for (r, _, c, _, e) in recs if r.startswith(country) and c == cl)
            recs.append((country, "nuts0", cl, traded, emp))
    rows = []
    for year, f in ((2015, 1.0), (2017, 1.21)):
        for r, rt, cl, traded, emp in recs:
            rows.append({
                "year": year, "region_type": rt, "region_code": r, "nuts_version": "2021",
                "cluster_code": cl, "traded": traded, "emp": emp * f, "emp_reported": emp * f,
                "est": 1.0, "payroll": emp * f * 40.0, "emp_payroll": emp * f,
            })
    return pl.DataFrame(rows)


def run(params=None) -> pl.DataFrame:
    con = duckdb.connect()
    con.register("_t", totals().to_arrow())
    con.execute("CREATE TABLE eu_cluster_totals AS SELECT * FROM _t")
    return eu_indicators(con, params)


def pick(df, region, cluster, year=2015):
    return df.filter(pl.col("region_code") == region, pl.col("cluster_code") == cluster, pl.col("year") == year).row(0, named=True)


def test_lq_and_shares_by_hand():
    df = run()
    r = pick(df, "BB05", "1")
    # Europe (AA + BB): cluster 1 = 550, cluster 2 = 910, traded total 1460
    assert r["emp"] == 100.0
    assert r["region_emp_share"] == pytest.approx(100 / 110)
    assert r["cluster_emp_share"] == pytest.approx(100 / 550)
    assert r["lq"] == pytest.approx((100 / 110) / (550 / 1460))
    assert r["wage"] == pytest.approx(40_000.0)  # EUR thousand × 1000 / persons
    local = pick(df, "AA01", "101")
    assert local["lq"] == pytest.approx(1.0)  # local against local: 50/50 over 500/500
    assert local["cluster_type"] == "local"


def test_stars_hand_checked():
    df = run()
    nuts2 = df.filter(pl.col("region_type") == "nuts2", pl.col("year") == 2015, pl.col("cluster_code") == "1")
    stars = dict(zip(nuts2["region_code"], nuts2["stars"], strict=True))
    # BB05: largest (top 10 % of 10 regions = 1), LQ 2.41 >= 2, highest share of traded emp
    assert stars["BB05"] == 3
    b = pick(df, "BB05", "1")
    assert b["star_size"] and b["star_specialisation"] and b["star_focus"]
    # BB04: second largest (90), LQ = (90/190)/(550/1460) = 1.26: no star
    assert stars["BB04"] == 0
    assert sum(nuts2["star_size"]) == 1 and sum(nuts2["star_focus"]) == 1
    # countries are ranked among countries only (2 of them: top 10 % -> none)
    nat = df.filter(pl.col("region_type") == "nuts0", pl.col("year") == 2015)
    assert not any(nat["star_size"])


def test_growth():
    df = run()
    r = pick(df, "AA03", "1", 2017)
    assert r["base_year"] == 2015
    assert r["cagr"] == pytest.approx(0.10)
    assert r["job_creation"] == pytest.approx(30 * 0.21)
    assert pick(df, "AA03", "1")["job_creation"] is None


def test_scope_changes_reference_and_stars():
    df = run({"scope": ["AA"]})
    r = pick(df, "AA05", "1")
    # Europe = AA only: cluster 1 = 150, cluster 2 = 500
    assert r["lq"] == pytest.approx((50 / 150) / (150 / 650))
    assert r["in_scope"]
    bb = pick(df, "BB05", "1")
    assert not bb["in_scope"] and bb["stars"] is None and bb["star_size"] is None
    assert bb["lq"] is not None  # still measured against the AA reference
    # AA05 is the largest of five in-scope regions: cume_dist 0.2 > 0.1 -> no size star
    assert not r["star_size"]


def test_null_emp_gets_no_lq_or_stars():
    t = totals().with_columns(
        pl.when((pl.col("region_code") == "AA01") & (pl.col("cluster_code") == "1")).then(None).otherwise(pl.col("emp")).alias("emp")
    )
    con = duckdb.connect()
    con.register("_t", t.to_arrow())
    con.execute("CREATE TABLE eu_cluster_totals AS SELECT * FROM _t")
    r = pick(eu_indicators(con), "AA01", "1")
    assert r["emp"] is None and r["lq"] is None and r["stars"] is None


def test_unknown_parameter_rejected():
    with pytest.raises(KeyError):
        run({"nope": 1})
