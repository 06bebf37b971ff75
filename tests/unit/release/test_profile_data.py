"""The release page's data layer (catalog/data.py): the cells the profiles show, prepared in SQL —
the US wage against the national level, one EU row per region × cluster × year (newest NUTS
version), NUTS names from nuts_regions, and the index's per-region years."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from pipelines.release.catalog import data
from tests.helpers.release_samples import complete_table


def _write(folder: Path, tables: dict[str, pl.DataFrame]) -> None:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.write_parquet(folder / "data" / f"{name}.parquet")


@pytest.fixture
def release(tmp_path: Path) -> Path:
    rng = random.Random(2)
    us = {"year": [2011, 2011, 2011, 2010, 2011], "region_type": ["state", "state", "custom", "state", "economic_area"],
          "region_code": ["26", "06", "NE", "26", "064"], "cluster_code": ["4"] * 5, "cluster_type": ["traded"] * 5,
          "emp": [100.0, 300.0, 50.0, None, 80.0], "emp_reported": [100.0, 300.0, 50.0, None, 80.0],
          "payroll": [6000.0, 12000.0, 9000.0, None, 4000.0], "wage": [60000.0, 40000.0, 180000.0, None, 50000.0],
          "ranked_among": ["state", "state", "state", "state", "economic_area"]}  # fmt: skip
    eu = {"year": [2014, 2014, 2014], "region_type": ["nuts2"] * 3, "region_code": ["DE11", "DE11", "DEZZ"], "nuts_version": ["2013", "2021", "2021"],
          "cluster_code": ["4"] * 3, "cluster_type": ["traded"] * 3, "emp": [1.0, 142042.0, 5.0], "lq": [9.0, 3.5457, 50.0],
          "relative_wage": [1.0, 1.72, 1.0], "ranked": [True, True, False]}  # fmt: skip
    names = {"region_code": ["DE11", "DE11"], "nuts_version": ["2013", "2021"], "region_name": ["Stuttgart (old)", "Stuttgart"],
             "region_type": ["nuts2"] * 2, "level": [2, 2]}  # fmt: skip
    _write(tmp_path, {
        "cluster_indicators": complete_table("cluster_indicators", us, rng),
        "eu_cluster_indicators": complete_table("eu_cluster_indicators", eu, rng),
        "nuts_regions": complete_table("nuts_regions", names, rng),
        "clusters": complete_table("clusters", {"cluster_code": ["4"], "cluster_name": ["Automotive"], "cluster_type": ["traded"]}, rng),
        "regions": complete_table("regions", {"region_type": ["state", "state", "economic"], "region_code": ["26", "06", "064"],
                                              "region_name": ["Michigan", "California", "Detroit-Warren-Flint, MI"]}, rng),
    })  # fmt: skip
    return tmp_path


def test_cells_and_index(release: Path) -> None:
    con = data.connect(release)
    assert con is not None
    cells = {
        (r[0], r[1]): r[2:]
        for r in con.execute("SELECT region_code, year, wage_ratio, emp, lq, lq_rank, peers FROM cells WHERE cluster_code = '4'").fetchall()
    }
    # national wage over the states only (custom groups double-count them): 1000 × 18000 / 400 = 45000
    assert cells[("26", 2011)][0] == pytest.approx(60000 / 45000) and cells[("06", 2011)][0] == pytest.approx(40000 / 45000)
    # one EU row per region × cluster × year: the newest NUTS version's
    assert cells[("DE11", 2014)][1:3] == (142042.0, 3.5457) and cells[("DE11", 2014)][0] == pytest.approx(1.72)
    # ranked among the ranked regions only: the extra-regio row (LQ 50) is no peer
    assert cells[("DE11", 2014)][3:] == (1, 1) and cells[("DEZZ", 2014)][3] is None
    assert {cells[("26", 2011)][3], cells[("06", 2011)][3]} == {1, 2} and cells[("26", 2011)][4] == 2  # two states ranked
    # custom regions are not ranked among the regions of a type
    assert cells[("NE", 2011)][3:] == (None, None)
    idx = data.index(con)
    regions = {r[0]: r for r in idx["regions"]}
    assert regions["nuts2/DE11"][1] == "Stuttgart" and regions["state/26"][1] == "Michigan"
    assert regions["economic_area/064"][1] == "Detroit-Warren-Flint, MI"  # named from the regions table's 'economic' rows
    assert regions["state/26"][3] == [2011]  # 2010 has no employment: not a year to pick
    con.close()


def test_a_county_run_compares_wages_with_the_counties_and_never_ranks_a_statewide_code(tmp_path: Path) -> None:
    rng = random.Random(3)
    us = {"year": [2011] * 3, "region_type": ["county"] * 3, "region_code": ["26163", "26125", "26999"],
          "cluster_code": ["4"] * 3, "cluster_type": ["traded"] * 3, "emp": [100.0, 300.0, 100.0],
          "emp_reported": [100.0, 300.0, 100.0], "payroll": [6000.0, 12000.0, 2000.0],
          "wage": [60000.0, 40000.0, 20000.0], "lq": [1.5, 1.1, 9.0], "ranked_among": ["county", "county", None]}  # fmt: skip
    _write(tmp_path, {
        "cluster_indicators": complete_table("cluster_indicators", us, rng),
        "clusters": complete_table("clusters", {"cluster_code": ["4"], "cluster_name": ["Automotive"], "cluster_type": ["traded"]}, rng),
        "regions": complete_table("regions", {"region_type": ["county"] * 3, "region_code": ["26163", "26125", "26999"],
                                              "region_name": ["Wayne County", "Oakland County", "Statewide, Michigan"]}, rng),
    })  # fmt: skip
    con = data.connect(tmp_path)
    assert con is not None
    cells = {r[0]: r[1:] for r in con.execute("SELECT region_code, wage_ratio, lq_rank, peers FROM cells").fetchall()}
    # no state rows: the national wage is the counties' (the statewide code's jobs included), 1000 × 20000 / 500
    assert cells["26163"][0] == pytest.approx(60000 / 40000) and cells["26999"][0] == pytest.approx(20000 / 40000)
    # the statewide code (LQ 9) is no peer: Wayne is first of two counties
    assert cells["26163"][1:] == (1, 2) and cells["26125"][1:] == (2, 2) and cells["26999"][1] is None
    con.close()


def test_index_orders_tied_names_by_code(tmp_path: Path) -> None:
    """Regions of one name (the extra-regio codes of many countries) are listed by code, so two
    builds of the same release write the same page byte for byte."""
    rng = random.Random(3)
    codes = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}ZZ" for i in range(40)][::-1]
    n = len(codes)
    eu = {"year": [2014] * n, "region_type": ["nuts2"] * n, "region_code": codes, "nuts_version": ["2021"] * n,
          "cluster_code": ["4"] * n, "cluster_type": ["traded"] * n, "emp": [5.0] * n, "lq": [1.0] * n,
          "relative_wage": [1.0] * n, "ranked": [False] * n}  # fmt: skip
    names = {"region_code": codes, "nuts_version": ["2021"] * n, "region_name": ["Extra-Regio NUTS 2"] * n,
             "region_type": ["nuts2"] * n, "level": [2] * n}  # fmt: skip
    us = {"year": [2011], "region_type": ["state"], "region_code": ["26"], "cluster_code": ["4"], "cluster_type": ["traded"],
          "emp": [100.0], "emp_reported": [100.0], "payroll": [6000.0], "wage": [60000.0]}  # fmt: skip
    _write(tmp_path, {
        "cluster_indicators": complete_table("cluster_indicators", us, rng),
        "regions": complete_table("regions", {"region_type": ["state"], "region_code": ["26"], "region_name": ["Michigan"]}, rng),
        "eu_cluster_indicators": complete_table("eu_cluster_indicators", eu, rng),
        "nuts_regions": complete_table("nuts_regions", names, rng),
        "clusters": complete_table("clusters", {"cluster_code": ["4"], "cluster_name": ["Automotive"], "cluster_type": ["traded"]}, rng),
    })  # fmt: skip
    con = data.connect(tmp_path)
    assert con is not None
    listed = [r[0] for r in data.index(con)["regions"] if r[0].startswith("nuts2/")]
    con.close()
    assert listed == sorted(f"nuts2/{c}" for c in codes)
