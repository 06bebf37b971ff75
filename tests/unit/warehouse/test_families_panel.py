"""The families' common panel (sql/families/panel.sql, issue 19): which rows it holds and the
growth basis of each row."""

from __future__ import annotations

import polars as pl

from pipelines.warehouse.families import build_panel
from pipelines.warehouse.sql import fetch_frame
from tests.helpers.families_data import connection, indicator_rows


def _panel(con, side):
    build_panel(con, side)
    return {
        r["region_code"]: r
        for r in fetch_frame(con, "SELECT * FROM family_panel").to_dicts()
    }


def test_eu_panel_leaves_out_extra_regio_rank_excluded_and_no_data_rows():
    emp = {(r, "1"): [e] for r, e in (("DE11", 100.0), ("FRZZ", 50.0), ("BE10", 80.0), ("AT11", None), ("ES11", 70.0))}
    df = indicator_rows(emp, [2010], region_type="nuts2").with_columns(
        definition_vintage=None,
        extra_regio=pl.col("region_code") == "FRZZ",
        ranked=pl.col("region_code").is_in(["DE11", "ES11"]),
        emp_reported=pl.col("emp"),
    )
    got = _panel(connection("eu_cluster_indicators", df), "eu")
    assert set(got) == {"DE11", "ES11"}
    assert got["DE11"]["series"] == "native" and got["DE11"]["vintage"] == "NACE Rev.2"
    # one NACE mapping throughout: no definition effect
    assert got["DE11"]["definition_effect"] == 0.0 and got["DE11"]["definition_material"] is False


def test_basis_of_each_row_as_a_growth_start():
    emp = {(r, "1"): [e] for r, e in (("A", 1000.0), ("B", 40.0), ("C", 500.0), ("D", 900.0), ("E", 0.0))}
    coverage = {"A": 0.99, "B": 0.99, "C": 0.99, "D": 0.80, "E": 1.0}
    reported = {"A": 1000.0, "B": 40.0, "C": None, "D": 900.0, "E": 0.0}
    df = indicator_rows(emp, [2005]).with_columns(
        coverage=pl.col("region_code").replace_strict(coverage, return_dtype=pl.Float64),
        emp_reported=pl.col("region_code").replace_strict(reported, return_dtype=pl.Float64),
    )
    got = _panel(connection("cluster_indicators", df), "us")
    assert {k: v["basis"] for k, v in got.items()} == {
        "A": "ok", "B": "small_base", "C": "imputed_base", "D": "partial_coverage", "E": "small_base",
    }
    assert {k for k, v in got.items() if v["sound"]} == {"A"}
    # as a window end only partial coverage disqualifies a row
    assert {k for k, v in got.items() if v["sound_end"]} == {"A", "B", "C", "E"}
    # a native source has no definition effect: unknown, so material
    assert got["A"]["definition_effect"] is None and got["A"]["definition_material"] is True


def test_basis_thresholds_are_parameters():
    emp = {("A", "1"): [40.0], ("B", "1"): [1000.0]}
    df = indicator_rows(emp, [2005]).with_columns(coverage=pl.lit(0.9), emp_reported=pl.col("emp"))
    con = connection("cluster_indicators", df)
    build_panel(con, "us", {"min_coverage": 0.85, "min_growth_base": 10})
    assert dict(con.execute("SELECT region_code, basis FROM family_panel").fetchall()) == {"A": "ok", "B": "ok"}


def test_series_is_read_when_present():
    emp = {("A", "1"): [100.0, 200.0]}
    native = indicator_rows(emp, [2008, 2009])
    series = native.with_columns(
        side=pl.lit("us"), naics_vintage=pl.lit("2007"), emp=pl.col("emp") * 2, definition_effect=pl.lit(0.01)
    ).drop("definition_vintage")
    eu = series.with_columns(side=pl.lit("eu"), region_code=pl.lit("DE11"))
    con = connection("cluster_indicators", native)
    con.register("s", pl.concat([series, eu]).to_arrow())
    con.execute("CREATE TABLE cluster_timeseries AS SELECT * FROM s")
    build_panel(con, "us")
    rows = fetch_frame(con, "SELECT * FROM family_panel ORDER BY year").to_dicts()
    assert [r["emp"] for r in rows] == [200.0, 400.0]
    assert {r["series"] for r in rows} == {"constant"} and {r["vintage"] for r in rows} == {"2007"}
    assert rows[0]["definition_material"] is False
