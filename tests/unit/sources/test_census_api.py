"""Census CBP API route: URL building, documented JSON → harmonised rows, faults, redaction."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import polars as pl
import pytest
from werkzeug import Request, Response

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.archive import RawArchive
from pipelines.raw.session import make_session
from pipelines.sources.census_api import api_url, naics_variable, variables
from pipelines.staging.cbp import stage_cbp
from pipelines.staging.census_api import stage_cbp_api, staged_path, staged_paths
from pipelines.staging.harmonise import HARMONISED_SCHEMA

KEY = "TESTKEY-0123456789abcdef"
HEADER_2017 = ["NAICS2017", "NAICS2017_LABEL", "EMP", "EMP_N", "EMP_F", "ESTAB", "PAYANN", "PAYANN_N", "state"]
ROWS_2017 = [
    ["00", "Total for all sectors", "17382715", "G", None, "941326", "1341120813", "G", "06"],
    ["31-33", "Manufacturing", "1247010", "G", None, "38127", "95102235", "G", "06"],
    ["336411", "Aircraft manufacturing", "56520", "G", None, "89", "7093651", "G", "06"],
    ["336412", "Aircraft engine and engine parts manufacturing", "0", "S", None, "41", "0", "S", "06"],
]
HEADER_2015 = ["NAICS2012", "NAICS2012_LABEL", "EMP", "EMP_F", "ESTAB", "PAYANN", "PAYANN_F", "state"]
ROWS_2015 = [
    ["336411", "Aircraft manufacturing", "52344", None, "91", "6201234", None, "06"],
    ["336413", "Other aircraft parts", "0", "F", "102", "0", None, "06"],
]


@pytest.fixture
def settings(tmp_path, mirror_dir):
    """Mirror for the CBP files, online for the API (a local server)."""
    return Settings(warehouse=tmp_path / "warehouse", mirror=mirror_dir, offline=False)


def session():
    return make_session(retries=2, backoff=0.01, max_backoff=0.05)


def test_naics_variable_by_year():
    assert naics_variable(2011) == "NAICS2007"
    assert naics_variable(2012) == "NAICS2012"
    assert naics_variable(2016) == "NAICS2012"
    assert naics_variable(2017) == "NAICS2017"
    assert naics_variable(2022) == "NAICS2017"
    assert "EMP_N" in variables(2018) and "EMP_F" in variables(2015)


def test_api_url_has_documented_query():
    url = api_url(2018, "6", ["336411", "336412"], key=KEY)
    q = parse_qs(urlparse(url).query)
    assert urlparse(url).path == "/data/2018/cbp"
    assert q["for"] == ["state:06"]
    assert q["NAICS2017"] == ["336411", "336412"]
    assert q["key"] == [KEY]
    assert q["get"][0].split(",")[:3] == ["NAICS2017", "NAICS2017_LABEL", "EMP"]


def test_pull_lands_in_harmonised_schema(httpserver, settings):
    seen: list[dict] = []

    def handler(req: Request) -> Response:
        seen.append({k: req.args.getlist(k) for k in req.args})
        return Response(json.dumps([HEADER_2017, *ROWS_2017]), content_type="application/json;charset=utf-8")

    httpserver.expect_request("/data/2018/cbp").respond_with_handler(handler)
    out = stage_cbp_api(
        settings, 2018, "06", ["00", "31-33", "336411", "336412"], key=KEY,
        base=httpserver.url_for("/data"), session=session(),
    )
    assert seen[0]["key"] == [KEY] and seen[0]["for"] == ["state:06"]
    df = pl.read_parquet(out["path"])
    assert df.schema == pl.Schema(HARMONISED_SCHEMA)
    rows = {r["industry_code"]: r for r in df.iter_rows(named=True)}
    assert set(rows) == {"TOTAL", "31", "336411", "336412"}
    assert rows["336411"]["emp_reported"] == 56520 and rows["336411"]["payroll"] == 7093651
    assert rows["336411"]["classification"] == "NAICS2017" and rows["336411"]["region_code"] == "06"
    assert rows["336412"]["emp_reported"] is None and rows["336412"]["emp_nf"] == "S"
    assert rows["336412"]["payroll"] is None
    assert rows["TOTAL"]["industry_level"] == 0 and rows["31"]["industry_level"] == 2
    assert df["source_id"].unique().to_list() == ["census/cbp-api/2018/state:06"]
    # same table as the CBP files: the two stack without casts
    cbp = pl.read_parquet(stage_cbp(settings, 2011, "state")["path"])
    both = pl.concat([cbp, df])
    assert both.height == cbp.height + df.height
    # the key is redacted in the archive manifest and never written anywhere in the warehouse
    rec = RawArchive(settings.raw_dir).entries("census/cbp-api/2018/state:06")[0]
    assert "key=REDACTED" in rec["url"] and KEY not in rec["url"]
    assert out["url"] == rec["url"]
    for p in settings.warehouse.rglob("*"):
        if p.is_file():
            assert KEY.encode() not in p.read_bytes(), p


def test_pre_2017_flags_and_repeated_pulls_accumulate(httpserver, settings):
    httpserver.expect_ordered_request("/data/2015/cbp").respond_with_json([HEADER_2015, ROWS_2015[0]])
    httpserver.expect_ordered_request("/data/2015/cbp").respond_with_json([HEADER_2015, *ROWS_2015])
    base = httpserver.url_for("/data")
    stage_cbp_api(settings, 2015, "06", ["336411"], base=base, session=session())
    out = stage_cbp_api(settings, 2015, "06", ["336411", "336413"], base=base, session=session())
    df = pl.read_parquet(out["path"]).sort("industry_code")
    assert df["industry_code"].to_list() == ["336411", "336413"]  # upserted, no duplicates
    r = df.row(1, named=True)
    assert r["empflag"] == "F" and r["emp_imputed"] and r["emp"] == 750.0 and r["emp_reported"] is None
    assert r["classification"] == "NAICS2012"
    assert staged_paths(settings) == [Path(out["path"])]


def test_no_content_means_no_rows(httpserver, settings):
    httpserver.expect_request("/data/2018/cbp").respond_with_data("", status=204)
    out = stage_cbp_api(settings, 2018, "01", ["999999"], base=httpserver.url_for("/data"), session=session())
    assert out["rows"] == 0


@pytest.mark.parametrize(
    ("body", "ctype", "problem"),
    [
        ("<html><body>Invalid Key</body></html>", "text/html", "not Census API JSON"),
        ('[["NAICS2017","EMP","ESTAB","PAYANN","state"],["336411","12"', "application/json", "malformed JSON"),
        (json.dumps([["NAICS2017", "EMPLOYEES", "ESTAB", "PAYANN", "state"], ["336411", "1", "2", "3", "06"]]),
         "application/json", "missing ['EMP']"),
        (json.dumps([["NAICS2017", "EMP", "ESTAB", "PAYANN", "state"], ["336411", "1", "2", "3"]]),
         "application/json", "malformed row"),
        (json.dumps([["NAICS2017", "EMP", "ESTAB", "PAYANN", "state"], ["336411", "12x", "2", "3", "06"]]),
         "application/json", "malformed Census API row"),
    ],
    ids=["html-error-page", "malformed-json", "renamed-column", "short-row", "non-numeric"],
)
def test_bad_responses_fail_clearly(httpserver, settings, body, ctype, problem):
    httpserver.expect_request("/data/2018/cbp").respond_with_data(body, content_type=ctype)
    with pytest.raises(SourceError) as err:
        stage_cbp_api(settings, 2018, "06", ["336411"], key=KEY, base=httpserver.url_for("/data"), session=session())
    msg = str(err.value)
    assert problem in msg
    assert "census/cbp-api/2018/state:06" in msg and "/data/2018/cbp?" in msg
    assert KEY not in msg and "key=REDACTED" in msg
    assert not staged_path(settings, 2018, "06").exists()


def test_added_column_is_tolerated(httpserver, settings):
    header = [*HEADER_2017, "PAYQTR1"]
    rows = [[*ROWS_2017[2], "1700000"]]
    httpserver.expect_request("/data/2018/cbp").respond_with_json([header, *rows])
    out = stage_cbp_api(settings, 2018, "06", ["336411"], base=httpserver.url_for("/data"), session=session())
    df = pl.read_parquet(out["path"])
    assert df["qp1"].to_list() == [1700000]


def test_http_error_names_source_and_redacted_url(httpserver, settings):
    httpserver.expect_request("/data/2018/cbp").respond_with_data("error: unknown variable 'X'", status=400)
    with pytest.raises(SourceError, match="HTTP 400") as err:
        stage_cbp_api(settings, 2018, "06", ["336411"], key=KEY, base=httpserver.url_for("/data"), session=session())
    assert KEY not in str(err.value) and "census/cbp-api/2018/state:06" in str(err.value)
