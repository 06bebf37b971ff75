"""notes/ranking.md (issue 19): a reader sees what each custom region was ranked among and its
strong rows, read back from the indicator table."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.release.family_notes import NOTE_WRITERS, ranking_note
from pipelines.warehouse.indicators import build_indicator_tables
from pipelines.warehouse.sql import register_frame

C1 = {"S1": 300.0, "S2": 260.0, "S3": 250.0, "S4": 100.0, "S5": 80.0, "S6": 60.0, "S7": 40.0, "S8": 20.0}


def _con() -> duckdb.DuckDBPyConnection:
    rows = [(2011, "state", s, cl, e) for s, v in C1.items() for cl, e in (("1", v), ("2", 1000.0))]
    rows += [(2011, "custom", "NE", "1", C1["S1"] + C1["S2"]), (2011, "custom", "NE", "2", 2000.0)]
    t = pl.DataFrame(rows, schema=["year", "region_type", "region_code", "cluster_code", "emp"], orient="row")
    t = t.with_columns(pl.col("year").cast(pl.Int32), pl.col("emp").alias("emp_reported"), (pl.col("emp") / 10).alias("est"),
                       (pl.col("emp") * 40).alias("payroll"), pl.lit("2007").alias("definition_vintage"))
    con = duckdb.connect()
    register_frame(con, "cluster_totals", t)
    register_frame(con, "clusters", pl.DataFrame({"cluster_code": ["1", "2"], "traded": [True, True],
                                                  "cluster_name": ["Aerospace", "Other"]}))
    register_frame(con, "custom_regions", pl.DataFrame({
        "region_type": ["custom"], "region_code": ["NE"], "region_name": ["New England"], "base_type": ["state"],
        "nuts_version": [None], "members": [["S1", "S2"]]}, schema_overrides={"nuts_version": pl.String}))
    build_indicator_tables(con)
    return con


def test_note_says_what_each_custom_region_is_ranked_among() -> None:
    text = ranking_note(_con())
    assert "notes/ranking.md" in NOTE_WRITERS
    # one strong row of two flagged, among 8 states
    assert "| `cluster_indicators` | NE | state | 8 | 2011–2011 | 2 | 1 |" in text
    assert "NE, Aerospace (1), 2011: LQ" in text and "among the state regions → strong" in text


def test_no_note_without_the_column() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE cluster_indicators (year INTEGER, region_type VARCHAR)")
    assert ranking_note(con) is None
