"""The documented settings matrix (issue 20): Eurostat on/off × region groups none / US only / EU
only / both × CBP geographies state / state+us, each of which must publish. One warehouse per
Eurostat value runs its four combinations in sequence, so staged CBP years and (for equal EU
groups) the staged Eurostat tables are shared; geographies never shrink along a sequence (a
narrower release is refused by design, pipelines/release/scope.py)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pipelines import cli
from pipelines.config import ASSETS_DIR
from pipelines.layout import read_latest
from pipelines.raw.mirror import load_mirror
from tests.helpers.mini_mirror import add_us_file, mirror_copy, shrink_eurostat

YEAR = 2011
EU_COUNTRIES = ("DK", "SE", "DE")  # the EU group's members (DK01, SE22) and Stuttgart's country
US_GROUP = """groups:
  - code: NEW_ENGLAND
    name: New England (CT, ME, MA, NH, RI, VT)
    base_type: state
    members: ["09", "23", "25", "33", "44", "50"]
"""
EU_GROUP = """groups:
  - code: MEDICON
    name: Medicon Valley (Greater Copenhagen and Skåne)
    base_type: nuts2
    nuts_version: "2021"
    members: [DK01, SE22]
"""
# Pairwise cover: every groups value meets both geography values once over the two sequences.
SEQUENCES = {
    True: [("none", "state"), ("us", "state"), ("eu", "state,us"), ("both", "state,us")],
    False: [("eu", "state"), ("both", "state"), ("none", "state,us"), ("us", "state,us")],
}


def groups_files(tmp: Path) -> dict[str, str]:
    """OBSERVATORY_REGION_GROUPS for each value: none is the empty string the README documents,
    both is the shipped assets/region_groups.yaml."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "us.yaml").write_text(US_GROUP)
    (tmp / "eu.yaml").write_text(EU_GROUP)
    return {"none": "", "us": str(tmp / "us.yaml"), "eu": str(tmp / "eu.yaml"), "both": str(ASSETS_DIR / "region_groups.yaml")}


def run_sequence(mirror_dir: Path, tmp_path: Path, monkeypatch, eurostat: bool) -> list[str]:
    """Run the sequence of `eurostat`; every step must publish a release that says what it covers."""
    mirror = mirror_copy(mirror_dir, tmp_path / "mirror", drop_years=[y for y in range(1998, 2030) if y != YEAR])
    add_us_file(mirror, YEAR, tmp_path / "us_work")
    shrink_eurostat(mirror, EU_COUNTRIES)
    groups = groups_files(tmp_path / "groups")
    wh = tmp_path / "wh"
    env = {
        "OBSERVATORY_WAREHOUSE": str(wh), "OBSERVATORY_MIRROR": str(mirror), "OBSERVATORY_OFFLINE": "1",
        "OBSERVATORY_CBP_YEARS": str(YEAR), "OBSERVATORY_EUROSTAT": "1" if eurostat else "0",
        "OBSERVATORY_RELEASE_CSV": "none", "DAGSTER_HOME": str(tmp_path / "dagster"),
    }  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    published = []
    try:
        for group, geos in SEQUENCES[eurostat]:
            monkeypatch.setenv("OBSERVATORY_REGION_GROUPS", groups[group])
            monkeypatch.setenv("OBSERVATORY_CBP_GEOS", geos)
            assert cli.main(["run"]) == 0, (eurostat, group, geos)
            version = read_latest(wh / "releases")["version"]
            assert version not in published, (eurostat, group, geos)
            check_release(wh / "releases" / version, eurostat, group, geos)
            published.append(version)
    finally:
        load_mirror.cache_clear()
    return published


def check_release(path: Path, eurostat: bool, group: str, geos: str) -> None:
    """The release holds what the settings asked for: EU tables, each group, the national reference."""
    pkg = json.loads((path / "datapackage.json").read_text())
    cov = pkg["coverage"]
    assert (cov["eurostat"], cov["cbp_geographies"], cov["cbp_years"]) == (eurostat, geos.split(","), [YEAR])
    tables = {Path(r["path"]).stem for r in pkg["resources"] if r.get("format") == "parquet"}
    assert ("eu_cluster_indicators" in tables) == eurostat
    ci = pl.read_parquet(path / "data" / "cluster_indicators.parquet", columns=["region_type", "region_code", "national_reference"])
    custom = set(ci.filter(pl.col("region_type") == "custom")["region_code"])
    assert custom == ({"NEW_ENGLAND"} if group in {"us", "both"} else set()), (group, custom)
    want_ref = "national rows" if "us" in geos.split(",") else "sum of regions"
    assert set(ci["national_reference"]) == {want_ref}
    if eurostat:
        eu = pl.read_parquet(path / "data" / "eu_industry_employment.parquet", columns=["region_code", "custom_name"])
        groups_eu = set(eu.filter(pl.col("custom_name").is_not_null())["region_code"])
        assert groups_eu == ({"MEDICON"} if group in {"eu", "both"} else set()), (group, groups_eu)
