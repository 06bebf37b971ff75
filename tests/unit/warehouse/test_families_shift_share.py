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


def _with(df, column, values, dtype):
    """Set `column` per (region, year) from `values`; others get the default values[None]."""
    import polars as pl

    keyed = {f"{r}|{y}": v for (r, y), v in values.items() if r is not None}
    return df.with_columns(
        pl.concat_str("region_code", pl.lit("|"), pl.col("year").cast(pl.String))
        .replace_strict(keyed, default=values[(None, None)], return_dtype=dtype)
        .alias(column)
    )


def test_no_rates_from_small_or_partial_bases():
    """Issue 19: a window starting from a base under min_growth_base, or starting or ending in a
    partial-coverage year, keeps its levels but has no rates; the reference leaves partial cells out."""
    import polars as pl

    emp = {**EMP, ("C", "1"): [10, 200, 400], ("C", "2"): [500, 500, 500]}
    df = indicator_rows(emp, YEARS)
    df = _with(df, "coverage", {("B", 2003): 0.80, (None, None): 1.0}, pl.Float64)
    con = connection("cluster_indicators", df)
    build_families(con, "us", {"ss_window_years": 1})
    got = fetch_frame(con, "SELECT * FROM shift_share")
    small = _row(got, "C", "1", 2002, 2004)
    assert small["growth_basis"] == "small_base"
    assert small["emp_change"] == pytest.approx(390) and small["region_growth"] is None
    assert small["homothetic_effect"] is None and small["allocation_effect"] is None
    # the classic parts are persons, scale with the base and still add up to the change
    assert small["national_effect"] + small["mix_effect"] + small["competitive_effect"] == pytest.approx(390)
    assert _row(got, "C", "1", 2003, 2004)["region_growth"] == pytest.approx(1.0)
    # B 2003 covers 80 %: no window starts or ends there, and the reference leaves it out
    assert _row(got, "B", "1", 2002, 2003)["growth_basis"] == "partial_coverage"
    assert _row(got, "B", "1", 2003, 2004)["growth_basis"] == "partial_coverage"
    assert _row(got, "B", "1", 2003, 2004)["region_growth"] is None
    assert _row(got, "B", "1", 2003, 2004)["national_effect"] is None
    assert _row(got, "B", "1", 2003, 2004)["dynamic_competitive_effect"] is None
    assert _row(got, "B", "1", 2002, 2004)["growth_basis"] == "ok"
    r = _row(got, "A", "1", 2002, 2003)
    assert r["reference_regions"] == 2  # A and C; B is partial in 2003
    assert r["cluster_growth"] == pytest.approx((110 + 200) / (100 + 10) - 1)
    # the 2002 → 2004 window has every reference cell, but its dynamic parts need B 2003
    full = _row(got, "A", "1", 2002, 2004)
    assert full["reference_regions"] == 3 and full["growth_basis"] == "ok"
    # the threshold is a parameter
    build_families(con, "us", {"ss_window_years": 1, "min_growth_base": 5})
    assert _row(fetch_frame(con, "SELECT * FROM shift_share"), "C", "1", 2002, 2004)["growth_basis"] == "ok"


def test_vintage_break_only_where_the_definition_effect_is_material():
    """On the series, a window across a NAICS vintage change is flagged only when the cluster's
    national definition effect is above max_definition_effect at either end."""
    import polars as pl

    df = indicator_rows(EMP, [2007, 2008, 2009]).with_columns(
        side=pl.lit("us"),
        naics_vintage=pl.col("definition_vintage"),
        definition_effect=pl.when((pl.col("cluster_code") == "2") & (pl.col("year") == 2007))
        .then(0.30).otherwise(0.001),
    ).drop("definition_vintage")
    con = connection("cluster_indicators", indicator_rows(EMP, [2007, 2008, 2009]))
    con.register("s", df.to_arrow())
    con.execute("CREATE TABLE cluster_timeseries AS SELECT * FROM s")
    build_families(con, "us", {"ss_window_years": 1})
    got = fetch_frame(con, "SELECT * FROM shift_share")
    assert _row(got, "A", "1", 2007, 2008)["vintage_break"] is False  # 2002 → 2007 codes, effect 0.1 %
    assert _row(got, "A", "2", 2007, 2008)["vintage_break"] is True  # effect 30 % in 2007
    assert _row(got, "A", "2", 2008, 2009)["vintage_break"] is False  # same vintage
    assert set(got["series"]) == {"constant"}
    build_families(con, "us", {"ss_window_years": 1, "max_definition_effect": 0.5})
    assert _row(fetch_frame(con, "SELECT * FROM shift_share"), "A", "2", 2007, 2008)["vintage_break"] is False


def test_eu_window_reference_is_the_countries_present_at_both_ends():
    """Europe over time: the window's reference is the countries in the reference at both ends (a
    country missing or rank-excluded in one year does not pass for growth or decline); extra-regio
    rows never enter."""
    import polars as pl

    emp = {
        ("AT", "1"): [100, 110, 120], ("AT", "2"): [100, 100, 100],
        ("BE", "1"): [200, 220, 260], ("BE", "2"): [100, 100, 100],
        ("CZ", "1"): [1000, 1000, 1000], ("CZ", "2"): [100, 100, 100],
    }
    nuts0 = indicator_rows(emp, [2013, 2014, 2015], region_type="nuts0")
    regions = indicator_rows(
        {("AT11", "1"): [50, 60, 70], ("FRZZ", "1"): [500, 900, 1300], ("AT11", "2"): [60, 60, 60], ("FRZZ", "2"): [60, 60, 60]},
        [2013, 2014, 2015], region_type="nuts2",
    )
    df = pl.concat([nuts0, regions]).with_columns(
        definition_vintage=None,
        ranked=~((pl.col("region_code") == "CZ") & (pl.col("year") == 2015)),
        extra_regio=pl.col("region_code") == "FRZZ",
        emp_reported=pl.col("emp"),
    )
    con = connection("eu_cluster_indicators", df)
    build_families(con, "eu", {"ss_window_years": 1})
    got = fetch_frame(con, "SELECT * FROM eu_shift_share")
    assert "FRZZ" not in set(got["region_code"]) and "CZ" not in set(got.filter(pl.col("window_end") == 2015)["region_code"])
    r = _row(got, "AT11", "1", 2013, 2015)
    assert r["reference_regions"] == 2  # AT and BE; CZ is not in the 2015 reference
    assert r["cluster_growth"] == pytest.approx(380 / 300 - 1)
    assert r["national_growth"] == pytest.approx(580 / 500 - 1)
    r = _row(got, "AT11", "1", 2013, 2014)
    assert r["reference_regions"] == 3 and r["cluster_growth"] == pytest.approx(1330 / 1300 - 1)
    assert r["vintage_break"] is False
