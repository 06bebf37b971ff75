"""US Cluster Mapping Project reference data: cluster definitions, subclusters, regions.

These files have no single upstream URL; they come from the mirror by id (see MIRROR.md)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import xlrd

from pipelines.errors import SourceError

IDS = {
    "cluster_naics_definitions": "clustermapping/cluster_naics_definitions",
    "subclusters": "clustermapping/subclusters",
    "naics2012_cluster_subcluster": "clustermapping/naics2012_cluster_subcluster",
    "related_clusters": "clustermapping/related_clusters",
    "regions": "clustermapping/regions",
    "bea_counties": "clustermapping/bea_economic_areas_and_counties",
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


STATEWIDE = "999"  # CBP county files: county 999 of a state, establishments with no fixed location in it


def statewide_regions(regions: pl.DataFrame) -> pl.DataFrame:
    """County rows for the CBP "statewide" codes (XX999) of every state and territory.

    CBP county files carry, for each state, county 999: establishments with no fixed location
    within the state. It is not a place, but its rows are published, so it needs a name; the
    indicators never rank it (macro cbp_statewide in sql/common/macros.sql). Derived from the
    state's row (`derived_from`), no clustermapping_id."""
    states = regions.filter(pl.col("region_type").is_in(["state", "territory"]) & pl.col("region_code").str.contains(r"^[0-9]{2}$"))
    return states.select(
        pl.lit("county").alias("region_type"),
        (pl.col("region_code") + STATEWIDE).alias("region_code"),
        ("Statewide, " + pl.col("region_name")).alias("region_name"),
        ("Statewide, " + pl.col("region_short_name")).alias("region_short_name"),
        (pl.col("region_key") + "_statewide").alias("region_key"),
        pl.col("region_code").alias("state_code"),
        pl.lit(None, dtype=pl.String).alias("clustermapping_id"),
        ("region/" + pl.col("region_type") + "/" + pl.col("region_code")).alias("derived_from"),
    )


def parse_bea_counties(path: Path) -> pl.DataFrame:
    """BEA's county → economic area list (sheet "EA county definition"): fips, county (its name
    with the state, e.g. "Dade County, FL"), ea (3-digit BEA economic area)."""
    src = IDS["bea_counties"]
    try:
        sheet = xlrd.open_workbook(path, on_demand=True).sheet_by_name("EA county definition")
    except (xlrd.XLRDError, OSError, ValueError) as exc:
        raise SourceError(src, str(path), f"not a readable BEA county list: {exc}") from exc
    header = [str(v).strip() for v in sheet.row_values(0)]
    if header[:3] != ["FIPS", "County", "EA"]:
        raise SourceError(src, str(path), f"unexpected columns {header}; expected FIPS, County, EA, EA Name")
    rows = [[str(v).strip() for v in sheet.row_values(i)[:3]] for i in range(1, sheet.nrows)]
    df = pl.DataFrame(rows, schema=["fips", "county", "ea"], orient="row")
    bad = df.filter(~pl.col("fips").str.contains(r"^[0-9]{5}$") | ~pl.col("ea").str.contains(r"^[0-9]{3}$"))
    if bad.height:
        raise SourceError(src, str(path), "rows without a 5-digit FIPS or a 3-digit EA", rows=str(bad.head(5).rows()))
    return df


def former_counties(regions: pl.DataFrame, bea: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(region rows, economic-area member rows) for the counties BEA lists that clustermapping.us
    (current counties) does not: counties since split, merged or renamed, which CBP county files
    of their years carry (e.g. 02201 Prince of Wales-Outer Ketchikan, to 2007; 51560 Clifton
    Forge city, to 2001). Named as BEA names them; members of their BEA economic area
    (clustermapping.us codes economic area NNN as 57NNN). Statewide codes are left to
    statewide_regions."""
    counties = regions.filter(pl.col("region_type") == "county").select("region_code")
    new = bea.join(counties, left_on="fips", right_on="region_code", how="anti").filter(~pl.col("fips").str.ends_with(STATEWIDE))
    rows = new.select(
        pl.lit("county").alias("region_type"),
        pl.col("fips").alias("region_code"),
        pl.col("county").str.replace(r",\s*[A-Z]{2}$", "").alias("region_name"),
        pl.col("county").alias("region_short_name"),
        pl.col("county").str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "_").str.strip_chars("_").alias("region_key"),
        pl.col("fips").str.slice(0, 2).alias("state_code"),
        pl.lit(None, dtype=pl.String).alias("clustermapping_id"),
        pl.lit(IDS["bea_counties"]).alias("derived_from"),
    )
    areas = regions.filter(pl.col("region_type") == "economic_area").select("region_code")
    members = new.select(
        pl.lit("economic_area").alias("region_type"),
        ("57" + pl.col("ea")).alias("region_code"),
        pl.lit("county").alias("member_type"),
        pl.col("fips").alias("member_code"),
    ).join(areas, on="region_code", how="semi")
    return rows, members


def complete_regions(
    regions: pl.DataFrame, members: pl.DataFrame, bea: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """parse_regions' tables with the county codes CBP county files carry beyond clustermapping.us:
    the statewide codes, and the former counties (BEA's list) with their economic areas."""
    rows, more = former_counties(regions, bea)
    return (
        pl.concat([regions, statewide_regions(regions), rows]).sort("region_type", "region_code"),
        pl.concat([members, more]).sort("region_type", "region_code", "member_code"),
    )
