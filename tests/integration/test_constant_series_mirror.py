"""Issue 19 on the mirror's real CBP state files: the constant-definition series leaves the NAICS
1997 years out, and where the concordance is nearly one-to-one (NAICS 2007 data, 2008–2011) the
national total of every cluster over 50,000 jobs agrees with the native definitions within 2 %;
NAICS 2002 codes split over clusters follow the employment that flowed to their successors (326199
Plastics no longer sends half, nor a tenth, of its jobs to Water Transportation); growth rates never
start in a partial-coverage year."""

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
    years = (2002, 2003, 2007, 2008, 2011)
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
    assert years.rows() == [(2003, "2002"), (2007, "2002"), (2008, "2007"), (2011, "2007")]
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


# NAICS 2002 years (2003–2007): |native / constant − 1| of every cluster over 50,000 jobs. Equal splits
# measured up to 46 % (Water Transportation −46 %, Plastics +37 %, Communications Equipment +26 %);
# splits by successor employment counted in full up to 21 % (a successor formed from several old
# codes counted in full for each: 336612 Boat Building drew 11.5 % of 326199 Plastics, 334515
# Instruments 38 % of 334220 Communications Equipment). Crediting each old code only with the
# employment that flowed to a successor (pipelines/warehouse/successor_flows.py) measures 4.7 % in
# 2003 and 4.6 % in 2007, all of it Communications Equipment (8): the part of 334220 that went to
# 334515 Instruments (≈11 % of it) is in cluster 23 on the 2012 definitions but in cluster 8 on the
# native 2002 ones, a real definition difference. Every other cluster is within 1 %. The bound is the
# measured worst case rounded up, so a rule that misallocates more than today fails; no cluster
# outside the named set may exceed 2 % (the material effects vintage_break flags stay the known ones).
NAICS_2002_BOUND = 0.05
NAICS_2002_MATERIAL = {"8"}


@pytest.mark.parametrize("year", [2003, 2007])
def test_naics_2002_years_split_codes_by_successor_employment(warehouse, year: int) -> None:
    eff = fetch_frame(warehouse, "SELECT * FROM definition_effect WHERE year = $y", {"y": year})
    big = eff.filter(pl.col("native_emp") > 50_000)
    assert big.height >= 50
    worst = big.sort(pl.col("definition_effect").abs(), descending=True).row(0, named=True)
    assert abs(worst["definition_effect"]) < NAICS_2002_BOUND, worst
    material = set(big.filter(pl.col("definition_effect").abs() > 0.02)["cluster_code"])
    assert material <= NAICS_2002_MATERIAL  # no cluster beyond the named ones
    splits = fetch_frame(warehouse, "SELECT * FROM constant_definition_splits WHERE naics = '326199'")
    assert set(splits["method"]) == {"employment"} and set(splits["successor_year"]) == {2008}
    # equal split: 0.5; Boat Building counted in full: 0.115; the flow into it: 0.003
    assert splits.filter(pl.col("cluster_code") == "50")["weight"][0] < 0.01


def test_every_split_code_keeps_all_its_employment(warehouse) -> None:
    """The weights of every split code sum to 1, and the national constant total over all clusters
    is the native one in every bridged year: employment is neither created nor lost."""
    sums = fetch_frame(
        warehouse, "SELECT naics_vintage, naics, sum(weight) AS w FROM constant_definition_splits GROUP BY ALL"
    )
    assert sums.height >= 10 and (sums["w"] - 1).abs().max() < 1e-12
    totals = fetch_frame(
        warehouse,
        "SELECT year, sum(native_emp) AS native, sum(constant_emp) AS constant FROM definition_effect "
        "WHERE constant_emp IS NOT NULL GROUP BY 1",
    )
    assert totals.height == 4 and ((totals["constant"] / totals["native"]) - 1).abs().max() < 1e-9


def test_water_transportation_2007_to_2008_is_not_a_definition_drop(warehouse) -> None:
    """Cluster 50's constant series 2007 → 2008 fell 39 % with equal splits (536k → 327k) while its
    native total grew 5.6 %; with 336612 Boat Building counted in full for 326199 Plastics it still
    fell 13.5 % (378k → 327k); with the flows it grows 5.2 % (311k → 327k), within a point of the
    native growth."""
    s = fetch_frame(
        warehouse,
        "SELECT year, sum(emp) AS emp, sum(native_emp) AS native FROM cluster_timeseries "
        "WHERE cluster_code = '50' AND region_type = 'state' AND year IN (2007, 2008) GROUP BY 1 ORDER BY 1",
    )
    (e07, n07), (e08, n08) = s.select("emp", "native").rows()
    assert n08 / n07 - 1 > 0  # native: growth
    assert abs((e08 / e07) - (n08 / n07)) < 0.01  # constant: the same growth (−39 %, then −13.5 % before)
