"""US reference tables (cluster definitions, regions, NAICS concordance): fetched, parsed and
staged as one Parquet per table, with a JSON list of the raw-archive records they came from."""

from __future__ import annotations

import polars as pl

from pipelines.config import Settings
from pipelines.layout import reference_dir
from pipelines.raw.http import fetch
from pipelines.sources import clustermapping, naics
from pipelines.staging.files import write_json_atomic, write_staging_parquet

REFERENCE_TABLES = (
    "clusters", "cluster_naics", "naics_cluster_splits", "subclusters", "naics_subclusters",
    "related_clusters", "regions", "region_members", "naics_concordance",
)  # fmt: skip




def stage_reference(settings: Settings) -> dict[str, int]:
    """Fetch and parse the US reference files; write one Parquet per reference table."""
    raws = {
        key: fetch(source_id, None, settings, mirror_id=source_id)
        for key, source_id in clustermapping.IDS.items()
    }
    raws["naics_concordance"] = fetch(naics.CONCORDANCE_ID, None, settings, mirror_id=naics.CONCORDANCE_ID)
    clusters, cluster_naics = clustermapping.parse_cluster_definitions(raws["cluster_naics_definitions"].path)
    concordance = naics.parse_concordance(raws["naics_concordance"].path)
    derived, splits = [], []
    for target in ("2017", "2022"):
        d, s = naics.derive_definitions(cluster_naics, concordance, target)
        derived.append(d)
        splits.append(s)
    regions, members = clustermapping.complete_regions(
        *clustermapping.parse_regions(raws["regions"].path),
        clustermapping.parse_bea_counties(raws["bea_counties"].path),
    )
    tables = {
        "clusters": clusters,
        "cluster_naics": pl.concat([cluster_naics, *derived]),
        "naics_cluster_splits": pl.concat(splits),
        "subclusters": clustermapping.parse_subclusters(raws["subclusters"].path),
        "naics_subclusters": clustermapping.parse_naics_subclusters(raws["naics2012_cluster_subcluster"].path),
        "related_clusters": clustermapping.parse_related_clusters(raws["related_clusters"].path),
        "regions": regions,
        "region_members": members,
        "naics_concordance": concordance,
    }
    out = reference_dir(settings)
    counts = {name: write_staging_parquet(df, out / f"{name}.parquet") for name, df in tables.items()}
    write_json_atomic(out / "sources.json", [r.source_record() for r in raws.values()])
    return counts


def read_reference(settings: Settings, name: str) -> pl.DataFrame:
    path = reference_dir(settings) / f"{name}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"reference table {name} not staged yet ({path}); run stage_reference")
    return pl.read_parquet(path)
