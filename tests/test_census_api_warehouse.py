"""Census API pulls land in the harmonised table beside the CBP file rows, never doubling them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
from pytest_httpserver import HTTPServer

from pipelines import stage, warehouse
from pipelines.config import Settings
from pipelines.http import make_session
from pipelines.indicators import fetch_frame
from pipelines.sources import census_api

HEADER_07 = ["NAICS2007", "NAICS2007_LABEL", "EMP", "EMP_N", "EMP_F", "ESTAB", "PAYANN", "PAYANN_N", "state"]
HEADER_17 = ["NAICS2017", "NAICS2017_LABEL", "EMP", "EMP_N", "EMP_F", "ESTAB", "PAYANN", "PAYANN_N", "state"]


def test_api_rows_join_the_harmonised_table(httpserver: HTTPServer, mirror_dir: Path, tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, cbp_years=(2011,), eurostat=False)
    stage.stage_reference(settings)
    stage.stage_cbp(settings, 2011, "state")
    # 2011 aircraft in California is in the state file: the API copy must not double it.
    httpserver.expect_request("/data/2011/cbp").respond_with_json(
        [HEADER_07, ["336411", "Aircraft", "1", "G", None, "1", "1", "G", "06"]]
    )
    # 2018 is not in the files: the targeted pull adds it.
    httpserver.expect_request("/data/2018/cbp").respond_with_json(
        [HEADER_17, ["336411", "Aircraft", "56520", "G", None, "89", "7093651", "G", "06"]]
    )
    s = make_session(retries=0)
    for year in (2011, 2018):
        census_api.stage_cbp_api(settings, year, "06", ["336411"], base=httpserver.url_for("/data"), session=s)
    warehouse.build_us_indicators(settings)
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        rows = fetch_frame(
            con,
            "SELECT year, emp, source_id FROM industry_employment "
            "WHERE region_code = '06' AND industry_code = '336411' AND lfo = '-' ORDER BY year",
        )
    assert rows["year"].to_list() == [2011, 2018]
    assert rows["source_id"].to_list() == ["census/cbp/state/2011", "census/cbp-api/2018/state:06"]
    assert rows["emp"][1] == 56520
    sources = {s["source_id"] for s in census_api.staged_sources(settings)}
    assert sources == {"census/cbp-api/2011/state:06", "census/cbp-api/2018/state:06"}
    assert pl.read_parquet(census_api.staged_path(settings, 2018, "06")).height == 1
