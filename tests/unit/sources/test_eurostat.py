"""Eurostat client and parsers: bulk TSV (mirror), SDMX 2.1 TSV, JSON-stat, flags, 413, 416."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from werkzeug.wrappers import Request, Response

from pipelines.errors import SourceError
from pipelines.raw.eurostat_client import EurostatClient
from pipelines.sources import eurostat as es
from pipelines.staging.eurostat import concat_long, harmonise_sbs, read_raw


def _write_gz(path: Path, text: str) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write(text)
    return path


SDMX_TSV = (
    "freq,nace_r2,indic_sbs,geo\\TIME_PERIOD\t2021 \t2022 \n"
    "A,C10,EMP_LOC_NR,DE\t1000 \t1100 p\n"
    "A,C10,EMP_LOC_NR,DE1\t: c\t400 \n"
    "A,C10,LOC_NR,DE\t50 \t: \n"
    "A,C10,WAGE_LOC_MEUR,DE\t33.6 \t0 n\n"
    "A,B-E,EMP_LOC_NR,DE\t5000 \t5100 \n"
    "A,C10,OTHER_IND,DE\t7 \t8 \n"
)


def test_bulk_tsv_from_mirror(settings):
    raws = EurostatClient(settings).fetch_dataset("sbs_r_nuts06_r2")
    assert len(raws) == 1 and raws[0].served_from.startswith("mirror:")
    lf = read_raw(raws[0], "eurostat/sbs_r_nuts06_r2", settings.staging_dir)
    assert lf.collect_schema().names() == ["nace_r2", "indic_sb", "geo", "time", "value", "flags"]
    df = lf.filter(pl.col("nace_r2") == "B", pl.col("geo").is_in(["AT", "AT1"])).collect()
    assert sorted(df["time"].unique().to_list()) == [str(y) for y in range(2008, 2016)]
    cell = df.filter(pl.col("indic_sb") == "V11210", pl.col("geo") == "AT", pl.col("time") == "2015")
    assert cell["value"].to_list() == [708.0] and cell["flags"].to_list() == [None]
    conf = df.filter(pl.col("indic_sb") == "V13320", pl.col("geo") == "AT1", pl.col("time") == "2014")
    assert conf["value"].to_list() == [None] and conf["flags"].to_list() == ["c"]


def test_sdmx_tsv_new_layout_and_harmonise(tmp_path):
    path = _write_gz(tmp_path / "sbs_r_nuts2021.tsv.gz", SDMX_TSV)
    long = es.parse_tsv(path, "eurostat/sbs_r_nuts2021", str(path), tmp_path)
    assert long.collect_schema().names() == ["freq", "nace_r2", "indic_sbs", "geo", "time", "value", "flags"]
    h = harmonise_sbs(long, dataset="sbs_r_nuts2021", source="eurostat/sbs_r_nuts2021", sha256="x", location="t").collect()
    de = h.filter(pl.col("region_code") == "DE", pl.col("industry_code") == "C10").sort("year")
    assert de["emp"].to_list() == [1000.0, 1100.0]
    assert de["empflag"].to_list() == [None, "p"]
    assert de["est"].to_list() == [50, None]  # ':' is null, never zero
    assert de["payroll"].to_list() == [33600, 0]  # EUR million -> EUR thousand; '0 n' is a real 0
    assert de["payroll_flag"].to_list() == [None, "n"]
    assert de["currency"].to_list() == ["EUR", "EUR"]
    de1 = h.filter(pl.col("region_code") == "DE1", pl.col("year") == 2021)
    assert de1["emp"].to_list() == [None] and de1["empflag"].to_list() == ["c"]
    assert de1["region_type"].to_list() == ["nuts1"]
    agg = h.filter(pl.col("industry_code") == "B-E")
    assert agg["industry_level"].unique().to_list() == [0]
    assert set(h["classification"].to_list()) == {"NACE_R2"}


@pytest.mark.parametrize(
    ("cell", "value", "flags"),
    [
        ("12345 p", 12345.0, "p"),
        (": c", None, "c"),
        ("0 n", 0.0, "n"),
        (":", None, None),
        (": ", None, None),
        ("1.5 bu", 1.5, "bu"),
        ("-0.7 ", -0.7, None),
        ("42", 42.0, None),
    ],
)
def test_cell_flags(cell, value, flags):
    v, f, ok = es.parse_cells(pl.col("c"))
    out = pl.DataFrame({"c": [cell]}).select(v.alias("v"), f.alias("f"), ok.alias("ok"))
    assert out.row(0) == (value, flags, True)


def test_malformed_cell_names_row(tmp_path):
    path = _write_gz(tmp_path / "bad.tsv.gz", "nace_r2,indic_sb,geo\\time\t2015 \nC10,V16110,AT\t12x34 \n")
    with pytest.raises(SourceError) as err:
        es.parse_tsv(path, "eurostat/bad", str(path), tmp_path)
    assert "12x34" in str(err.value) and "eurostat/bad" in str(err.value)


def test_not_a_tsv(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("<html>error</html>\n")
    with pytest.raises(SourceError, match="not an Eurostat TSV"):
        es.parse_tsv(path, "eurostat/x", str(path), tmp_path)


def test_jsonstat_sparse(tmp_path):
    doc = {
        "version": "2.0",
        "class": "dataset",
        "id": ["freq", "indic_sbs", "nace_r2", "geo", "time"],
        "size": [1, 2, 1, 3, 2],
        "dimension": {
            "freq": {"category": {"index": {"A": 0}}},
            "indic_sbs": {"category": {"index": {"EMP_LOC_NR": 0, "LOC_NR": 1}}},
            "nace_r2": {"category": {"index": ["C10"]}},
            "geo": {"category": {"index": {"AT": 0, "AT1": 1, "AT11": 2}}},
            "time": {"category": {"index": {"2021": 0, "2022": 1}}},
        },
        # flat index = ((indic * 3) + geo) * 2 + time
        "value": {"0": 100, "1": 110, "3": 60, "7": 9},
        "status": {"2": "c", "3": "p", "7": "bu"},
    }
    path = tmp_path / "ds.json"
    path.write_text(json.dumps(doc))
    df = es.parse_jsonstat(path, "eurostat/ds", str(path))
    assert df.columns == ["freq", "indic_sbs", "nace_r2", "geo", "time", "value", "flags"]
    rows = {(r["indic_sbs"], r["geo"], r["time"]): (r["value"], r["flags"]) for r in df.iter_rows(named=True)}
    assert rows == {
        ("EMP_LOC_NR", "AT", "2021"): (100.0, None),
        ("EMP_LOC_NR", "AT", "2022"): (110.0, None),
        ("EMP_LOC_NR", "AT1", "2021"): (None, "c"),
        ("EMP_LOC_NR", "AT1", "2022"): (60.0, "p"),
        ("LOC_NR", "AT", "2022"): (9.0, "bu"),
    }
    h = harmonise_sbs(df.lazy(), dataset="sbs_r_nuts2021", source="s", sha256="x", location="t").collect()
    assert h.filter(pl.col("region_code") == "AT", pl.col("year") == 2022)["est"].to_list() == [9]


# --- HTTP behaviour against a real local server -------------------------------------------------

def _client(settings, httpserver, **kw) -> EurostatClient:
    sleeps: list[float] = []
    client = EurostatClient(settings, base=httpserver.url_for("/api").rstrip("/"), sleep=sleeps.append, **kw)
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client


def _tsv_body(geos: list[str]) -> bytes:
    lines = ["freq,nace_r2,indic_sbs,geo\\TIME_PERIOD\t2021 "]
    lines += [f"A,C10,EMP_LOC_NR,{g}\t{10 * (i + 1)} " for i, g in enumerate(geos)]
    return gzip.compress(("\n".join(lines) + "\n").encode())


def test_413_is_polled_then_served(httpserver, upstream_settings):
    calls = {"n": 0}

    def handler(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            return Response("EXTRACTION queued", status=413)
        return Response(_tsv_body(["AT", "BE"]), content_type="application/octet-stream")

    httpserver.expect_request("/api/sdmx/2.1/data/sbs_r_nuts2021").respond_with_handler(handler)
    client = _client(upstream_settings, httpserver, backoff=1.0, max_polls=5)
    raws = client.fetch_dataset("sbs_r_nuts2021")
    assert calls["n"] == 3 and client.sleeps == [1.0, 2.0]
    df = read_raw(raws[0], "eurostat/sbs_r_nuts2021", upstream_settings.staging_dir).collect()
    assert sorted(df["geo"].to_list()) == ["AT", "BE"]


def test_413_gives_up_with_clear_error(httpserver, upstream_settings):
    httpserver.expect_request("/api/sdmx/2.1/data/sbs_r_nuts2021").respond_with_data("queued", status=413)
    client = _client(upstream_settings, httpserver, backoff=1.0, max_polls=3)
    with pytest.raises(SourceError) as err:
        client.fetch_dataset("sbs_r_nuts2021")
    msg = str(err.value)
    assert "still queued" in msg and "3 polls" in msg and "eurostat/sbs_r_nuts2021" in msg
    assert client.sleeps == [1.0, 2.0, 4.0]


def test_async_key_is_polled(httpserver, upstream_settings):
    key = "3f2b9c1e-0000-4a4a-9f9f-123456789abc"
    async_xml = (
        '<?xml version="1.0"?><S:Envelope><S:Body><ns0:syncResponse><status>SUBMITTED</status>'
        f"<key>{key}</key><label>ASYNCHRONOUS_RESPONSE</label></ns0:syncResponse></S:Body></S:Envelope>"
    )
    httpserver.expect_request("/api/sdmx/2.1/data/sbs_r_nuts2021").respond_with_data(async_xml, content_type="text/xml")
    states = iter(["SUBMITTED", "PROCESSING", "AVAILABLE"])
    httpserver.expect_request(f"/api/1.0/async/status/{key}").respond_with_handler(
        lambda r: Response(f"<status>{next(states)}</status>", content_type="text/xml")
    )
    httpserver.expect_request(f"/api/1.0/async/data/{key}").respond_with_data(_tsv_body(["DK01"]))
    client = _client(upstream_settings, httpserver, backoff=0.5)
    raws = client.fetch_dataset("sbs_r_nuts2021")
    df = read_raw(raws[0], "eurostat/sbs_r_nuts2021", upstream_settings.staging_dir).collect()
    assert df["geo"].to_list() == ["DK01"]
    assert client.sleeps == [0.5, 1.0]


def test_async_key_expired(httpserver, upstream_settings):
    httpserver.expect_request("/api/sdmx/2.1/data/ds").respond_with_data("<x><key>k1</key><status>SUBMITTED</status></x>")
    httpserver.expect_request("/api/1.0/async/status/k1").respond_with_data("<status>EXPIRED</status>")
    with pytest.raises(SourceError, match="EXPIRED"):
        _client(upstream_settings, httpserver).fetch_dataset("ds")


def test_416_splits_by_geo_and_concatenates(httpserver, upstream_settings):
    seen: list[list[str]] = []

    def handler(request: Request) -> Response:
        geos = request.args.getlist("geo")
        seen.append(geos)
        if not geos or len(geos) > 2:
            return Response("too many categories", status=416)
        return Response(_tsv_body(geos))

    httpserver.expect_request("/api/sdmx/2.1/data/sbs_r_nuts2021").respond_with_handler(handler)
    geos = ["AT", "BE", "BG", "CY", "CZ"]
    client = _client(upstream_settings, httpserver)
    raws = client.fetch_dataset("sbs_r_nuts2021", split_values={"geo": geos})
    assert len(raws) == 3  # [] -> 416; [AT,BE] ok; [BG,CY,CZ] -> 416 -> [BG] + [CY,CZ]
    assert seen[0] == [] and all(len(s) <= 3 for s in seen[1:])
    long = concat_long([read_raw(r, "eurostat/sbs_r_nuts2021", upstream_settings.staging_dir) for r in raws]).collect()
    assert sorted(long["geo"].to_list()) == geos


def test_416_without_split_dimension_fails(httpserver, upstream_settings):
    httpserver.expect_request("/api/sdmx/2.1/data/ds").respond_with_data("x", status=416)
    with pytest.raises(SourceError, match="nothing left to split"):
        _client(upstream_settings, httpserver).fetch_dataset("ds")


def test_mirror_url_matches_index():
    assert es.tsv_url("sbs_r_nuts06_r2") == (
        "https://ec.europa.eu/eurostat/api/dissemination/sdmx/2.1/data/sbs_r_nuts06_r2?format=TSV&compressed=true"
    )


def test_a_header_naming_a_year_twice_names_source_and_file(tmp_path: Path) -> None:
    path = tmp_path / "sbs_r_nuts06_r2.tsv"
    path.write_text(
        "nace_r2,indic_sb,geo\\time\t2010 \t2011 \t2010 \n"
        "C10,V16110,DK01\t100 \t110 \t120 \n"
    )
    with pytest.raises(SourceError) as err:
        read_raw(path, "eurostat/sbs_r_nuts06_r2", tmp_path / "work").collect()
    msg = str(err.value)
    assert "[eurostat/sbs_r_nuts06_r2]" in msg and "sbs_r_nuts06_r2.tsv" in msg, msg
    assert "period(s) ['2010'] more than once" in msg and "\n" not in msg, msg
