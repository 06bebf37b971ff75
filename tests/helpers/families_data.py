"""Small hand-made indicator tables for the indicator-family tests (tests/unit/warehouse/test_families_*.py)."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.staging.harmonise import cbp_naics_vintage
from pipelines.warehouse.sql import create_macros, register_frame


def indicator_rows(
    emp: dict[tuple[str, str], list[float]],
    years: list[int],
    *,
    region_type: str = "state",
    traded: set[str] | None = None,
    lq: dict[tuple[str, str], list[float]] | None = None,
    strong: dict[tuple[str, str], list[bool]] | None = None,
) -> pl.DataFrame:
    """cluster_indicators-like rows: emp[(region, cluster)] is a list over `years`; est = emp / 10."""
    rows = []
    for (region, cluster), values in emp.items():
        for i, y in enumerate(years):
            rows.append(
                {
                    "year": y,
                    "region_type": region_type,
                    "region_code": region,
                    "cluster_code": cluster,
                    "cluster_type": "traded" if traded is None or cluster in traded else "local",
                    "emp": values[i],
                    "est": None if values[i] is None else values[i] / 10,
                    "lq": (lq or {}).get((region, cluster), [1.0] * len(years))[i],
                    "strong": (strong or {}).get((region, cluster), [False] * len(years))[i],
                    "payroll": None,
                    # the definitions' vintage, as sql/us/cluster_totals.sql carries it (year rule here)
                    "definition_vintage": cbp_naics_vintage(y),
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "year": pl.Int32,
            "region_type": pl.String,
            "region_code": pl.String,
            "cluster_code": pl.String,
            "cluster_type": pl.String,
            "emp": pl.Float64,
            "est": pl.Float64,
            "lq": pl.Float64,
            "strong": pl.Boolean,
            "payroll": pl.Float64,
            "definition_vintage": pl.String,
        },
    )


# The emerging family's columns the backtest reads (hand-made family_emerging_clusters rows).
EMERGING_SCHEMA = {
    "region_type": pl.String,
    "region_code": pl.String,
    "cluster_code": pl.String,
    "window_start": pl.Int32,
    "window_end": pl.Int32,
    "emerging": pl.Boolean,
    "emerging_rule": pl.Boolean,
    "emerging_score": pl.Boolean,
    "score": pl.Float64,
    "strong_end": pl.Boolean,
    "lq_end": pl.Float64,
}


def connection(table: str, df: pl.DataFrame, *, industry: bool = True) -> duckdb.DuckDBPyConnection:
    """`df` as `table`, plus empty industry-level inputs of both sides unless `industry` is False
    (the diversification family then has no industry pieces: its entropies are null). The shared
    macros (sql/common/macros.sql) are created, as build_families does on the warehouse."""
    con = duckdb.connect()
    create_macros(con)
    register_frame(con, table, df)
    if industry:
        con.execute(
            "CREATE TABLE industry_employment (year INTEGER, region_type VARCHAR, region_code VARCHAR, "
            "classification VARCHAR, industry_code VARCHAR, industry_level TINYINT, lfo VARCHAR, emp DOUBLE)"
        )
        con.execute(
            "CREATE TABLE cluster_naics (naics_vintage VARCHAR, naics VARCHAR, cluster_code VARCHAR, weight DOUBLE)"
        )
        con.execute(
            "CREATE TABLE custom_regions (region_code VARCHAR, base_type VARCHAR, members VARCHAR[])"
        )
        con.execute(
            "CREATE TABLE eu_industry_employment (year INTEGER, region_type VARCHAR, region_code VARCHAR, "
            "nuts_version VARCHAR, source_id VARCHAR, classification VARCHAR, industry_code VARCHAR, "
            "industry_level TINYINT, emp DOUBLE)"
        )
        con.execute(
            "CREATE TABLE related_clusters (cluster_code VARCHAR, related_cluster_code VARCHAR, related_avg DOUBLE)"
        )
        con.execute(
            "CREATE TABLE nace_cluster_concordance (nace_code VARCHAR, cluster_code VARCHAR, weight DOUBLE)"
        )
    return con
