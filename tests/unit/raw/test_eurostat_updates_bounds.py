"""Issue 20, bounded inputs: the Eurostat sensor's metadata request reads its body streamed, at most
MAX_METADATA_BYTES (declared, chunked or gzip-encoded), within the first-byte and body deadlines of
every download, and fails with one line naming source, URL and limit."""

from __future__ import annotations

import gzip
import json
import re
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.eurostat_updates import (
    MAX_METADATA_BYTES,
    detect_eurostat_updates,
    eurostat_updated,
)
from pipelines.raw.session import make_session
from tests.helpers.loopback import unaccepted

PATH = "/statistics/1.0/data/sbs_x"
UPDATED = "2024-02-15T23:00:00+0100"
MIB = 1 << 20


def _doc(size: int) -> bytes:
    """A JSON-stat answer of exactly `size` bytes (padded with spaces)."""
    doc = json.dumps({"class": "dataset", "updated": UPDATED}).encode()
    return doc + b" " * (size - len(doc))


def _chunked(body: bytes, piece: int = MIB) -> Iterator[bytes]:
    for i in range(0, len(body), piece):
        yield body[i : i + piece]


def _ask(httpserver: HTTPServer, **kw) -> str:
    return eurostat_updated("sbs_x", base=httpserver.url_for("/"), session=make_session(retries=0), **kw)


def _refused(httpserver: HTTPServer, **kw) -> str:
    with pytest.raises(SourceError) as err:
        _ask(httpserver, **kw)
    msg = str(err.value)
    assert "\n" not in msg and "[eurostat/sbs_x]" in msg and httpserver.url_for(PATH) in msg, msg
    return msg


def test_cap_is_far_above_a_real_answer() -> None:
    # sbs_r_nuts06_r2's newest period as JSON-stat is ~1.5 MB (95,464 values, 8,951 flags)
    assert MAX_METADATA_BYTES == 32 * MIB


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_at_the_cap_is_read_one_byte_more_is_refused(httpserver: HTTPServer, chunked: bool) -> None:
    def serve(size: int) -> None:
        body = _doc(size)
        httpserver.clear()
        httpserver.expect_request(PATH).respond_with_response(
            Response(_chunked(body) if chunked else body, content_type="application/json")
        )

    serve(MAX_METADATA_BYTES)
    assert _ask(httpserver) == UPDATED
    serve(MAX_METADATA_BYTES + 1)
    msg = _refused(httpserver)
    assert "metadata body larger than 32 MiB (MAX_METADATA_BYTES" in msg, msg
    assert ("Content-Length 33554433" in msg) != chunked, msg  # a declared length is refused unread


def test_an_endless_body_stops_at_the_cap_in_bounded_memory(httpserver: HTTPServer) -> None:
    def endless() -> Iterator[bytes]:
        yield b'{"updated": "x", "value": {'
        while True:
            yield b'"1": 1.0, ' * 10_000

    httpserver.expect_request(PATH).respond_with_response(Response(endless(), content_type="application/json"))
    tracemalloc.start()
    try:
        msg = _refused(httpserver)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "larger than 32 MiB" in msg and re.search(r"stopped at 32(\.[0-9]+)? MiB", msg), msg
    assert peak < 2 * MAX_METADATA_BYTES  # the cap and some buffers (server included), never the endless body


def test_a_gzip_encoded_body_is_capped_decoded(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(_doc(MAX_METADATA_BYTES + 1))  # ~33 KB on the wire
    httpserver.expect_request(PATH).respond_with_response(Response(bomb, headers={"Content-Encoding": "gzip"}))
    assert "larger than 32 MiB (MAX_METADATA_BYTES" in _refused(httpserver)
    httpserver.clear()
    small = gzip.compress(_doc(4096))
    httpserver.expect_request(PATH).respond_with_response(Response(small, headers={"Content-Encoding": "gzip"}))
    assert _ask(httpserver) == UPDATED


def test_a_dripping_body_fails_at_the_deadline(httpserver: HTTPServer) -> None:
    def drip() -> Iterator[bytes]:
        yield b'{"updated": "x"'
        for _ in range(20):
            time.sleep(0.1)
            yield b" "
        yield b"}"

    httpserver.expect_request(PATH).respond_with_response(Response(drip(), content_type="application/json"))
    msg = _refused(httpserver, deadline=0.5)
    assert "deadline of 0.5 s (OBSERVATORY_HTTP_DEADLINE)" in msg, msg


def test_not_json_still_names_the_start_of_the_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data("<html>oops</html>", status=200)
    assert "metadata is not JSON (starts with '<html>oops</html>')" in _refused(httpserver)


def test_the_sensor_gives_up_on_a_dead_server_at_the_first_byte_deadline(tmp_path: Path) -> None:
    """A server that takes the connection and never answers (a listening socket nobody accepts
    from): the settings' first-byte deadline ends the request, not 4 reads of 60 s."""
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_first_byte_timeout=1.0)
    logged: list[str] = []
    start = time.monotonic()
    with unaccepted() as base:
        changed, cursor = detect_eurostat_updates(settings, ["sbs_x"], {}, base=base, log=logged.append)
    assert time.monotonic() - start < 10
    assert (changed, cursor) == ([], {})
    assert len(logged) == 1 and "skipping sbs_x: [eurostat/sbs_x]" in logged[0], logged
    assert "no response within 1 s" in logged[0] and "OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT" in logged[0], logged
    assert base + "statistics/1.0/data/sbs_x" in logged[0], logged


def test_the_sensor_reads_a_normal_answer(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request(PATH).respond_with_json({"class": "dataset", "updated": UPDATED})
    settings = Settings(warehouse=tmp_path / "wh", mirror=None)
    changed, cursor = detect_eurostat_updates(settings, ["sbs_x"], {}, base=httpserver.url_for("/"))
    assert changed == [f"sbs_x@{UPDATED}"] and cursor == {"sbs_x": UPDATED}
