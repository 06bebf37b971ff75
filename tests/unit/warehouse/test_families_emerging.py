"""Emerging clusters (sql/families/emerging.sql) and the backtest (sql/families/emerging_backtest.sql): hand cases."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.warehouse.families import FAMILY_SQL, build_families
from pipelines.warehouse.sql import fetch_frame, load_sql, register_frame
from tests.helpers.families_data import EMERGING_SCHEMA, connection, indicator_rows

YEARS = [2005, 2006]
# cluster 1 traded, cluster 2 local; the reference is the sum of the states.
EMP = {
    ("A", "1"): [1000, 1300],  # LQ 0.5 → 0.6 (+20 %), growth 30 %: emerging
    ("C", "1"): [1000, 1200],  # LQ 0.5 → 0.54 (+8 % < 10 %): rising below, not emerging
    ("D", "1"): [1000, 1000],  # LQ 0.9 → 1.1: rising above, not emerging
    ("E", "1"): [100, 200],  # LQ 0.5 → 0.7 but only 200 jobs at the end (< 250)
    ("F", "1"): [1000, 1050],  # LQ 0.5 → 0.6, grows 5 % but less than the reference
    ("A", "2"): [500, 500],  # local cluster: quadrant only
}
LQ = {
    ("A", "1"): [0.5, 0.6],
    ("C", "1"): [0.5, 0.54],
    ("D", "1"): [0.9, 1.1],
    ("E", "1"): [0.5, 0.7],
    ("F", "1"): [0.5, 0.6],
    ("A", "2"): [1.2, 1.0],
}


def _emerging(**params):
    df = indicator_rows(EMP, YEARS, traded={"1"}, lq=LQ)
    con = connection("cluster_indicators", df)
    build_families(con, "us", {"em_window_years": 1, "em_flag": "rule", **params})
    return fetch_frame(con, "SELECT * FROM emerging_clusters ORDER BY region_code, cluster_code")


def test_quadrants_and_rule_by_hand():
    df = _emerging()
    got = {(r["region_code"], r["cluster_code"]): r for r in df.to_dicts()}
    ref_growth = (1300 + 1200 + 1000 + 200 + 1050) / (1000 + 1000 + 1000 + 100 + 1000) - 1
    assert got[("A", "1")]["reference_growth"] == pytest.approx(ref_growth)
    assert got[("A", "1")]["growth_excess"] == pytest.approx(0.3 - ref_growth)
    assert all(r["emerging"] is r["emerging_rule"] for r in got.values())  # em_flag = 'rule'
    assert {k: (r["quadrant"], r["emerging_rule"]) for k, r in got.items()} == {
        ("A", "1"): ("rising below", True),
        ("C", "1"): ("rising below", False),
        ("D", "1"): ("rising above", False),
        ("E", "1"): ("rising below", False),
        ("F", "1"): ("rising below", False),
        ("A", "2"): ("falling above", None),
    }
    assert got[("A", "1")]["lq_change"] == pytest.approx(0.1)


def test_rule_parameters_move_the_flags():
    assert (
        _emerging(em_min_lq_rise=0.05).filter(pl.col("region_code") == "C")["emerging"].item()
        is True
    )
    assert _emerging(em_min_emp=150).filter(pl.col("region_code") == "E")["emerging"].item() is True
    a1 = (pl.col("region_code") == "A") & (pl.col("cluster_code") == "1")
    assert _emerging(em_max_lq=0.55).filter(a1)["emerging"].item() is False


def _backtest(
    emerging: list[dict], strong: dict[tuple[str, int], bool], years: list[int], **params
):
    con = connection("family_emerging_clusters", pl.DataFrame(emerging, schema=EMERGING_SCHEMA))
    panel = pl.DataFrame(
        [
            {
                "region_type": "state",
                "region_code": r,
                "cluster_code": "1",
                "year": y,
                "strong": strong.get((r, y), False),
            }
            for r in "ABCDE"
            for y in years
        ],
        schema={
            "region_type": pl.String,
            "region_code": pl.String,
            "cluster_code": pl.String,
            "year": pl.Int32,
            "strong": pl.Boolean,
        },
    )
    register_frame(con, "family_panel", panel)
    sql = load_sql("families/emerging_backtest")
    return fetch_frame(
        con,
        sql + " ORDER BY flag_year, horizon_years",
        FAMILY_SQL.bind(sql, params),
    )


def test_backtest_by_hand():
    years = [2000, 2001, 2002, 2003]

    def row(region, emerging, strong_end=False, lq_end=0.8):
        return {
            "emerging_rule": emerging,
            "emerging_score": None,
            "score": None,
            "region_type": "state",
            "region_code": region,
            "cluster_code": "1",
            "window_start": 2000,
            "window_end": 2001,
            "emerging": emerging,
            "strong_end": strong_end,
            "lq_end": lq_end,
        }

    emerging = [
        row("A", True),
        row("B", True),  # flagged; A becomes strong in 2003, B never
        row("C", False, lq_end=1.3),  # unflagged above LQ 1, strong in 2002
        row("D", False),  # unflagged below 1, never strong
        row("E", False, strong_end=True),  # strong already at the flag year: not in the cohort
    ]
    strong = {("A", 2003): True, ("C", 2002): True, ("E", 2001): True, ("E", 2002): True}
    df = _backtest(emerging, strong, years, bt_max_horizon=5)
    # flag year 2001: horizons 1 and 2 are observed (2002, 2003); 3+ are not
    assert df["horizon_years"].to_list() == [1, 2]
    k1, k2 = df.to_dicts()
    assert (
        k1["n_flagged"],
        k1["n_flagged_became_strong"],
        k1["n_unflagged"],
        k1["n_unflagged_became_strong"],
    ) == (2, 0, 2, 1)
    assert (
        k2["n_flagged"],
        k2["n_flagged_became_strong"],
        k2["n_unflagged"],
        k2["n_unflagged_became_strong"],
    ) == (2, 1, 2, 1)
    assert k2["flagged_rate"] == pytest.approx(0.5) and k2["base_rate"] == pytest.approx(0.5)
    assert k2["lift"] == pytest.approx(1.0)
    # below LQ 1 only D is unflagged, and it never becomes strong
    assert (k2["n_unflagged_below"], k2["n_unflagged_below_became_strong"], k2["lift_below"]) == (
        1,
        0,
        None,
    )
    assert k1["lift"] == pytest.approx(0.0)


def test_backtest_runs_in_the_build():
    emp = {k: [*v, v[-1]] for k, v in EMP.items()}
    df = indicator_rows(
        emp,
        [2005, 2006, 2007],
        traded={"1"},
        lq={k: [*v, v[-1]] for k, v in LQ.items()},
        strong={("A", "1"): [False, False, True]},
    )
    con = connection("cluster_indicators", df)
    build_families(con, "us", {"em_window_years": 1, "em_flag": "rule"})
    bt = fetch_frame(
        con, "SELECT * FROM emerging_backtest WHERE flag_year = 2006 AND horizon_years = 1"
    )
    # A flagged in 2006 (window 2005→06) and strong in 2007
    assert bt["n_flagged_became_strong"].item() >= 1
