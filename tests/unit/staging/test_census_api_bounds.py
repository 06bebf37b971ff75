"""Issue 20, bounded inputs: a Census API answer is read at most MAX_API_BYTES bytes (enforced as
it downloads). The largest real-shaped answer (all states, every NAICS code of a year, built from
the mirror's CBP state file with real NAICS titles) passes with a wide margin; a longer or endless
body ends in one error naming source, redacted URL and limit, archives nothing and leaves the
staged rows as they were."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.archive import RawArchive
from pipelines.raw.session import make_session
from pipelines.sources.census_api import MAX_API_BYTES, variables
from pipelines.staging.census_api import stage_cbp_api

KEY = "TESTKEY-0123456789abcdef"
YEAR = 2011
SID = f"census/cbp-api/{YEAR}/state:all"
MIB = 1 << 20


def _all_states_answer(mirror: Path) -> bytes:
    """What the API answers for every state and NAICS code of 2011, in its layout (one row a line,
    no spaces): the mirror's 90,693 state-file rows with the NAICS 2012 full titles as labels."""
    zpath = mirror / "www2.census.gov/programs-surveys/cbp/datasets/2011/cbp11st.zip"
    with zipfile.ZipFile(zpath) as z:
        cbp = pl.read_csv(io.BytesIO(z.read(z.namelist()[0])), infer_schema_length=0)
    titles = pl.read_csv(
        mirror / "reference/concordance/naics2012_titles_descriptions.csv", infer_schema_length=0
    ).select(pl.col("NAICS").alias("code"), pl.col("2012 NAICS Full Title").alias("label"))
    code = pl.col("NAICS").str.strip_chars("-/")
    rows = (
        cbp.with_columns(pl.when(code == "").then(pl.lit("00")).otherwise(code).alias("code"))
        .join(titles, on="code", how="left")
        .select(
            "code", pl.col("label").fill_null("Total for all sectors"), "EMP",
            pl.col("EMPFLAG").replace("", None), "EST", "AP", pl.col("AP_NF").replace("", None),
            pl.col("FIPSTATE"),
        )
        .rows()
    )
    lines = [json.dumps([*variables(YEAR), "state"], separators=(",", ":"))]
    lines += [json.dumps(list(r), separators=(",", ":")) for r in rows]
    return ("[" + ",\n".join(lines) + "]").encode()


def _stage(settings: Settings, httpserver: HTTPServer) -> dict:
    return stage_cbp_api(
        settings, YEAR, "*", key=KEY, base=httpserver.url_for("/data"), session=make_session(retries=0)
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # the deadline keeps a broken cap from filling the disk with the endless answer
    return Settings(warehouse=tmp_path / "warehouse", mirror=None, http_deadline=20)


def test_the_largest_real_answer_passes_with_a_wide_margin(
    httpserver: HTTPServer, settings: Settings, mirror_dir: Path
) -> None:
    body = _all_states_answer(mirror_dir)
    assert 5 * MIB < len(body) < 15 * MIB  # ~9 MB: the figure the cap's comment quotes
    assert MAX_API_BYTES == 64 * MIB and 5 * len(body) < MAX_API_BYTES
    httpserver.expect_request(f"/data/{YEAR}/cbp").respond_with_data(body, content_type="application/json")
    out = _stage(settings, httpserver)
    assert out["rows"] == 90_693 and out["source_id"] == SID


def _endless() -> Iterator[bytes]:
    yield b'[["NAICS2007","NAICS2007_LABEL","EMP","EMP_F","ESTAB","PAYANN","PAYANN_F","state"],\n'
    row = b'["336411","Aircraft manufacturing","56520",null,"89","7093651",null,"06"],\n'
    while True:
        yield row * 10_000


def test_an_endless_answer_stops_at_the_cap_and_loses_nothing(httpserver: HTTPServer, settings: Settings) -> None:
    small = [[*variables(YEAR), "state"], ["336411", "Aircraft manufacturing", "56520", None, "89", "7093651", None, "06"]]
    httpserver.expect_ordered_request(f"/data/{YEAR}/cbp").respond_with_json(small)
    httpserver.expect_ordered_request(f"/data/{YEAR}/cbp").respond_with_response(
        Response(_endless(), content_type="application/json")
    )
    staged = Path(_stage(settings, httpserver)["path"])
    before = staged.read_bytes()
    with pytest.raises(SourceError) as err:
        _stage(settings, httpserver)
    msg = str(err.value)
    assert "\n" not in msg and f"[{SID}]" in msg and "key=REDACTED" in msg and KEY not in msg, msg
    assert httpserver.url_for(f"/data/{YEAR}/cbp") in msg, msg
    assert "larger than 64 MiB (MAX_API_BYTES in pipelines/sources/census_api.py)" in msg, msg
    stopped = re.search(r"stopped at ([0-9.]+) MiB", msg)  # checked per chunk read (at most 1 MiB)
    assert stopped and 64 < float(stopped[1]) <= 65, msg
    assert staged.read_bytes() == before  # the staged rows of the earlier pull are untouched
    assert len(RawArchive(settings.raw_dir).entries(SID)) == 1  # only the earlier answer archived
    assert not list((settings.raw_dir / ".tmp").iterdir())


def test_a_declared_oversized_answer_is_refused_unread(httpserver: HTTPServer, settings: Settings) -> None:
    def huge() -> Iterator[bytes]:  # the server sends the headers with the first piece
        yield b"["
        raise AssertionError("more of the body was asked for")

    httpserver.expect_request(f"/data/{YEAR}/cbp").respond_with_response(
        Response(huge(), headers={"Content-Length": str(MAX_API_BYTES + 1)}, content_type="application/json")
    )
    with pytest.raises(SourceError, match=r"Content-Length 67108865, refused unread"):
        _stage(settings, httpserver)
    assert not RawArchive(settings.raw_dir).entries(SID)
