"""EU cluster indicators: sql/eu/cluster_indicators.sql on the staged EU cluster totals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb
import polars as pl

from pipelines.warehouse.sql import SqlRunner, create_macros, fetch_frame

EU_DEFAULT_PARAMS: dict[str, Any] = {
    # European reference: countries in scope (None = all present) and, when fixed_reference,
    # only those present in every year, so stars and growth compare over time.
    "scope": None,
    "fixed_reference": False,
    # Children of one parent with several NUTS versions whose employment exceeds the parent's by
    # more than this share overlap: the older versions are not ranked.
    "overlap_tolerance": 0.01,
    # European Cluster Observatory (2011): size and focus = top 10 %, specialisation LQ >= 2 on
    # total regional employment.
    "eco2011_top_share": 0.10,
    "eco2011_lq": 2.0,
    # European Observatory for Clusters and Industrial Change (Panorama): size top 10 %,
    # specialisation LQ >= 2 (total employment), productivity = wage per person employed at least
    # 10 % above the cluster's European level (our default: the Panorama reports describe the
    # dimension; set the cut-off to the edition you reproduce).
    "panorama_top_share": 0.10,
    "panorama_lq": 2.0,
    "panorama_productivity_ratio": 1.10,
    # the US strong-cluster rule (pipelines.warehouse.indicators.DEFAULT_PARAMS), on the traded-base LQ
    "strong_lq_pct": 0.75,
    "size_pct": 0.25,
    "min_lq": 1.0,
    # growth only from sound bases (issue 19; pipelines.warehouse.indicators.DEFAULT_PARAMS):
    # SBS has no total row to measure coverage against, so min_coverage applies to no EU row
    "min_coverage": 0.95,
    "min_growth_base": 50.0,
}
EU_SQL = SqlRunner(EU_DEFAULT_PARAMS, "EU indicator")


def eu_indicators(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None, table: str = "eu_cluster_indicators") -> pl.DataFrame:
    """Run sql/eu/cluster_indicators.sql on table ``eu_cluster_totals``; creates ``table`` and
    returns it as a Polars frame."""
    p = dict(params or {})
    if p.get("scope") is not None:
        p["scope"] = [str(c) for c in p["scope"]]
    # custom_base_type (what a custom region is ranked among) comes with the staged totals; totals
    # built without region groups may lack it: their custom rows, if any, are then not ranked
    cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'eu_cluster_totals'"
    ).fetchall()}
    extra = "" if "custom_base_type" in cols else ", CAST(NULL AS VARCHAR) AS custom_base_type"
    con.execute(f"CREATE OR REPLACE TEMP VIEW eu_indicator_input AS SELECT *{extra} FROM eu_cluster_totals")
    create_macros(con)
    EU_SQL.create_table(con, table, "eu/cluster_indicators", p)
    return fetch_frame(con, f"SELECT * FROM {table}")
