"""US Cluster Mapping Project reference data: cluster definitions, subclusters, regions.

These files have no single upstream URL; they come from the mirror by id (see MIRROR.md)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.errors import SourceError

IDS = {
    "cluster_naics_definitions": "clustermapping/cluster_naics_definitions",
    "subclusters": "clustermapping/subclusters",
    "naics2012_cluster_subcluster": "clustermapping/naics2012_cluster_subcluster",
    "related_clusters": "clustermapping/related_clusters",
    "regions": "clustermapping/regions",
}
EXPECTED_CLUSTERS = 67
DEFINITION_VINTAGES = ("1997", "2002", "2007", "2012")


def _read(path: Path) -> pl.DataFrame:
    # The extract carries a few replacement characters in labels: decode leniently.
    return pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")


def _require(df: pl.DataFrame, cols: set[str], source: str, path: Path) -> None:
    missing = sorted(cols - set(df.columns))
    if missing:
        raise SourceError(source, str(path), f"missing columns {missing}; found {df.columns}")


def parse_cluster_definitions(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (clusters, cluster_naics) from the definitions extract."""
    src = IDS["cluster_naics_definitions"]
    df = _read(path)
    _require(df, {"cluster_code", "cluster_name", "cluster_key", "traded", "naics_vintage", "naics"}, src, path)
    df = df.with_columns(
        pl.col("cluster_code").str.strip_chars(),
        pl.col("naics").str.strip_chars(),
        pl.col("naics_vintage").str.strip_chars(),
        (pl.col("traded").str.to_lowercase() == "true").alias("traded"),
    )
    bad = df.filter(
        ~pl.col("naics").str.contains(r"^[0-9]{6}$")
        | ~pl.col("naics_vintage").is_in(DEFINITION_VINTAGES)
        | ~pl.col("cluster_code").str.contains(r"^[0-9]+$")
    )
    if bad.height:
        raise SourceError(src, str(path), "malformed definition rows", rows=str(bad.head(10)))
    dup = df.filter(pl.struct("naics_vintage", "naics").is_duplicated())
    if dup.height:
        raise SourceError(src, str(path), "NAICS code assigned to two clusters", rows=str(dup.head(10)))
    clusters = (
        df.group_by("cluster_code")
        .agg(pl.col("cluster_name").first(), pl.col("cluster_key").first(), pl.col("traded").first())
        .with_columns(
            pl.when(pl.col("traded")).then(pl.lit("traded")).otherwise(pl.lit("local")).alias("cluster_type")
        )
        .sort(pl.col("cluster_code").cast(pl.Int32))
    )
    if clusters.height != EXPECTED_CLUSTERS:
        raise SourceError(src, str(path), f"expected {EXPECTED_CLUSTERS} clusters, found {clusters.height}")
    cluster_naics = df.select(
        "naics_vintage",
        "naics",
        "cluster_code",
        pl.col("naics_label").alias("naics_title") if "naics_label" in df.columns else pl.lit(None, pl.String).alias("naics_title"),
        pl.lit(1.0).alias("weight"),
        pl.lit(None, dtype=pl.String).alias("derived_from"),
    )
    return clusters, cluster_naics


def parse_subclusters(path: Path) -> pl.DataFrame:
    df = _read(path)
    _require(df, {"cluster_code", "sub_code", "sub_name"}, IDS["subclusters"], path)
    return df.select(
        pl.col("cluster_code").str.strip_chars(),
        pl.col("sub_code").str.strip_chars().str.replace(r"\.0$", ""),
        "sub_name",
    )


def parse_naics_subclusters(path: Path) -> pl.DataFrame:
    df = _read(path)
    _require(df, {"cluster_code", "sub_code", "naics"}, IDS["naics2012_cluster_subcluster"], path)
    return df.select(
        pl.lit("2012").alias("naics_vintage"),
        pl.col("naics").str.strip_chars(),
        pl.col("cluster_code").str.strip_chars(),
        pl.col("sub_code").str.strip_chars().str.replace(r"\.0$", ""),
        *[c for c in ("sub_source",) if c in df.columns],
    )


def parse_related_clusters(path: Path) -> pl.DataFrame:
    df = _read(path)
    _require(df, {"cluster_code", "cluster_code_t"}, IDS["related_clusters"], path)
    return df.rename({"cluster_code_t": "related_cluster_code", "cluster_name_t": "related_cluster_name"}).select(
        pl.col("cluster_code").str.strip_chars(),
        pl.col("related_cluster_code").str.strip_chars(),
        "related_cluster_name",
        *[
            pl.col(c).cast(pl.Float64)
            for c in ("related_90", "related_i20_90", "related_i20_90_min", "related_percentage", "related_avg", "related_min")
            if c in df.columns
        ],
    )


def _state_equivalents(regions: pl.DataFrame) -> pl.DataFrame:
    """State rows for state codes the extract lists only as a single county-equivalent.

    clustermapping.us has 50 states: the District of Columbia (FIPS 11) is only county 11001,
    but CBP state files carry state 11, so without this row DC's indicators had no name. A
    state code with counties, no state row and exactly one county is that county; the new row
    says so in `derived_from` and has no clustermapping_id. Territories (Puerto Rico, 72) keep
    their own region type.
    """
    counties = regions.filter((pl.col("region_type") == "county") & pl.col("state_code").is_not_null())
    have = regions.filter(pl.col("region_type").is_in(["state", "territory"])).select("region_code")
    single = (
        counties.group_by("state_code").agg(pl.len().alias("n"), pl.all().first())
        .filter(pl.col("n") == 1)
        .join(have, left_on="state_code", right_on="region_code", how="anti")
    )  # fmt: skip
    return single.select(
        pl.lit("state").alias("region_type"),
        pl.col("state_code").alias("region_code"),
        "region_name",
        pl.col("region_name").alias("region_short_name"),
        pl.col("region_key").str.strip_chars_end("_").alias("region_key"),
        "state_code",
        pl.lit(None, dtype=pl.String).alias("clustermapping_id"),
        pl.col("clustermapping_id").alias("derived_from"),
    )


def parse_regions(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (regions, region_members). The US is region_type "country", code "US"."""
    src = IDS["regions"]
    df = _read(path)
    _require(df, {"region_code_t", "region_type_t", "name_t", "member_regions"}, src, path)
    is_us = (pl.col("region_type_t") == "country") & (pl.col("name_t") == "United States")
    # clustermapping.us calls BEA economic areas "economic"; the indicator tables say economic_area
    rtype = pl.col("region_type_t").replace({"economic": "economic_area"}).alias("region_type")
    regions = df.select(
        rtype,
        pl.when(is_us).then(pl.lit("US")).otherwise(pl.col("region_code_t")).alias("region_code"),
        pl.col("name_t").alias("region_name"),
        pl.col("region_short_name_t").alias("region_short_name"),
        pl.col("key_t").alias("region_key"),
        pl.col("region_state_code_t").alias("state_code"),
        pl.col("id").alias("clustermapping_id"),
        pl.lit(None, dtype=pl.String).alias("derived_from"),
    )
    regions = pl.concat([regions, _state_equivalents(regions)]).sort("region_type", "region_code")
    members = (
        df.filter(pl.col("member_regions").is_not_null() & (pl.col("member_regions") != ""))
        .select(
            rtype,
            pl.col("region_code_t").alias("region_code"),
            pl.col("member_regions").str.split(";").alias("m"),
        )
        .explode("m")
        .with_columns(pl.col("m").str.split("/").alias("parts"))
        .select(
            "region_type",
            "region_code",
            pl.col("parts").list.get(1).alias("member_type"),
            pl.col("parts").list.get(2).alias("member_code"),
        )
        .sort("region_type", "region_code", "member_code")
    )
    return regions, members
