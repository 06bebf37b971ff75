"""Census API pulls land in the harmonised table beside the CBP file rows, never doubling them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
from pytest_httpserver import HTTPServer

from pipelines.config import Settings
from pipelines.raw.session import make_session
from pipelines.staging import census_api
from pipelines.staging.cbp import stage_cbp
from pipelines.staging.reference import stage_reference
from pipelines.warehouse import database
from pipelines.warehouse.sql import fetch_frame

HEADER_07 = ["NAICS2007", "NAICS2007_LABEL", "EMP", "EMP_N", "EMP_F", "ESTAB", "PAYANN", "PAYANN_N", "state"]
HEADER_17 = ["NAICS2017", "NAICS2017_LABEL", "EMP", "EMP_N", "EMP_F", "ESTAB", "PAYANN", "PAYANN_N", "state"]


def test_api_rows_join_the_harmonised_table(httpserver: HTTPServer, mirror_dir: Path, tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, cbp_years=(2011,), eurostat=False)
    stage_reference(settings)
    stage_cbp(settings, 2011, "state")
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
    database.build_us_indicators(settings)
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


def test_api_route_then_observatory_run(httpserver: HTTPServer, mirror_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """A successful API pull (the Dagster asset, as cbp_api_job runs it) must not break the next
    `observatory run`: its year=YYYY staging folders are read with the harmonised schema."""
    import dagster as dg

    from pipelines import cli
    from pipelines.defs import schedules
    from pipelines.defs.resources import observatory_resource

    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, offline=False, cbp_years=(2011,), eurostat=False)
    httpserver.expect_request("/data/2018/cbp").respond_with_json(
        [HEADER_17, ["336411", "Aircraft", "56520", "G", None, "89", "7093651", "G", "06"]]
    )
    (tmp_path / "dagster-api").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster-api")) as instance:
        pulled = dg.materialize(
            [schedules.cbp_api_pull],
            instance=instance,
            resources={"observatory": observatory_resource(settings), "census_api_client": schedules.CensusApiResource(base_url=httpserver.url_for("/data"))},
            run_config={"ops": {"cbp_api_pull": {"config": {"year": 2018, "state": "06", "naics": ["336411"]}}}},
        )
    assert pulled.success
    for name, value in {
        "OBSERVATORY_WAREHOUSE": str(settings.warehouse), "OBSERVATORY_MIRROR": str(mirror_dir), "OBSERVATORY_OFFLINE": "1",
        "OBSERVATORY_CBP_YEARS": "2011", "OBSERVATORY_EUROSTAT": "0", "DAGSTER_HOME": str(tmp_path / "dagster"),
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert cli.main(["run"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "published release " in out
    latest = json_load(settings.releases_dir / "latest.json")["version"]
    ie = pl.read_parquet(settings.releases_dir / latest / "data" / "industry_employment.parquet")
    assert ie.schema["year"] == pl.Int32
    api = ie.filter(pl.col("source_id") == "census/cbp-api/2018/state:06")
    assert api.select("year", "region_code", "industry_code", "emp").rows() == [(2018, "06", "336411", 56520.0)]


def json_load(path: Path) -> dict:
    import json

    return json.loads(path.read_text())
