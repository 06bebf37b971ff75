"""Reference data from the mirror: clusters, definitions per vintage, regions, concordance."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.sources import clustermapping, naics
from pipelines.staging.reference import read_reference, stage_reference


def test_stage_reference(settings: Settings) -> None:
    counts = stage_reference(settings)
    clusters = read_reference(settings, "clusters")
    assert counts["clusters"] == 67
    assert clusters.filter(pl.col("traded")).height == 51
    assert clusters.schema["cluster_code"] == pl.String
    defs = read_reference(settings, "cluster_naics")
    assert set(defs["naics_vintage"]) == {"1997", "2002", "2007", "2012", "2017", "2022"}
    # Published vintages: every code in exactly one cluster with weight 1.
    pub = defs.filter(pl.col("naics_vintage").is_in(["1997", "2002", "2007", "2012"]))
    assert pub["weight"].unique().to_list() == [1.0]
    assert pub.select(pl.struct("naics_vintage", "naics").is_duplicated().any()).item() is False
    # Derived vintages: weights per code sum to 1; splits are reported.
    derived = defs.filter(pl.col("naics_vintage").is_in(["2017", "2022"]))
    sums = derived.group_by("naics_vintage", "naics").agg(pl.col("weight").sum())
    assert (sums["weight"] - 1).abs().max() < 1e-12
    splits = read_reference(settings, "naics_cluster_splits")
    assert splits.height > 0 and (splits["weight"] < 1).all()
    assert splits["derived_from"].str.starts_with("NAICS2012:").all()
    regions = read_reference(settings, "regions")
    assert regions.filter(pl.col("region_type") == "state").height == 51  # 50 + the District of Columbia (derived)
    assert regions.filter((pl.col("region_type") == "country") & (pl.col("region_code") == "US")).height == 1
    members = read_reference(settings, "region_members")
    la = members.filter((pl.col("region_type") == "msa") & (pl.col("region_code") == "31080"))
    assert {"06037", "06059"} <= set(la["member_code"])


def test_2017_code_maps_to_the_cluster_of_its_2012_parent() -> None:
    cn = pl.DataFrame({"naics_vintage": ["2012", "2012"], "naics": ["211111", "211112"], "cluster_code": ["35", "46"]})
    conc = pl.DataFrame({
        "naics_2002": ["211111", "211112"], "naics_2007": ["211111", "211112"], "naics_2012": ["211111", "211112"],
        "naics_2017": ["211130", "211130"], "naics_2022": ["211130", "211130"],
    })
    derived, splits = naics.derive_definitions(cn, conc, "2017")
    assert sorted(derived["cluster_code"]) == ["35", "46"]
    assert derived["weight"].to_list() == [0.5, 0.5]
    assert splits.height == 2


def test_bad_definitions_file(tmp_path: Path) -> None:
    p = tmp_path / "defs.csv"
    p.write_text("cluster_code,cluster_name,cluster_key,traded,naics_vintage,naics\n1,A,a,True,2012,33641\n")
    with pytest.raises(SourceError, match="malformed definition rows"):
        clustermapping.parse_cluster_definitions(p)
    p.write_text("cluster_code,cluster_name,traded,naics\n1,A,True,336411\n")
    with pytest.raises(SourceError, match="missing columns"):
        clustermapping.parse_cluster_definitions(p)
