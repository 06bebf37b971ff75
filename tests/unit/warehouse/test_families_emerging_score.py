"""Emerging score and its backtest (issue 19, issue 20): AUC by hand, the horizon boundary,
no future data in a flag, growth only from sound bases."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.release.family_notes import emerging_example
from pipelines.warehouse.emerging_score import fit_weights
from pipelines.warehouse.families import FAMILY_PARAMS, FAMILY_SQL, build_families
from pipelines.warehouse.sql import fetch_frame, load_sql, register_frame
from tests.helpers.families_data import EMERGING_SCHEMA, connection, indicator_rows


def _backtest(rows: list[dict], strong: set[tuple[str, int]], years: list[int], **params) -> pl.DataFrame:
    """emerging_backtest.sql on hand-made emerging rows (flag year 2001) and strong years."""
    con = connection("family_emerging_clusters", pl.DataFrame(rows, schema=EMERGING_SCHEMA))
    regions = sorted({r["region_code"] for r in rows})
    panel = pl.DataFrame(
        [
            {"region_type": "state", "region_code": r, "cluster_code": "1", "year": y, "strong": (r, y) in strong}
            for r in regions
            for y in years
        ],
        schema={"region_type": pl.String, "region_code": pl.String, "cluster_code": pl.String,
                "year": pl.Int32, "strong": pl.Boolean},
    )
    register_frame(con, "family_panel", panel)
    sql = load_sql("families/emerging_backtest")
    return fetch_frame(con, sql + " ORDER BY flag_year, horizon_years", FAMILY_SQL.bind(sql, params))


def _row(region: str, rule: bool, score: float | None, flag: bool | None = None) -> dict:
    return {
        "region_type": "state", "region_code": region, "cluster_code": "1",
        "window_start": 2000, "window_end": 2001, "emerging": rule, "emerging_rule": rule,
        "emerging_score": flag, "score": score, "strong_end": False, "lq_end": 0.8,
    }


def test_auc_and_lift_by_hand_with_ties():
    # A and C become strong (2002); scores 0.9, 0.5 | 0.5, 0.1 for the others: pairs (pos, neg)
    # A>B, A>D, C=B (half), C>D → 3.5 / 4. Rule flags A only: A>B, A>D, C=B, C=D → 3 / 4.
    rows = [
        _row("A", True, 0.9, True), _row("B", False, 0.5, False),
        _row("C", False, 0.5, True), _row("D", False, 0.1, False),
    ]
    df = _backtest(rows, {("A", 2002), ("C", 2002)}, [2000, 2001, 2002], bt_max_horizon=1)
    r = df.row(0, named=True)
    assert r["auc_score"] == pytest.approx(0.875) and r["auc_score_oos"] == pytest.approx(0.875)
    assert r["auc_old_rule"] == pytest.approx(0.75) and r["auc_old_rule_oos"] == pytest.approx(0.75)
    # rule: A flagged (1/1 strong) vs B, C, D (1/3) → 3; score: A, C flagged (2/2) vs B, D (0/2) → null
    assert r["lift_old_rule"] == pytest.approx(3.0) and r["lift_score"] is None
    assert (r["n_scored"], r["n_oos"], r["n_oos_became_strong"]) == (4, 4, 2)


def test_rule_auc_out_of_sample_pools_only_scored_flag_years():
    # flag year 2001 has no score (not out of sample): F (not flagged) became strong, E did not →
    # rule AUC 0. Flag year 2002 is scored: A (flagged) became strong, B did not → 1. The *_oos
    # pool holds 2002 only (pooling 2001 too would give 0.5), on the rows of both flag years.
    rows = [
        _row("E", True, None), _row("F", False, None),
        {**_row("A", True, 0.9, True), "window_start": 2001, "window_end": 2002},
        {**_row("B", False, 0.5, False), "window_start": 2001, "window_end": 2002},
    ]
    df = _backtest(rows, {("F", 2002), ("A", 2003)}, [2000, 2001, 2002, 2003], bt_max_horizon=1)
    assert df["flag_year"].to_list() == [2001, 2002]
    assert df["auc_old_rule"].to_list() == [pytest.approx(0.0), pytest.approx(1.0)]
    assert df["auc_old_rule_oos"].to_list() == [pytest.approx(1.0)] * 2
    assert df["auc_score_oos"].to_list() == [pytest.approx(1.0)] * 2


def test_max_horizon_row_counts_a_transition_exactly_k_years_later():
    # issue 20: flag year 2001, bt_max_horizon 2, years to 2003: the k = 2 row exists and counts
    # A, strong first in 2003 = flag year + 2 (a range one year short, or `<` for `≤`, misses it)
    rows = [_row("A", True, None), _row("B", False, None)]
    df = _backtest(rows, {("A", 2003)}, [2000, 2001, 2002, 2003], bt_max_horizon=2)
    assert df["horizon_years"].to_list() == [1, 2]
    k2 = df.row(1, named=True)
    assert (k2["n_flagged"], k2["n_flagged_became_strong"], k2["n_unflagged_became_strong"]) == (1, 1, 0)
    assert df.row(0, named=True)["n_flagged_became_strong"] == 0


def _panel_rows(future_seed: int, last_year: int = 2008) -> pl.DataFrame:
    """12 states × 4 traded clusters, 2000–last_year; from 2005 on the values (and strong flags)
    come from `future_seed`: the same past, a different future per seed."""
    years = list(range(2000, last_year + 1))
    rng = np.random.default_rng(7)
    future = np.random.default_rng(future_seed)
    emp, lq, strong = {}, {}, {}
    for r in "ABCDEFGHIJKL":
        for c in "1234":
            e, q, es, qs, ss = 1000.0 * (1 + rng.random()), 0.4 + rng.random(), [], [], []
            for y in years:
                g = future if y >= 2005 else rng
                e *= 1 + 0.2 * (g.random() - 0.4)
                q *= 1 + 0.3 * (g.random() - 0.45)
                es.append(e)
                qs.append(q)
                ss.append(bool(q >= 1.1 and g.random() < 0.8))
            emp[(r, c)], lq[(r, c)], strong[(r, c)] = es, qs, ss
    return indicator_rows(emp, years, lq=lq, strong=strong)


def _built(future_seed: int, **params) -> duckdb.DuckDBPyConnection:
    con = connection("cluster_indicators", _panel_rows(future_seed))
    con.execute("INSERT INTO related_clusters VALUES ('1', '2', 0.5), ('3', '4', 0.5)")
    build_families(con, "us", {"em_window_years": 2, **params})
    return con


def _scores(future_seed: int) -> pl.DataFrame:
    return fetch_frame(
        _built(future_seed),
        "SELECT region_code, cluster_code, window_end, density, score, emerging_score, emerging "
        "FROM emerging_clusters WHERE window_end <= 2004 ORDER BY ALL",
    )


def test_em_flag_is_checked_and_chooses_the_published_flag():
    with pytest.raises(ValueError, match="em_flag"):
        _built(1, em_flag="Score")
    con = _built(1, em_flag="rule")
    assert fetch_frame(con, "SELECT * FROM emerging_clusters WHERE emerging IS DISTINCT FROM emerging_rule").height == 0
    con = _built(1)  # default: the score flag
    assert fetch_frame(con, "SELECT * FROM emerging_clusters WHERE emerging IS DISTINCT FROM emerging_score").height == 0


def test_emerging_note_reports_the_out_of_sample_evaluation():
    con = _built(1)
    con.execute("CREATE TABLE clusters (cluster_code VARCHAR, cluster_name VARCHAR)")
    text = emerging_example(con)
    assert text is not None and f"em_flag = '{FAMILY_PARAMS['em_flag']}'" in text
    r = fetch_frame(
        con, "SELECT * FROM emerging_backtest WHERE horizon_years = 1 AND auc_score_oos IS NOT NULL LIMIT 1"
    ).row(0, named=True)
    line = (
        f"| US | state | 1 | {r['n_oos']:,} | {r['n_oos_became_strong']:,} | {r['auc_old_rule_oos']:.3f} | "
        f"{r['auc_score_oos']:.3f} |"
    )
    assert line in text


def test_no_future_data_enters_a_flag():
    # flag years up to 2004 must not move when every value from 2005 on changes
    past, other_future = _scores(1), _scores(99)
    assert past["score"].null_count() < past.height  # scored rows exist (2003 and 2004)
    assert past["emerging"].sum() > 0
    assert past.equals(other_future)


def test_walk_forward_weights_use_only_outcomes_observed_by_the_flag_year():
    rng = np.random.default_rng(3)
    n = 400
    frame = pl.DataFrame(
        {
            "flag_year": np.repeat([2001, 2002, 2003, 2004], n // 4).astype(np.int32),
            **{f"pct_{f}": rng.random(n) for f in ("density", "lq_trend", "size", "growth", "lq")},
        }
    )
    became = frame["pct_lq"].to_numpy() + 0.3 * rng.random(n) > 0.9
    frame = frame.with_columns(
        pl.when(pl.Series(became)).then(pl.col("flag_year") + 1).otherwise(None).alias("strong_year")
    )
    weights = fit_weights(frame, horizon=1, ridge=1.0)
    assert weights["flag_year"].to_list() == [2002, 2003, 2004]  # 2001 has no history
    assert weights["n_train"].to_list() == [100, 200, 300]
    # the 2003 weights are those of the rows of 2001–2002 only: rewriting 2003–2004 outcomes changes nothing
    flipped = frame.with_columns(
        pl.when(pl.col("flag_year") >= 2003).then(None).otherwise(pl.col("strong_year")).alias("strong_year")
    )
    again = fit_weights(flipped, horizon=1, ridge=1.0)
    assert again.filter(pl.col("flag_year") <= 2003).equals(weights.filter(pl.col("flag_year") <= 2003))
    assert weights.filter(pl.col("flag_year") == 2004)["w_lq"].item() > 1  # the label follows pct_lq


def test_emerging_only_from_sound_bases():
    emp = {("A", "1"): [30, 1300], ("B", "1"): [1000, 1300], ("C", "1"): [10000, 10000]}
    lq = {("A", "1"): [0.5, 0.6], ("B", "1"): [0.5, 0.6], ("C", "1"): [1.0, 1.0]}
    con = connection("cluster_indicators", indicator_rows(emp, [2005, 2006], lq=lq))
    build_families(con, "us", {"em_window_years": 1, "em_flag": "rule"})
    got = {
        r["region_code"]: r
        for r in fetch_frame(con, "SELECT * FROM emerging_clusters").to_dicts()
    }
    # A starts under min_growth_base (50): levels kept, no growth, no flag, reason said
    assert (got["A"]["growth_basis"], got["A"]["emp_growth"], got["A"]["emerging_rule"]) == ("small_base", None, None)
    assert got["A"]["emp_start"] == 30 and got["A"]["lq_end"] == pytest.approx(0.6)
    assert (got["B"]["growth_basis"], got["B"]["emerging_rule"]) == ("ok", True)
    assert got["B"]["emp_growth"] == pytest.approx(0.3)


def test_eu_window_lq_against_the_countries_present_at_both_ends():
    # Country Y reports 2000 only. Published LQs of X1 (cluster 1 = 10 % of its traded jobs):
    # 2000 against X + Y (20 %) = 0.5, 2001 against X alone (10 %) = 1.0 — a doubling made by the
    # reference. Against X, the one country at both ends, X1's LQ is 1.0 at both ends.
    emp = {
        ("X", "1"): [100, 100], ("X", "2"): [900, 900],
        ("Y", "1"): [300, None], ("Y", "2"): [700, None],
        ("X1", "1"): [50, 50], ("X1", "2"): [450, 450],
    }
    lq = {("X1", "1"): [0.5, 1.0], ("X1", "2"): [450 / 500 / 0.8, 1.0], ("Y", "1"): [1.5, None],
          ("Y", "2"): [0.875, None], ("X", "1"): [0.5, 1.0], ("X", "2"): [1.125, 1.0]}
    rows = pl.concat(
        [
            indicator_rows({k: v for k, v in emp.items() if len(k[0]) == 1}, [2000, 2001], region_type="nuts0",
                           lq={k: v for k, v in lq.items() if len(k[0]) == 1}),
            indicator_rows({k: v for k, v in emp.items() if len(k[0]) == 2}, [2000, 2001], region_type="nuts2",
                           lq={k: v for k, v in lq.items() if len(k[0]) == 2}),
        ]
    ).with_columns(definition_vintage=None)
    con = connection("eu_cluster_indicators", rows)
    build_families(con, "eu", {"em_window_years": 1, "em_flag": "rule"})
    got = fetch_frame(
        con, "SELECT * FROM eu_emerging_clusters WHERE region_code = 'X1' AND cluster_code = '1'"
    ).row(0, named=True)
    assert (got["lq_start"], got["lq_end"]) == (pytest.approx(1.0), pytest.approx(1.0))
    assert got["quadrant"] == "falling above"  # not 'rising above' as the published 0.5 → 1.0 reads
    assert got["reference_growth"] == pytest.approx(0.0)  # over X only


def test_partial_coverage_ends_neither_a_region_window_nor_the_reference():
    emp = {("A", "1"): [1000, 1300], ("B", "1"): [1000, 1100], ("C", "1"): [1000, 3000]}
    lq = {k: [0.5, 0.6] for k in emp}
    rows = indicator_rows(emp, [2005, 2006], lq=lq).with_columns(
        coverage=pl.when((pl.col("region_code") == "C") & (pl.col("year") == 2006)).then(0.5).otherwise(1.0)
    )
    con = connection("cluster_indicators", rows)
    build_families(con, "us", {"em_window_years": 1, "em_flag": "rule"})
    got = {r["region_code"]: r for r in fetch_frame(con, "SELECT * FROM emerging_clusters").to_dicts()}
    assert (got["C"]["growth_basis"], got["C"]["emp_growth"], got["C"]["emerging_rule"]) == ("partial_coverage", None, None)
    # the reference: A and B only (C's 2006 is partial) → 2400 / 2000 − 1
    assert got["A"]["reference_growth"] == pytest.approx(0.2)
    assert got["A"]["emerging_rule"] is True and got["B"]["emerging_rule"] is False
