"""Issue 19: a user-defined (custom) US region is ranked among the regions of its members' type
(strong thresholds and ranks from the peers' distribution), never moves the peers' own ranks,
and is compared with the states' national sum even when county sums disagree (issue 20)."""

from __future__ import annotations

import polars as pl
import pytest

from tests.helpers.indicators_data import indicators

# cluster 1 employment of eight states: the group NE = S1 + S2 (the two most specialised small
# states); cluster 2 = 1,000 and local 101 = 500 everywhere
STATE_C1 = {"S1": 300.0, "S2": 260.0, "S3": 250.0, "S4": 100.0, "S5": 80.0, "S6": 60.0, "S7": 40.0, "S8": 20.0}


def _rows(region_type: str, emp1: dict[str, float], year: int = 2011) -> list[tuple]:
    out = []
    for code, e in emp1.items():
        for cl, emp in (("1", e), ("2", 1000.0), ("101", 500.0)):
            out.append((year, region_type, code, cl, emp, emp, emp / 10, emp * 40, "2007"))
    return out


def _custom(emp1: dict[str, float], members: list[str], code: str = "NE", year: int = 2011) -> list[tuple]:
    tot = {"1": sum(emp1[m] for m in members), "2": 1000.0 * len(members), "101": 500.0 * len(members)}
    return [(year, "custom", code, cl, e, e, e / 10, e * 40, "2007") for cl, e in tot.items()]


def run(rows: list[tuple], groups: dict[str, tuple[str, list[str]]] | None = None) -> pl.DataFrame:
    return indicators(rows, groups)


def pick(df: pl.DataFrame, region: str, cluster: str = "1") -> dict:
    return df.filter(pl.col("region_code") == region, pl.col("cluster_code") == cluster).row(0, named=True)


def test_custom_region_is_ranked_among_its_members_type_and_can_be_strong() -> None:
    df = run(_rows("state", STATE_C1) + _custom(STATE_C1, ["S1", "S2"]), {"NE": ("state", ["S1", "S2"])})
    ne = pick(df, "NE")
    states = df.filter(pl.col("region_type") == "state", pl.col("cluster_code") == "1")
    # the thresholds are the states' (8 values), not NE's own: LQ above the states' 75th
    # percentile, jobs and establishments above their 25th
    assert ne["ranked_among"] == "state"
    assert ne["lq"] >= states["lq"].quantile(0.75, interpolation="linear")
    assert ne["emp"] > states["emp"].quantile(0.25, interpolation="linear")
    assert ne["strong"] is True and ne["strong10"] is True
    # placed among the states: 560 jobs beat every state; LQ below S1's only
    assert ne["emp_rank"] == 1
    assert ne["lq_rank"] == 1 + int((states["lq"] > ne["lq"]).sum()) == 2
    assert pick(df, "NE", "2")["strong"] is False  # cluster 2: LQ below 1
    assert pick(df, "NE", "101")["strong"] is None and pick(df, "NE", "101")["ranked_among"] == "state"
    assert set(states["ranked_among"]) == {"state"}


def test_peers_keep_their_own_ranks_and_flags() -> None:
    alone = run(_rows("state", STATE_C1), {})
    with_group = run(_rows("state", STATE_C1) + _custom(STATE_C1, ["S1", "S2"]), {"NE": ("state", ["S1", "S2"])})
    cols = ["region_code", "cluster_code", "strong", "strong10", "emp_rank", "lq_rank", "ranked_among"]
    a = alone.select(cols).sort("region_code", "cluster_code")
    b = with_group.filter(pl.col("region_type") == "state").select(cols).sort("region_code", "cluster_code")
    assert a.equals(b)
    assert pick(b, "S1")["emp_rank"] == 1  # NE (560) ranks first too, without pushing S1 down


def test_county_group_is_ranked_among_counties() -> None:
    counties = {f"C{i}": float(e) for i, e in enumerate([5, 10, 15, 20, 25, 30, 35, 40, 45, 50], start=1)}
    rows = _rows("state", STATE_C1) + _rows("county", counties) + _custom(counties, ["C9", "C10"], "CG")
    df = run(rows, {"CG": ("county", ["C9", "C10"])})
    cg = pick(df, "CG")
    assert cg["ranked_among"] == "county"
    # 95 jobs: more than every county (rank 1), fewer than S1..S4 among the states
    assert cg["emp_rank"] == 1


def test_custom_region_of_unknown_base_type_is_not_ranked() -> None:
    df = run(_rows("state", STATE_C1) + _custom(STATE_C1, ["S1", "S2"]))
    ne = pick(df, "NE")
    assert ne["ranked_among"] is None and ne["strong"] is None
    assert ne["emp_rank"] is None and ne["lq_rank"] is None
    assert ne["lq"] is not None  # still measured against the nation


def test_custom_reference_is_the_states_sum_when_counties_disagree() -> None:
    """Issue 20: with states and counties in the same year whose sums differ (county files miss
    part of the employment), a custom region is compared with the states' sum."""
    counties = {"C1": 100.0, "C2": 50.0}  # cluster 1: counties sum to 150, states to 1,110
    rows = _rows("state", STATE_C1) + _rows("county", counties) + _custom(counties, ["C1", "C2"], "CG")
    df = run(rows, {"CG": ("county", ["C1", "C2"])})
    cg = pick(df, "CG")
    assert cg["national_cluster_emp"] == pytest.approx(sum(STATE_C1.values()))
    assert cg["national_base_emp"] == pytest.approx(sum(STATE_C1.values()) + 1000.0 * len(STATE_C1))
    state_share = sum(STATE_C1.values()) / (sum(STATE_C1.values()) + 8000.0)
    assert cg["lq"] == pytest.approx((150 / 2150) / state_share)
    # the counties themselves keep the counties' own sum
    assert pick(df, "C1")["national_cluster_emp"] == pytest.approx(150.0)
