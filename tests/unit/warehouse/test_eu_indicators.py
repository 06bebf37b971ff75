"""sql/eu/cluster_indicators.sql on small hand-checked examples: LQs, the two named star systems,
the US strong rule, the European reference, extra-regio and overlapping NUTS versions."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.warehouse.eu import eu_indicators

REGIONS = ["AA01", "AA02", "AA03", "AA04", "AA05", "BB01", "BB02", "BB03", "BB04", "BB05"]
OTHER = 40.0  # SBS employment of a region outside every cluster (BB04: none)


def region_rows(year: int, f: float, regions=REGIONS) -> list[dict]:
    """Cluster 1 grows 10..100 over the regions, cluster 2 is 100 everywhere except BB05 (10),
    local cluster 101 is 50 everywhere. Wage 40,000 EUR, except cluster 1 in BB05 (50,000)."""
    rows = []
    for i, r in enumerate(regions, start=1):
        clusters = (("1", 10.0 * i, True), ("2", 10.0 if r == "BB05" else 100.0, True), ("101", 50.0, False))
        total = sum(e for _, e, _ in clusters) + (0.0 if r == "BB04" else OTHER)
        for cl, emp, traded in clusters:
            wage = 50.0 if (r, cl) == ("BB05", "1") else 40.0
            rows.append({
                "year": year, "region_type": "nuts2", "region_code": r, "nuts_version": "2021",
                "cluster_code": cl, "traded": traded, "emp": emp * f, "emp_reported": emp * f,
                "est": emp * f / 10, "payroll": emp * f * wage, "emp_payroll": emp * f,
                "region_total_emp": total * f, "extra_regio": False,
                "n_industries": 2, "n_missing": 0,
            })
    return rows


def with_countries(rows: list[dict]) -> pl.DataFrame:
    df = pl.DataFrame(rows)
    nuts2 = df.filter(pl.col("region_type") == "nuts2", ~pl.col("extra_regio"))
    sums = ["emp", "emp_reported", "est", "payroll", "emp_payroll", "n_industries", "n_missing"]
    nat = nuts2.with_columns(pl.col("region_code").str.slice(0, 2)).group_by("year", "region_code", "cluster_code", "traded").agg(
        *[pl.col(c).sum() for c in sums]
    )
    tot = (
        nuts2.select("year", "region_code", "region_total_emp").unique()
        .group_by("year", pl.col("region_code").str.slice(0, 2)).agg(pl.col("region_total_emp").sum())
    )
    nat = nat.join(tot, on=["year", "region_code"]).with_columns(
        pl.lit("nuts0").alias("region_type"), pl.lit("2021").alias("nuts_version"), pl.lit(False).alias("extra_regio")
    )
    return pl.concat([df, nat.select(df.columns)])


def totals() -> pl.DataFrame:
    return with_countries(region_rows(2015, 1.0) + region_rows(2017, 1.21))


def run(params=None, frame: pl.DataFrame | None = None) -> pl.DataFrame:
    con = duckdb.connect()
    con.register("_t", (totals() if frame is None else frame).to_arrow())
    con.execute("CREATE TABLE eu_cluster_totals AS SELECT * FROM _t")
    return eu_indicators(con, params)


def pick(df, region, cluster, year=2015):
    return df.filter(pl.col("region_code") == region, pl.col("cluster_code") == cluster, pl.col("year") == year).row(0, named=True)


# Europe 2015 (AA + BB): cluster 1 = 550, cluster 2 = 910, traded 1460, local 500,
# total employment 1460 + 500 + 9 × 40 = 2320.
EUROPE_TOTAL = 2320.0


def test_lq_and_shares_by_hand():
    df = run()
    r = pick(df, "BB05", "1")
    assert r["emp"] == 100.0
    assert r["region_emp_share"] == pytest.approx(100 / 110)
    assert r["cluster_emp_share"] == pytest.approx(100 / 550)
    assert r["lq"] == pytest.approx((100 / 110) / (550 / 1460))  # US-style: traded base
    assert r["lq_total"] == pytest.approx((100 / 200) / (550 / EUROPE_TOTAL))  # on total employment
    assert r["total_emp_share"] == pytest.approx(100 / 200)
    assert r["europe_total_emp"] == EUROPE_TOTAL
    assert r["wage"] == pytest.approx(50_000.0)  # EUR thousand × 1000 / persons
    assert r["relative_wage"] == pytest.approx(50_000 / ((450 * 40 + 100 * 50) * 1000 / 550))
    local = pick(df, "AA01", "101")
    assert local["lq"] == pytest.approx(1.0)  # local against local: 50/50 over 500/500
    assert local["cluster_type"] == "local"
    assert local["eco2011_stars"] is None and local["panorama_stars"] is None and local["strong"] is None


def test_eco2011_stars_hand_checked():
    df = run()
    nuts2 = df.filter(pl.col("region_type") == "nuts2", pl.col("year") == 2015, pl.col("cluster_code") == "1")
    stars = dict(zip(nuts2["region_code"], nuts2["eco2011_stars"], strict=True))
    # BB05: largest (top 10 % of 10 regions = 1), LQ on total employment 2.11 >= 2, highest
    # share of the region's total employment (0.5)
    assert stars["BB05"] == 3
    b = pick(df, "BB05", "1")
    assert b["eco2011_size"] and b["eco2011_specialisation"] and b["eco2011_focus"]
    # BB04: second largest (90), LQ_total = (90/240)/(550/2320) = 1.58: no star
    assert stars["BB04"] == 0
    assert sum(nuts2["eco2011_size"]) == 1 and sum(nuts2["eco2011_focus"]) == 1
    # countries are ranked among countries only (2 of them: top 10 % -> none)
    nat = df.filter(pl.col("region_type") == "nuts0", pl.col("year") == 2015)
    assert not any(nat["eco2011_size"])


def test_specialisation_threshold_is_two_on_total_employment():
    """LQs between 1.5 and 2 get no specialisation star; ≥ 2 does; the LQ is the one on total
    regional employment, not the traded-base LQ."""
    df = run().filter(pl.col("cluster_type") == "traded", pl.col("ranked"))
    between = df.filter(pl.col("lq_total").is_between(1.5, 2.0, closed="left"))
    assert between.height > 0 and not any(between["eco2011_specialisation"])
    assert not any(between["panorama_specialisation"])
    assert (df["eco2011_specialisation"] == (df["lq_total"] >= 2.0)).all()
    # BB04 cluster 1: traded-base LQ >= 1.5 but total-employment LQ 1.58 < 2
    b4 = pick(run(), "BB04", "1")
    assert b4["lq_total"] == pytest.approx((90 / 240) / (550 / EUROPE_TOTAL))
    assert 1.5 <= b4["lq_total"] < 2 and not b4["eco2011_specialisation"]
    lower = pick(run({"eco2011_lq": 1.5}), "BB04", "1")
    assert lower["eco2011_specialisation"] and not lower["panorama_specialisation"]


def test_panorama_stars_hand_checked():
    df = run()
    b = pick(df, "BB05", "1")
    # wage 50,000 vs the cluster's European 41,818: ratio 1.196 >= 1.10
    assert b["panorama_size"] and b["panorama_specialisation"] and b["panorama_productivity"]
    assert b["panorama_stars"] == 3
    a = pick(df, "AA05", "1")  # European wage level × 0.957: no productivity star
    assert a["relative_wage"] == pytest.approx(40_000 / (23_000_000 / 550))
    assert not a["panorama_productivity"]
    assert not pick(run({"panorama_productivity_ratio": 1.25}), "BB05", "1")["panorama_productivity"]


def test_us_strong_rule_on_eu_rows():
    df = run().filter(pl.col("region_type") == "nuts2", pl.col("year") == 2015, pl.col("cluster_type") == "traded")
    for cl, g in df.partition_by("cluster_code", as_dict=True).items():
        lq, emp, est = (g[c].to_numpy() for c in ("lq", "emp", "est"))
        exp = (lq >= np.quantile(lq, 0.75)) & (emp > np.quantile(emp, 0.25)) & (est > np.quantile(est, 0.25)) & (lq >= 1.0)
        assert g["strong"].to_list() == exp.tolist(), cl
    assert df["strong"].any()


def test_growth():
    df = run()
    r = pick(df, "AA05", "1", 2017)
    assert r["base_year"] == 2015 and r["growth_basis"] == "ok"
    assert r["cagr"] == pytest.approx(0.10)
    assert r["job_creation"] == pytest.approx(50 * 0.21)
    assert pick(df, "AA05", "1")["job_creation"] is None


def test_growth_only_from_sound_bases():
    """Issue 19: no CAGR from a base under min_growth_base persons or a wholly imputed one (a
    confidential cell filled from the parent region); such rows keep their levels."""
    df = run()
    small = pick(df, "AA03", "1")  # 30 persons in 2015, 36.3 in 2017
    assert small["growth_basis"] == "small_base" and small["emp"] == 30.0
    later = pick(df, "AA03", "1", 2017)
    assert later["base_year"] is None and later["cagr"] is None and later["job_creation"] is None
    # the threshold is a parameter
    assert pick(run({"min_growth_base": 20}), "AA03", "1", 2017)["cagr"] == pytest.approx(0.10)
    # a filled confidential base (no reported employment behind it): no growth from it, and the
    # base year becomes the first sound year
    t = totals()
    t = pl.concat([
        t.with_columns(
            pl.when((pl.col("region_code") == "AA05") & (pl.col("cluster_code") == "1") & (pl.col("year") == 2015))
            .then(None).otherwise(pl.col("emp_reported")).alias("emp_reported")
        ),
        with_countries(region_rows(2019, 1.331)).filter(pl.col("region_type") == "nuts2"),
    ])
    df = run(frame=t)
    assert pick(df, "AA05", "1")["growth_basis"] == "imputed_base"
    assert pick(df, "AA05", "1", 2017)["cagr"] is None
    r = pick(df, "AA05", "1", 2019)
    assert r["base_year"] == 2017 and r["cagr"] == pytest.approx(1.1**0.5 - 1)


def test_scope_changes_reference_and_stars():
    df = run({"scope": ["AA"]})
    r = pick(df, "AA05", "1")
    # Europe = AA only: cluster 1 = 150, cluster 2 = 500
    assert r["lq"] == pytest.approx((50 / 150) / (150 / 650))
    assert r["in_scope"] and r["reference_countries"] == ["AA"]
    bb = pick(df, "BB05", "1")
    assert not bb["in_scope"] and bb["eco2011_stars"] is None and bb["eco2011_size"] is None
    assert bb["rank_exclusion"] == "outside the reference countries"
    assert bb["lq"] is not None  # still measured against the AA reference
    # AA05 is the largest of five in-scope regions: cume_dist 0.2 > 0.1 -> no size star
    assert not r["eco2011_size"]


def test_one_reference_per_year_and_fixed_option():
    """A country reporting only in 2017 enters that year's reference (base and every cluster
    total alike); with fixed_reference it is left out of every year, and not ranked."""
    extra = with_countries(region_rows(2015, 1.0) + region_rows(2017, 1.21) + region_rows(2017, 1.0, ["CC01"]))
    df = run(frame=extra)
    y17 = pick(df, "AA01", "1", 2017)
    assert y17["reference_countries"] == ["AA", "BB", "CC"] and pick(df, "AA01", "1")["reference_countries"] == ["AA", "BB"]
    nat = df.filter(pl.col("region_type") == "nuts0", pl.col("year") == 2017, pl.col("cluster_code") == "1")
    assert y17["europe_cluster_emp"] == pytest.approx(nat["emp"].sum())
    base = df.filter(pl.col("region_type") == "nuts0", pl.col("year") == 2017, pl.col("cluster_type") == "traded")
    assert y17["europe_base_emp"] == pytest.approx(base["emp"].sum())
    fixed = run({"fixed_reference": True}, frame=extra)
    f17 = pick(fixed, "AA01", "1", 2017)
    assert f17["reference_countries"] == ["AA", "BB"] and f17["reference_n_countries"] == 2
    assert f17["europe_cluster_emp"] == pytest.approx(550 * 1.21)
    cc = pick(fixed, "CC01", "1", 2017)
    assert cc["rank_exclusion"] == "outside the reference countries" and cc["eco2011_stars"] is None
    assert pick(df, "CC01", "1", 2017)["ranked"]


def test_extra_regio_gets_no_rank_and_no_stars():
    rows = totals().to_dicts()
    big = {**rows[0], "region_code": "AAZZ", "cluster_code": "1", "emp": 5000.0, "extra_regio": True, "region_total_emp": 5000.0}
    df = run(frame=pl.DataFrame([*rows, big]))
    z = pick(df, "AAZZ", "1")
    assert z["rank_exclusion"] == "extra-regio" and not z["ranked"] and z["extra_regio"]
    assert z["eco2011_stars"] is None and z["panorama_stars"] is None and z["strong"] is None
    assert z["emp"] == 5000.0  # the reported value stays
    assert pick(df, "BB05", "1")["eco2011_size"]  # the largest real region keeps its size star


def test_overlapping_nuts_versions_are_never_ranked_together():
    rows = totals().to_dicts()
    # AA09: an older-version code covering AA01+AA02's territory again, the same year
    old = [{**r, "region_code": "AA09", "nuts_version": "2013", "emp": r["emp"] * 30}
           for r in rows if r["region_code"] == "AA01" and r["year"] == 2015]
    df = run(frame=pl.DataFrame([*rows, *old]))
    a9 = pick(df, "AA09", "1")
    assert a9["rank_exclusion"] == "overlapping NUTS version" and a9["eco2011_stars"] is None
    assert pick(df, "BB05", "1")["eco2011_size"]  # AA09 (300) does not push BB05 (100) out
    # with a parent row whose employment equals its children's, old and new codes do not
    # overlap (a partition of the territory across versions): both are ranked
    parent = [{**r, "region_type": "nuts1", "region_code": "AA0", "region_total_emp": 1e9} for r in old]
    df2 = run(frame=pl.DataFrame([*rows, *old, *parent]))
    assert pick(df2, "AA09", "1")["ranked"]


def test_null_emp_gets_no_lq_or_stars():
    t = totals().with_columns(
        pl.when((pl.col("region_code") == "AA01") & (pl.col("cluster_code") == "1")).then(None).otherwise(pl.col("emp")).alias("emp")
    )
    r = pick(run(frame=t), "AA01", "1")
    assert r["emp"] is None and r["lq"] is None and r["eco2011_stars"] is None
    assert r["rank_exclusion"] == "no employment"


def test_unknown_parameter_rejected():
    with pytest.raises(KeyError):
        run({"nope": 1})


def test_focus_is_on_total_regional_employment():
    """BB05 with a large SBS economy outside the clusters: its cluster-1 share of TOTAL employment
    falls to 0.05 (still 0.91 of its traded employment); the focus star moves to BB04 (0.375)."""
    t = totals().with_columns(
        pl.when(pl.col("region_code") == "BB05").then(pl.col("region_total_emp") * 10).otherwise(pl.col("region_total_emp")).alias("region_total_emp")
    )
    df = run(frame=t)
    assert pick(df, "BB04", "1")["eco2011_focus"] and not pick(df, "BB05", "1")["eco2011_focus"]
    assert pick(df, "BB05", "1")["eco2011_size"]


def test_suite_blocks_stars_for_extra_regio():
    """The eu_indicators expectation suite passes the SQL's output and fails a release whose
    extra-regio rows carry stars (error level, so nothing is published)."""
    from pipelines.validation.engines import validate_frame
    from pipelines.validation.report import outcomes_markdown

    rows = totals().to_dicts()
    small = {**rows[0], "region_code": "AAZZ", "cluster_code": "1", "emp": 5.0, "extra_regio": True, "region_total_emp": 5.0}
    df = run(frame=pl.DataFrame([*rows, small]))
    params = {"nuts_codes": set(df["region_code"]), "cluster_codes": {"1", "2", "101"}}
    ok = validate_frame("eu_indicators", df, params=params)
    assert ok.success, outcomes_markdown(ok.outcomes)
    bad = df.with_columns(
        pl.when(pl.col("extra_regio")).then(3).otherwise(pl.col("eco2011_stars")).alias("eco2011_stars"),
        pl.when(pl.col("extra_regio")).then(1).otherwise(pl.col("panorama_stars")).alias("panorama_stars"),
    )
    res = validate_frame("eu_indicators", bad, params=params)
    assert res.failed_ids("error") == {"extra_regio_no_stars", "extra_regio_no_panorama_stars"}


def test_no_growth_to_or_from_a_cluster_total_missing_cells():
    """Issue 19: a cluster total that sums only part of its NACE cells (a cell without a value)
    has partial coverage: no growth rate starts or ends there."""
    t = totals().with_columns(
        pl.when((pl.col("region_code") == "AA05") & (pl.col("cluster_code") == "1") & (pl.col("year") == 2017))
        .then(1).otherwise(pl.col("n_missing")).alias("n_missing")
    )
    r = pick(run(frame=t), "AA05", "1", 2017)
    assert r["coverage"] == pytest.approx(0.5) and r["growth_basis"] == "partial_coverage"
    assert r["cagr"] is None and r["job_creation"] is None and r["emp"] == pytest.approx(60.5)
