"""sql/eu/cluster_indicators.sql, issue 19: a custom region (a group of NUTS 2 regions) is ranked
among the NUTS 2 regions (strong, size and focus stars from their distribution, theirs untouched);
country rows get the strong flag among the reference countries. Issue 20: the Panorama
productivity star at its threshold (relative wage 1.10 by default), just above and just below."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tests.helpers.eu_totals import REGIONS, WAGE, frame, run


def pick(df: pl.DataFrame, region: str, cluster: str = "1") -> dict:
    return df.filter(pl.col("region_code") == region, pl.col("cluster_code") == cluster).row(0, named=True)


def test_group_is_ranked_among_nuts2_and_can_be_strong() -> None:
    df = run(frame())
    g = pick(df, "GRP")
    n2 = df.filter(pl.col("region_type") == "nuts2", pl.col("cluster_code") == "1")
    assert g["ranked_among"] == "nuts2" and g["ranked"]
    lq, emp, est = (n2[c].to_numpy() for c in ("lq", "emp", "est"))
    assert g["lq"] >= np.quantile(lq, 0.75) and g["emp"] > np.quantile(emp, 0.25) and g["est"] > np.quantile(est, 0.25)
    assert g["strong"] is True
    # size star among the 12 regions: 750 jobs, more than any: (1 + 0) / 13 ≤ 10 %
    assert g["eco2011_size"] is True and g["panorama_size"] is True
    assert pick(df, "GRP", "2")["strong"] is False  # LQ below 1
    assert set(n2["ranked_among"]) == {"nuts2"}


def test_peers_keep_their_flags_and_stars() -> None:
    cols = ["region_code", "cluster_code", "strong", "eco2011_stars", "panorama_stars", "eco2011_size", "eco2011_focus"]
    alone = run(frame(group=None)).filter(pl.col("region_type") != "custom").select(cols).sort("region_code", "cluster_code")
    with_group = run(frame()).filter(pl.col("region_type") != "custom").select(cols).sort("region_code", "cluster_code")
    assert alone.equals(with_group)
    assert pick(with_group, "AA01")["eco2011_size"]  # the group (750) does not push AA01 (400) out


def test_group_of_unknown_base_type_is_not_ranked() -> None:
    g = pick(run(frame(base_type=None)), "GRP")
    assert g["ranked_among"] is None and not g["ranked"]
    assert g["rank_exclusion"] == "custom region of unknown base type"
    assert g["strong"] is None and g["eco2011_stars"] is None
    assert g["lq"] is not None


def test_countries_get_the_strong_flag_among_countries() -> None:
    df = run(frame(group=None))
    nat = df.filter(pl.col("region_type") == "nuts0", pl.col("cluster_type") == "traded")
    assert nat["strong"].null_count() == 0
    assert set(nat["ranked_among"]) == {"nuts0"}
    for cl, g in nat.partition_by("cluster_code", as_dict=True).items():
        lq, emp, est = (g[c].to_numpy() for c in ("lq", "emp", "est"))
        exp = (lq >= np.quantile(lq, 0.75)) & (emp > np.quantile(emp, 0.25)) & (est > np.quantile(est, 0.25)) & (lq >= 1.0)
        assert g["strong"].to_list() == exp.tolist(), cl
    # by hand: of four countries, the one above the 75th-percentile LQ in each cluster
    strong = nat.filter(pl.col("strong")).select("region_code", "cluster_code").sort("cluster_code").rows()
    assert strong == [("AA", "1"), ("DD", "2")]
    assert pick(df, "AA", "101")["strong"] is None  # local clusters: no flag


def _payroll_for_ratio(region: str, cluster: str, ratio: float) -> float:
    """Payroll of region × cluster so its wage is `ratio` × the cluster's European wage, which
    includes the region itself: p = r·e·P_o / (E_o + e·(1 − r))."""
    idx = ("1", "2").index(cluster)
    e = REGIONS[region][idx]
    e_other = sum(v[idx] for k, v in REGIONS.items() if k != region)
    return ratio * e * e_other * WAGE / (e_other + e * (1 - ratio))


def test_panorama_productivity_star_at_the_default_threshold() -> None:
    """Relative wage 1.101 gets the star, 1.099 does not (default ratio 1.10): a ratio of 1.00 or
    1.20 would flip one of them."""
    payroll = {("CC02", "1"): _payroll_for_ratio("CC02", "1", 1.101), ("DD03", "2"): _payroll_for_ratio("DD03", "2", 1.099)}
    df = run(frame(payroll, group=None))
    above, below = pick(df, "CC02", "1"), pick(df, "DD03", "2")
    assert above["relative_wage"] == pytest.approx(1.101) and below["relative_wage"] == pytest.approx(1.099)
    assert above["panorama_productivity"] is True
    assert below["panorama_productivity"] is False
    # every other region is at the European wage: no star at 1.10
    rest = df.filter(pl.col("cluster_type") == "traded", pl.col("ranked"), pl.col("relative_wage") < 1.0999)
    assert rest.height > 0 and not rest["panorama_productivity"].any()


def test_group_is_placed_among_ranked_peers_only() -> None:
    """An unranked region (extra-regio, 5,000 jobs) does not push the group out of the top 10 %;
    a ranked peer tied with it counts as at or above it (cume_dist), so 2 of 14 > 10 %."""
    base = frame()
    aa01 = base.filter(pl.col("region_code") == "AA01")
    big = aa01.with_columns(pl.lit("AAZZ").alias("region_code"), pl.lit(True).alias("extra_regio"),
                            pl.when(pl.col("cluster_code") == "1").then(5000.0).otherwise(pl.col("emp")).alias("emp"))
    g = pick(run(pl.concat([base, big])), "GRP")
    assert g["eco2011_size"] is True
    tie = aa01.with_columns(pl.lit("AA04").alias("region_code"),
                            pl.when(pl.col("cluster_code") == "1").then(750.0).otherwise(pl.col("emp")).alias("emp"))
    tied = run(pl.concat([base, big, tie]))
    assert pick(tied, "AA04")["ranked"] and not pick(tied, "GRP")["eco2011_size"]
