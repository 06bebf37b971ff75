"""County codes CBP county files carry beyond clustermapping.us's current counties: each state's
"statewide" code (XX999) and counties since split, merged or renamed (BEA's county list). Every
one gets a name, so a county run's release is not blocked by unnamed regions (region_named), and
a former county counts in its BEA economic area."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.config import PROJECT_ROOT
from pipelines.errors import SourceError
from pipelines.sources import clustermapping
from tests.helpers.fips import STATE_FIPS

PACKAGED = PROJECT_ROOT / "assets" / "reference" / "us-cluster-mapping"


@pytest.fixture(scope="module")
def completed() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    regions, members = clustermapping.parse_regions(PACKAGED / "regions.csv")
    bea = clustermapping.parse_bea_counties(PACKAGED / "bea_economic_areas_and_counties.xls")
    return regions, members, *clustermapping.complete_regions(regions, members, bea)


def _county(regions: pl.DataFrame, code: str) -> dict:
    return regions.filter(pl.col("region_type") == "county", pl.col("region_code") == code).row(0, named=True)


def test_every_state_has_a_named_statewide_code(completed) -> None:
    _, _, regions, _ = completed
    sw = regions.filter(pl.col("region_type") == "county", pl.col("region_code").str.ends_with("999"))
    assert set(sw["state_code"]) >= STATE_FIPS and (sw["region_code"] == sw["state_code"] + "999").all()
    ca = _county(regions, "06999")
    assert ca["region_name"] == "Statewide, California" and ca["derived_from"] == "region/state/06"
    assert ca["clustermapping_id"] is None
    assert _county(regions, "11999")["region_name"] == "Statewide, District of Columbia"


def test_former_counties_are_named_as_bea_names_them_and_join_their_economic_area(completed) -> None:
    regions0, members0, regions, members = completed
    pw = _county(regions, "02201")  # Prince of Wales-Outer Ketchikan, split in 2008 (02198, 02275 …)
    assert pw["region_name"] == "Prince of Wales-Outer Ketchikan Census Area"
    assert pw["region_short_name"] == "Prince of Wales-Outer Ketchikan Census Area, AK"
    assert pw["state_code"] == "02" and pw["derived_from"] == clustermapping.IDS["bea_counties"]
    assert _county(regions, "51560")["region_name"] == "Clifton Forge city"  # merged into Alleghany, 2001
    ea = members.filter(pl.col("member_code") == "02201")
    assert ea.select("region_type", "region_code").rows() == [("economic_area", "57008")]  # Anchorage, AK
    roanoke = members.filter(pl.col("member_code") == "51560")["region_code"].to_list()
    assert roanoke == ["57138"]
    assert regions0.filter(pl.col("region_type") == "economic_area", pl.col("region_code") == "57138")["region_name"].item() == "Roanoke, VA"
    # nothing clustermapping.us has is repeated or changed, and current counties keep their rows
    assert regions.select("region_type", "region_code").is_duplicated().sum() == 0
    assert regions0.join(regions, on=regions0.columns, how="anti", nulls_equal=True).height == 0
    assert members0.join(members, on=members0.columns, how="anti", nulls_equal=True).height == 0
    added = regions.join(regions0, on=["region_type", "region_code"], how="anti")
    assert added.filter(~pl.col("region_code").str.ends_with("999"))["derived_from"].unique().to_list() == [clustermapping.IDS["bea_counties"]]


def test_a_bad_bea_file_names_the_source_and_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bea.xls"
    bad.write_bytes(b"FIPS,County\n01001,x\n")
    with pytest.raises(SourceError) as err:
        clustermapping.parse_bea_counties(bad)
    assert clustermapping.IDS["bea_counties"] in str(err.value) and str(bad) in str(err.value)
