"""User-defined region groups (the region-groups file): the EU ones go to EU staging, the US ones
are checked against the staged CBP rows and staged as the custom_regions table."""

from __future__ import annotations

import polars as pl

from pipelines.config import Settings
from pipelines.layout import custom_dir
from pipelines.staging.cbp import staged_cbp_paths
from pipelines.staging.files import write_staging_parquet
from pipelines.staging.region_groups import RegionGroup, check_groups, load_region_groups

US_BASE_TYPES = {"state", "county", "msa"}




def _groups(settings: Settings) -> list[RegionGroup]:
    return load_region_groups(settings.region_groups) if settings.region_groups else []


def eu_groups(settings: Settings) -> list[RegionGroup]:
    return [g for g in _groups(settings) if g.base_type not in US_BASE_TYPES]


def us_groups(settings: Settings) -> list[RegionGroup]:
    return [g for g in _groups(settings) if g.base_type in US_BASE_TYPES]


def stage_us_custom(settings: Settings) -> dict[str, int]:
    """Check the US region groups against the staged CBP rows and stage the groups table.

    Their cluster totals are the sums of the members' (sql/us/custom_cluster_totals.sql)."""
    groups = us_groups(settings)
    if groups:
        ind = pl.scan_parquet([str(p) for p in staged_cbp_paths(settings)])
        check_groups(ind, groups, f"region groups ({settings.region_groups})")
    write_staging_parquet(custom_regions_table(_groups(settings)), custom_dir(settings) / "custom_regions.parquet")
    return {"us_groups": len(groups)}


def custom_regions_table(groups: list[RegionGroup]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "region_type": ["custom"] * len(groups),
            "region_code": [g.code for g in groups],
            "region_name": [g.name for g in groups],
            "base_type": [g.base_type for g in groups],
            "nuts_version": [g.nuts_version for g in groups],
            "members": [list(g.members) for g in groups],
        },
        schema={
            "region_type": pl.String, "region_code": pl.String, "region_name": pl.String,
            "base_type": pl.String, "nuts_version": pl.String, "members": pl.List(pl.String),
        },
    )
