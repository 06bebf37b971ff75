"""BEA economic areas (clustermapping.us's main US regional unit) as a region type computed from
county rows: on GENERATED county files (the mirror has none), the area's cluster totals are the
sums of its member counties', across state lines; its map is drawn from the member counties."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.layout import reference_dir
from pipelines.release.catalog import maps
from pipelines.sources import cbp, geometry
from pipelines.staging.cbp import stage_cbp, staged_cbp_paths
from pipelines.staging.reference import stage_reference
from pipelines.warehouse.database import build_indicators
from pipelines.warehouse.sql import fetch_frame
from tests.helpers.cbp_files import county_file, write_zip
from tests.helpers.mini_mirror import add_generated_file, mirror_copy

# Known facts (clustermapping.us regions): Anchorage, AK economic area 57008 holds Anchorage
# (02020) and Fairbanks North Star (02090); Denver, CO 57045 holds Denver (08031) and, across the
# state line, Albany County, WY (56001). 336411 Aircraft Manufacturing is in cluster 1 (Aerospace
# Vehicles and Defense), 541511 Custom Computer Programming in cluster 6 (Business Services).
ROWS = [
    ("02020", "------", 150_000, 9_000, 8_000_000), ("02020", "336411", 1_000, 4, 90_000), ("02020", "541511", 2_000, 50, 150_000),
    ("02090", "------", 40_000, 2_500, 1_900_000), ("02090", "336411", 300, 2, 20_000), ("02090", "541511", 100, 9, 7_000),
    ("08031", "------", 450_000, 25_000, 30_000_000), ("08031", "336411", 50, 1, 4_000), ("08031", "541511", 9_000, 400, 900_000),
    ("56001", "------", 12_000, 1_100, 450_000), ("56001", "541511", 40, 6, 2_500),
]  # fmt: skip
MEMBERS = {"57008": ("02020", "02090"), "57045": ("08031", "56001")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> tuple[Settings, dict[str, pl.DataFrame]]:
    tmp = tmp_path_factory.mktemp("ea")
    mirror = mirror_copy(mirror_dir, tmp / "mirror")
    zpath = write_zip(tmp / "cbp11co.zip", "cbp11co.txt", county_file(ROWS))
    add_generated_file(mirror, cbp.source_id(2011, "county"), cbp.url(2011, "county"), zpath)
    settings = Settings(warehouse=tmp / "w", mirror=mirror, offline=True, cbp_years=(2011,), cbp_geos=("county",), eurostat=False)
    stage_reference(settings)
    stage_cbp(settings, 2011, "county")
    with duckdb.connect() as con:
        build_indicators(con, staged_cbp_paths(settings), reference_dir(settings))
        out = {t: fetch_frame(con, f"SELECT * FROM {t}") for t in ("cluster_totals", "cluster_indicators", "region_indicators", "regions", "region_members", "clusters")}
    return settings, out


def test_economic_areas_are_the_sums_of_their_member_counties(built) -> None:
    _, t = built
    ea = t["cluster_indicators"].filter(pl.col("region_type") == "economic_area")
    assert set(ea["region_code"]) == set(MEMBERS)  # areas with member counties in the file, none else
    emp = {(r["region_code"], r["cluster_code"]): r["emp"] for r in ea.iter_rows(named=True)}
    # by hand from the generated rows: Anchorage EA aerospace = 1,000 + 300; Denver EA business services = 9,000 + 40 (WY)
    assert emp[("57008", "1")] == pytest.approx(1_300) and emp[("57045", "6")] == pytest.approx(9_040)
    assert emp[("57045", "1")] == pytest.approx(50) and emp[("57008", "6")] == pytest.approx(2_100)
    county = t["cluster_totals"].filter(pl.col("region_type") == "county")
    for area, members in MEMBERS.items():
        want = county.filter(pl.col("region_code").is_in(members)).group_by("cluster_code").agg(pl.col("emp", "est", "payroll").sum())
        got = ea.filter(pl.col("region_code") == area).select("cluster_code", "emp", "est", "payroll").sort("cluster_code")
        assert got.join(want, on="cluster_code", suffix="_w").select(
            ((pl.col("emp") - pl.col("emp_w")).abs().max() < 1e-6) & ((pl.col("est") - pl.col("est_w")).abs().max() < 1e-6)
        ).item()
    # LQ against the sum of the economic areas: the traded shares compare like for like
    a = ea.filter((pl.col("region_code") == "57008") & (pl.col("cluster_code") == "1"))
    traded = ea.filter(pl.col("cluster_type") == "traded")
    share = 1_300 / traded.filter(pl.col("region_code") == "57008")["emp"].sum()
    nat = 1_350 / traded["emp"].sum()
    assert a["lq"][0] == pytest.approx(share / nat, rel=1e-9)
    # coverage: the members' total rows summed (150,000 + 40,000)
    cov = t["region_indicators"].filter((pl.col("region_type") == "economic_area") & (pl.col("region_code") == "57008"))
    assert cov.height == 1 and cov["coverage"][0] == pytest.approx(3_400 / 190_000, rel=1e-6)


def test_economic_areas_are_named_and_have_member_counties(built) -> None:
    _, t = built
    named = t["regions"].filter(pl.col("region_type") == "economic_area")
    assert dict(named.select("region_code", "region_name").iter_rows())["57045"] == "Denver-Aurora-Boulder, CO"
    members = t["region_members"].filter((pl.col("region_type") == "economic_area") & (pl.col("region_code") == "57045"))
    assert {"08031", "56001"} <= set(members["member_code"]) and set(members["member_type"]) == {"county"}


def test_an_economic_area_map_is_drawn_from_its_member_counties(built, tmp_path: Path, mirror_dir: Path) -> None:
    _, t = built
    folder = tmp_path / "release"
    (folder / "data").mkdir(parents=True)
    (folder / "geometry").mkdir()
    for name in ("regions", "region_members", "cluster_indicators", "clusters"):
        t[name].write_parquet(folder / "data" / f"{name}.parquet")
    _, url, fname = geometry.FILES["us_counties"]
    shutil.copy(mirror_dir / url.split("://", 1)[1], folder / "geometry" / fname)
    got = maps.region_shapes(folder, "economic_area", [("57045", "")])
    counties = geometry.topojson_shapes(folder / "geometry" / fname, "counties")
    member_codes = t["region_members"].filter(pl.col("region_code") == "57045")["member_code"].sort().to_list()
    assert got["regions"]["57045"]["name"] == "Denver-Aurora-Boulder, CO"
    assert got["regions"]["57045"]["d"] == "".join(counties[m][1] for m in member_codes if m in counties)
    assert counties["56001"][1] in got["regions"]["57045"]["d"]  # Albany County, WY: across the state line
    # the page's map layer: economic areas over the states' outlines, a base map (not "no data")
    data = maps.map_data(folder)
    layer = next(x for x in data["layers"] if x["id"] == "us_economic_area")
    assert [r[0] for r in layer["regions"]] == sorted(MEMBERS) and layer["ground"] == "us" and not layer["byYear"]
    assert data["grounds"]["us"]["d"] and data["grounds"]["us"]["nodata"] is False
