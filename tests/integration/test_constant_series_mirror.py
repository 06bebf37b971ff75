"""Issue 19 on the mirror's real CBP state files: the constant-definition series leaves the NAICS
1997 years out, and where the concordance is nearly one-to-one (NAICS 2007 data, 2008–2011) the
national total of every cluster over 50,000 jobs agrees with the native definitions within 2 %;
growth rates never start in a partial-coverage year."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.layout import reference_dir
from pipelines.staging.cbp import stage_cbp, staged_cbp_paths
from pipelines.staging.reference import stage_reference
from pipelines.warehouse import database
from pipelines.warehouse.sql import fetch_frame


@pytest.fixture(scope="module")
def warehouse(mirror_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    years = (2002, 2003, 2008, 2011)
    settings = Settings(
        warehouse=tmp_path_factory.mktemp("wh"), mirror=mirror_dir, cbp_years=years, offline=True, eurostat=False
    )
    stage_reference(settings)
    for y in years:
        stage_cbp(settings, y)
    con = duckdb.connect()
    database.build_indicators(con, staged_cbp_paths(settings), reference_dir(settings))
    yield con
    con.close()


def test_naics_1997_years_are_left_out(warehouse) -> None:
    years = fetch_frame(warehouse, "SELECT DISTINCT year, naics_vintage FROM cluster_timeseries ORDER BY year")
    assert years.rows() == [(2003, "2002"), (2008, "2007"), (2011, "2007")]
    assert 2002 in set(fetch_frame(warehouse, "SELECT DISTINCT year FROM cluster_indicators")["year"])


@pytest.mark.parametrize("year", [2008, 2011])
def test_naics_2007_years_agree_with_the_native_totals_within_2_percent(warehouse, year: int) -> None:
    eff = fetch_frame(warehouse, "SELECT * FROM definition_effect WHERE year = $y", {"y": year})
    big = eff.filter(pl.col("native_emp") > 50_000)
    assert big.height >= 50
    worst = big.sort(pl.col("definition_effect").abs(), descending=True).row(0, named=True)
    assert abs(worst["definition_effect"]) < 0.02, worst
    # the series' state rows sum to the national constant totals the effect is measured on
    s = fetch_frame(
        warehouse,
        "SELECT cluster_code, sum(emp) AS emp FROM cluster_timeseries WHERE year = $y AND region_type = 'state' GROUP BY 1",
        {"y": year},
    ).join(eff.select("cluster_code", "constant_emp"), on="cluster_code")
    assert (s["emp"] - s["constant_emp"]).abs().max() < 1e-6


def test_no_growth_from_the_partial_years(warehouse) -> None:
    cov = fetch_frame(
        warehouse,
        "SELECT year, sum(six_digit_emp) / sum(total_emp) AS coverage FROM region_indicators "
        "WHERE region_type = 'state' GROUP BY 1 ORDER BY 1",
    )
    assert cov.filter(pl.col("year") == 2002)["coverage"][0] < 0.9  # construction, wholesale detail absent
    ci = fetch_frame(
        warehouse,
        "SELECT c.year, c.base_year, c.cagr, c.growth_basis, r.coverage FROM cluster_indicators AS c "
        "JOIN region_indicators AS r USING (year, region_type, region_code) WHERE c.region_type = 'state'",
    )
    assert ci.filter(pl.col("coverage") < 0.95)["growth_basis"].unique().to_list() == ["partial_coverage"]
    assert ci.filter(pl.col("coverage") < 0.95)["cagr"].null_count() == ci.filter(pl.col("coverage") < 0.95).height
    bases = fetch_frame(
        warehouse,
        "SELECT DISTINCT c.region_code, c.base_year, r.coverage FROM cluster_indicators AS c "
        "JOIN region_indicators AS r ON r.year = c.base_year AND r.region_type = c.region_type "
        "AND r.region_code = c.region_code WHERE c.region_type = 'state' AND c.cagr IS NOT NULL",
    )
    assert bases["coverage"].min() >= 0.95
