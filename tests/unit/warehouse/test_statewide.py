"""CBP county files carry, per state, county 999 ("statewide": establishments with no fixed
location in the state). Its rows are published under a name, its employment counts in the sum of
the regions (the national reference of a county run), but it is not a place: never ranked among
the counties, never strong, never in the constant series' families (extra_regio)."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines.warehouse.families import build_panel
from pipelines.warehouse.indicators import build_cluster_tables
from pipelines.warehouse.sql import fetch_frame, register_frame
from tests.helpers.indicators_data import indicators

# cluster 1 employment of eight counties (cluster 2 = 1,000 and local 101 = 500 each)
COUNTY_C1 = {f"0100{i}": e for i, e in enumerate([300.0, 260.0, 250.0, 100.0, 80.0, 60.0, 40.0, 20.0], start=1)}
STATEWIDE = "01999"
# the statewide code: 60 % of the counties' jobs in each cluster (the same national shares, so
# the counties' LQs do not move) — more cluster 1 jobs (666) than any county or the group below
SW_ROWS = [
    (2011, "county", STATEWIDE, cl, e, e, e / 10, e * 40, "2007")
    for cl, e in (("1", sum(COUNTY_C1.values()) * 0.6), ("2", 4800.0), ("101", 2400.0))
]


def _rows(emp1: dict[str, float], year: int = 2011) -> list[tuple]:
    return [
        (year, "county", code, cl, emp, emp, emp / 10, emp * 40, "2007")
        for code, e in emp1.items()
        for cl, emp in (("1", e), ("2", 1000.0), ("101", 500.0))
    ]


def _indicators(rows: list[tuple], groups: dict[str, list[str]] | None = None) -> pl.DataFrame:
    return indicators(rows, None if groups is None else {code: ("county", members) for code, members in groups.items()})


def _pick(df: pl.DataFrame, region: str, cluster: str = "1") -> dict:
    return df.filter(pl.col("region_code") == region, pl.col("cluster_code") == cluster).row(0, named=True)


def test_statewide_code_is_not_ranked_but_counts_in_the_national_sum() -> None:
    df = _indicators(_rows(COUNTY_C1) + SW_ROWS)
    sw = _pick(df, STATEWIDE)
    assert sw["ranked_among"] is None and sw["emp_rank"] is None and sw["lq_rank"] is None
    assert sw["strong"] is None and sw["strong10"] is None
    assert sw["lq"] == pytest.approx(sw["region_emp_share"] / (sw["national_cluster_emp"] / sw["national_base_emp"]))
    # the sum of the regions includes it: 1,110 county jobs + 666 statewide
    assert sw["national_cluster_emp"] == pytest.approx(sum(COUNTY_C1.values()) * 1.6)
    counties = df.filter(pl.col("region_type") == "county", pl.col("region_code") != STATEWIDE)
    assert set(counties["ranked_among"]) == {"county"}
    # the largest county is first, as if the statewide row were not there
    assert _pick(df, "01001")["emp_rank"] == 1 and _pick(df, "01008")["emp_rank"] == 8


def test_the_counties_ranks_and_flags_ignore_the_statewide_code() -> None:
    cols = ["region_code", "cluster_code", "emp_rank", "lq_rank", "strong", "strong10"]
    alone = _indicators(_rows(COUNTY_C1)).select(cols).sort("region_code", "cluster_code")
    with_sw = (
        _indicators(_rows(COUNTY_C1) + SW_ROWS)
        .filter(pl.col("region_code") != STATEWIDE)
        .select(cols)
        .sort("region_code", "cluster_code")
    )
    assert with_sw.equals(alone)
    assert alone.filter(pl.col("strong")).height > 0  # the comparison covers strong clusters


def test_a_county_group_is_placed_among_counties_not_the_statewide_code() -> None:
    members = ["01001", "01002"]
    rows = _rows(COUNTY_C1) + SW_ROWS
    group = [
        (2011, "custom", "G", cl, e, e, e / 10, e * 40, "2007")
        for cl, e in (("1", 560.0), ("2", 2000.0), ("101", 1000.0))
    ]
    g = _pick(_indicators(rows + group, {"G": members}), "G")
    assert g["ranked_among"] == "county" and g["emp_rank"] == 1  # 560 jobs beat every county (not 666 statewide)


def test_statewide_rows_are_in_the_series_as_extra_regio_and_never_in_the_family_panel() -> None:
    native = pl.DataFrame(
        [("2007", "100001", "1"), ("2012", "100001", "1")], schema=["naics_vintage", "naics", "cluster_code"], orient="row"
    ).with_columns(weight=pl.lit(1.0), derived_from=pl.lit(None, pl.String), naics_title=pl.lit(None, pl.String))
    concordance = pl.DataFrame({f"naics_{v}": ["100001"] for v in ("2002", "2007", "2012", "2017", "2022")})
    industry = pl.DataFrame(
        [
            (year, code, f"NAICS{vintage}", naics, level, emp)
            for year, vintage in ((2008, "2007"), (2012, "2012"))
            for code, emp in (("01001", 900.0), ("01002", 300.0), (STATEWIDE, 400.0))
            for naics, level in (("100001", 6), ("TOTAL", 0))
        ],
        schema={"year": pl.Int32, "region_code": pl.String, "classification": pl.String,
                "industry_code": pl.String, "industry_level": pl.Int8, "emp": pl.Float64},
        orient="row",
    ).with_columns(
        region_type=pl.lit("county"), lfo=pl.lit("-"), emp_reported=pl.col("emp"), est=pl.col("emp") / 10,
        payroll=pl.col("emp") * 40, qp1=pl.lit(None, pl.Float64), emp_imputed=pl.lit(False),
    )  # fmt: skip
    with duckdb.connect() as con:
        register_frame(con, "industry_employment", industry)
        register_frame(con, "cluster_naics", native)
        register_frame(con, "naics_concordance", concordance)
        register_frame(con, "clusters", pl.DataFrame({"cluster_code": ["1"], "traded": [True]}))
        build_cluster_tables(con)
        series = fetch_frame(con, "SELECT region_code, extra_regio FROM cluster_timeseries")
        assert dict(series.unique().iter_rows()) == {"01001": False, "01002": False, STATEWIDE: True}
        for source in ("cluster_timeseries", "cluster_indicators"):  # the series, or the native table
            if source == "cluster_indicators":
                con.execute("DROP TABLE cluster_timeseries")
            build_panel(con, "us")
            panel = fetch_frame(con, "SELECT DISTINCT region_code FROM family_panel")
            assert sorted(panel["region_code"]) == ["01001", "01002"], source
