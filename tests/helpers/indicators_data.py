"""Hand-made US cluster totals → cluster_indicators (sql/us/cluster_indicators.sql), for the tests
of ranking rules (custom regions' peers, statewide codes)."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.warehouse.indicators import build_indicator_tables
from pipelines.warehouse.sql import fetch_frame, register_frame

CLUSTERS = pl.DataFrame({"cluster_code": ["1", "2", "101"], "traded": [True, True, False]})
TOTALS_SCHEMA = {
    "year": pl.Int32, "region_type": pl.String, "region_code": pl.String, "cluster_code": pl.String,
    "emp": pl.Float64, "emp_reported": pl.Float64, "est": pl.Float64, "payroll": pl.Float64,
    "definition_vintage": pl.String,
}  # fmt: skip


def indicators(rows: list[tuple], groups: dict[str, tuple[str, list[str]]] | None = None) -> pl.DataFrame:
    """cluster_indicators of `rows` (TOTALS_SCHEMA tuples, CLUSTERS); `groups`: custom region code →
    (base type, members), as custom_regions (None: no custom_regions table)."""
    with duckdb.connect() as con:
        register_frame(con, "cluster_totals", pl.DataFrame(rows, schema=TOTALS_SCHEMA, orient="row"))
        register_frame(con, "clusters", CLUSTERS)
        if groups is not None:
            register_frame(con, "custom_regions", pl.DataFrame(
                {"region_type": ["custom"] * len(groups), "region_code": list(groups),
                 "region_name": list(groups), "base_type": [g[0] for g in groups.values()],
                 "nuts_version": [None] * len(groups), "members": [g[1] for g in groups.values()]},
                schema_overrides={"nuts_version": pl.String},
            ))  # fmt: skip
        build_indicator_tables(con)
        return fetch_frame(con, "SELECT * FROM cluster_indicators")
