"""Shift-share family (sql/families/shift_share.sql): hand-computed case, identities, vintage flag."""

from __future__ import annotations

import pytest

from pipelines.warehouse.families import build_families
from pipelines.warehouse.sql import fetch_frame
from tests.helpers.families_data import connection, indicator_rows

YEARS = [2002, 2003, 2004]
EMP = {
    ("A", "1"): [100, 110, 130],
    ("A", "2"): [50, 50, 40],
    ("B", "1"): [200, 220, 240],
    ("B", "2"): [150, 160, 170],
}


def _shift_share(**params):
    con = connection("cluster_indicators", indicator_rows(EMP, YEARS))
    build_families(con, "us", {"ss_window_years": 1, **params})
    return fetch_frame(
        con,
        "SELECT * FROM shift_share ORDER BY region_code, cluster_code, window_start, window_end",
    )


def _row(df, region, cluster, start, end):
    rows = df.filter(
        (df["region_code"] == region)
        & (df["cluster_code"] == cluster)
        & (df["window_start"] == start)
        & (df["window_end"] == end)
    ).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_classic_em_and_dynamic_by_hand():
    df = _shift_share()
    r = _row(df, "A", "1", 2002, 2004)
    # Reference (sum of states): cluster 1 300 → 370, all clusters 500 → 580.
    assert r["window_kind"] == "full"
    assert r["emp_change"] == pytest.approx(30)
    assert r["national_growth"] == pytest.approx(0.16)
    assert r["cluster_growth"] == pytest.approx(70 / 300)
    assert r["national_effect"] == pytest.approx(16)
    assert r["mix_effect"] == pytest.approx(100 * (70 / 300 - 0.16))
    assert r["competitive_effect"] == pytest.approx(100 * (0.3 - 70 / 300))
    # Esteban-Marquillas: homothetic employment = A's total 150 × 300/500 = 90.
    assert r["homothetic_emp_start"] == pytest.approx(90)
    assert r["homothetic_effect"] == pytest.approx(90 * (0.3 - 70 / 300))
    assert r["allocation_effect"] == pytest.approx(10 * (0.3 - 70 / 300))
    # Dynamic: 2002→03 national 100 × 0.08, mix 100 × (0.1 − 0.08); 2003→04 national
    # 110 × (580/540 − 1), mix 110 × ((370/330 − 1) − (580/540 − 1)).
    nat = 100 * 0.08 + 110 * (580 / 540 - 1)
    mix = 100 * 0.02 + 110 * ((370 / 330 - 1) - (580 / 540 - 1))
    assert r["dynamic_national_effect"] == pytest.approx(nat)
    assert r["dynamic_mix_effect"] == pytest.approx(mix)
    assert r["dynamic_competitive_effect"] == pytest.approx(30 - nat - mix)


def test_parts_add_up_to_the_change_exactly():
    df = _shift_share()
    assert df.height == 4 * 3  # 4 region-clusters × (full + two 1-year windows)
    for r in df.to_dicts():
        assert r["national_effect"] + r["mix_effect"] + r["competitive_effect"] == pytest.approx(
            r["emp_change"], abs=1e-9
        )
        assert r["homothetic_effect"] + r["allocation_effect"] == pytest.approx(
            r["competitive_effect"], abs=1e-9
        )
        dyn = (
            r["dynamic_national_effect"] + r["dynamic_mix_effect"] + r["dynamic_competitive_effect"]
        )
        assert dyn == pytest.approx(r["emp_change"], abs=1e-9)
    # Over all regions, the national effect of each cluster is the reference's growth applied to it.
    full = df.filter(df["window_kind"] == "full")
    assert full["national_effect"].sum() == pytest.approx(500 * 0.16)


def test_vintage_break_follows_the_definition_vintage():
    df = _shift_share()
    # 2002 rows carry the NAICS 1997 definitions, 2003 and 2004 NAICS 2002 (cluster_indicators.definition_vintage).
    assert _row(df, "A", "1", 2002, 2004)["vintage_break"] is True
    assert _row(df, "A", "1", 2002, 2003)["vintage_break"] is True
    assert _row(df, "A", "1", 2003, 2004)["vintage_break"] is False


def test_rolling_window_length_is_a_parameter():
    df = _shift_share(ss_window_years=2)
    # a 2-year window over 2002–2004 is the full window: listed once
    assert sorted(
        set(zip(df["window_start"], df["window_end"], df["window_kind"], strict=True))
    ) == [(2002, 2004, "full")]


def test_dynamic_needs_every_year():
    emp = {**EMP, ("A", "1"): [100, None, 130]}
    con = connection("cluster_indicators", indicator_rows(emp, YEARS))
    build_families(con, "us", {"ss_window_years": 1})
    df = fetch_frame(
        con, "SELECT * FROM shift_share WHERE region_code = 'A' AND cluster_code = '1'"
    )
    assert df.height == 1  # only the full window has both ends
    r = df.to_dicts()[0]
    assert r["competitive_effect"] is not None and r["dynamic_national_effect"] is None


def test_reference_growth_uses_cells_present_at_both_ends():
    # Region C reports cluster 1 in 2002 only (a withheld or missing cell later): the reference's
    # growth must not read its disappearance as a decline of 1000 jobs.
    emp = {**EMP, ("C", "1"): [1000, 1000, None], ("C", "2"): [10, 10, 10]}
    con = connection("cluster_indicators", indicator_rows(emp, YEARS))
    build_families(con, "us", {"ss_window_years": 1})
    df = fetch_frame(con, "SELECT * FROM shift_share")
    r = _row(df, "A", "1", 2002, 2004)
    assert r["cluster_growth"] == pytest.approx(70 / 300)
    assert r["national_growth"] == pytest.approx((580 + 10) / (500 + 10) - 1)
    assert _row(df, "A", "1", 2002, 2003)["cluster_growth"] == pytest.approx(30 / 1300)
