"""The US indicator tables: the rules in sql/us/ run through the SQL runner (pipelines/warehouse/sql.py),
from the warehouse or from researcher-supplied cluster totals."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.raw.http import fetch
from pipelines.sources import clustermapping
from pipelines.warehouse.sql import SqlRunner, create_macros, fetch_frame, register_frame

DEFAULT_PARAMS: dict[str, Any] = {
    "strong_lq_pct": 0.75,
    "strong10_lq_pct": 0.90,
    "size_pct": 0.25,
    "min_lq": 1.0,
    # Release gate (sql/checks/unmapped_share.sql): the largest share of a geography-year's
    # 6-digit employment that may map to no cluster in its NAICS vintage.
    "max_unmapped_share": 0.01,
}
# The indicator statements (sql/us/) and their parameters.
INDICATOR_SQL = SqlRunner(DEFAULT_PARAMS, "indicator")

# sql/us/region_coverage.sql's output, for an empty table when no industry rows are at hand.
REGION_COVERAGE_COLUMNS = (
    "year INTEGER, region_type VARCHAR, region_code VARCHAR, "
    "six_digit_emp DOUBLE, six_digit_emp_reported DOUBLE, total_emp DOUBLE"
)
TOTALS_COLUMNS = ["year", "region_type", "region_code", "cluster_code", "emp", "emp_reported", "est", "payroll"]


def build_cluster_tables(
    con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """From industry_employment + cluster_naics + clusters in `con`: totals and indicators."""
    create_macros(con)
    counts = {
        "cluster_totals": INDICATOR_SQL.create_table(con, "cluster_totals", "us/cluster_totals", params),
        "unmapped_industries": INDICATOR_SQL.create_table(con, "unmapped_industries", "us/unmapped_industries", params),
        "region_coverage": INDICATOR_SQL.create_table(con, "region_coverage", "us/region_coverage", params),
    }
    has_custom = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'custom_regions'"
    ).fetchall()[0][0]
    if has_custom:
        for table, sql_name in (("cluster_totals", "us/custom_cluster_totals"), ("region_coverage", "us/custom_region_coverage")):
            counts[table] = INDICATOR_SQL.insert_into(con, table, sql_name, params)
    if _has_table(con, "region_members"):  # economic areas from county rows (none without county files)
        for table, sql_name in (("cluster_totals", "us/economic_area_totals"), ("region_coverage", "us/economic_area_coverage")):
            counts[table] = INDICATOR_SQL.insert_into(con, table, sql_name, params)
    counts.update(build_indicator_tables(con, params))
    return counts


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = $n", {"n": name}).fetchall()[0][0])


def build_indicator_tables(
    con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """From cluster_totals + clusters in `con`: cluster_indicators and region_indicators.

    Coverage comes from region_coverage (built from industry_employment by build_cluster_tables);
    without it (cluster totals from elsewhere) there is no total row to compare with: NULL."""
    con.execute(f"CREATE TABLE IF NOT EXISTS region_coverage ({REGION_COVERAGE_COLUMNS})")
    return {
        "cluster_indicators": INDICATOR_SQL.create_table(con, "cluster_indicators", "us/cluster_indicators", params),
        "region_indicators": INDICATOR_SQL.create_table(con, "region_indicators", "us/region_indicators", params),
    }


def read_cluster_totals(path: Path) -> pl.DataFrame:
    """Researcher-supplied cluster totals (CSV or Parquet) in the documented columns."""
    if path.suffix.lower() == ".parquet":
        df = pl.read_parquet(path)
    else:
        df = pl.read_csv(path, infer_schema=False)
    missing = [c for c in TOTALS_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {TOTALS_COLUMNS}")
    out = df.select(
        pl.col("year").cast(pl.Int32),
        pl.col("region_type").cast(pl.String),
        pl.col("region_code").cast(pl.String),
        pl.col("cluster_code").cast(pl.String).str.strip_chars().str.replace(r"\.0$", ""),
        *[pl.col(c).cast(pl.Float64) for c in ("emp", "emp_reported", "est", "payroll")],
        # optional: the NAICS vintage of the definitions behind each row (fills vintage_break)
        *([pl.col("definition_vintage").cast(pl.String)] if "definition_vintage" in df.columns else []),
    )
    dup = out.filter(pl.struct("year", "region_type", "region_code", "cluster_code").is_duplicated())
    if dup.height:
        raise ValueError(f"{path}: duplicate keys (year, region_type, region_code, cluster_code):\n{dup.head(10)}")
    neg = out.filter(pl.any_horizontal(pl.col("emp", "emp_reported", "est", "payroll") < 0))
    if neg.height:
        raise ValueError(f"{path}: negative values:\n{neg.head(10)}")
    return out


def indicators_from_totals(
    totals: pl.DataFrame, clusters: pl.DataFrame, params: Mapping[str, Any] | None = None
) -> dict[str, pl.DataFrame]:
    """Indicators for cluster totals from any source, through the pipeline's SQL."""
    unknown = totals.join(clusters.select("cluster_code"), on="cluster_code", how="anti")
    if unknown.height:
        codes = sorted(unknown["cluster_code"].unique().to_list())[:20]
        raise ValueError(f"unknown cluster codes in totals: {codes}")
    if "definition_vintage" not in totals.columns:  # optional: without it vintage_break is null
        totals = totals.with_columns(pl.lit(None, dtype=pl.String).alias("definition_vintage"))
    with duckdb.connect() as con:
        register_frame(con, "cluster_totals", totals)
        register_frame(con, "clusters", clusters.select("cluster_code", "traded"))
        build_indicator_tables(con, params)
        return {
            name: fetch_frame(con, f"SELECT * FROM {name}")
            for name in ("cluster_indicators", "region_indicators")
        }


def reference_for_totals(settings: Any, release: Path | None = None) -> tuple[pl.DataFrame, pl.DataFrame | None, str]:
    """Clusters (and region names, when at hand) for `observatory indicators`: from a published
    release's reference tables when one is given, else from the mirror or the packaged copy in
    assets/reference, so a fresh clone or a researcher holding only a release can run it.

    Returns (clusters, regions or None, where they came from).
    """
    if release is not None:
        data = Path(release) / "data"
        path = data / "clusters.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"release {release} has no data/clusters.parquet (is it a release folder?)")
        regions = data / "regions.parquet"
        return (
            pl.read_parquet(path),
            pl.read_parquet(regions) if regions.is_file() else None,
            f"release {Path(release).name}",
        )
    sid = clustermapping.IDS["cluster_naics_definitions"]
    raw = fetch(sid, None, settings, mirror_id=sid)
    clusters, _ = clustermapping.parse_cluster_definitions(raw.path)
    rid = clustermapping.IDS["regions"]
    regions, _ = clustermapping.parse_regions(fetch(rid, None, settings, mirror_id=rid).path)
    return clusters, regions, raw.served_from


def unnamed_regions(indicators: pl.DataFrame, regions: pl.DataFrame) -> pl.DataFrame:
    """(region_type, region_code) pairs of an indicator table that no regions row names."""
    named = regions.filter(pl.col("region_name").is_not_null() & (pl.col("region_name") != ""))
    return (
        indicators.select("region_type", "region_code").unique()
        .join(named.select("region_type", "region_code"), on=["region_type", "region_code"], how="anti")
        .sort("region_type", "region_code")
    )  # fmt: skip
