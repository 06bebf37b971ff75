"""Issue 20, bounded inputs: fetch's byte cap. A body one byte over the cap (declared, chunked,
gzip-encoded or endless) ends in one error naming source, URL and limit; nothing is archived and
no temp file stays behind; a body at the cap is archived whole."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.body import CHUNK, BodyCap
from pipelines.raw.http import fetch
from pipelines.raw.session import make_session

SID = "test/capped"
KIB = 1 << 10
CAP = BodyCap(64 * KIB, "TEST_CAP in tests/unit/raw/test_http_body_cap.py")


def _files(settings: Settings) -> list[Path]:
    """Everything under the raw archive, temp folder included."""
    return [p for p in settings.raw_dir.rglob("*") if p.is_file()]


def _pieces(body: bytes, piece: int = 4 * KIB) -> Iterator[bytes]:
    for i in range(0, len(body), piece):
        yield body[i : i + piece]


def _serve(httpserver: HTTPServer, body: bytes | Iterator[bytes], **headers: str) -> str:
    httpserver.clear()
    httpserver.expect_request("/answer.json").respond_with_response(Response(body, headers=headers))
    return httpserver.url_for("/answer.json")


def _fetch(url: str, settings: Settings, cap: BodyCap | None = CAP):
    # the deadline keeps a broken cap from filling the disk with the endless body
    return fetch(SID, url, settings, session=make_session(retries=0), cap=cap, deadline=10)


def _refused(url: str, settings: Settings) -> str:
    with pytest.raises(SourceError) as err:
        _fetch(url, settings)
    msg = str(err.value)
    assert "\n" not in msg and f"[{SID}]" in msg and url in msg, msg
    assert "download larger than 64 KiB (TEST_CAP in tests/unit/raw/test_http_body_cap.py)" in msg, msg
    assert not _files(settings), _files(settings)  # nothing archived, no temp file left
    return msg


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_at_the_cap_is_archived_one_byte_more_is_refused(
    httpserver: HTTPServer, upstream_settings: Settings, chunked: bool
) -> None:
    body = b"x" * CAP.max_bytes
    url = _serve(httpserver, _pieces(body) if chunked else body)
    assert _fetch(url, upstream_settings).bytes == CAP.max_bytes
    upstream_settings.raw_dir.rename(upstream_settings.warehouse / "raw-before")
    msg = _refused(_serve(httpserver, _pieces(body + b"x") if chunked else body + b"x"), upstream_settings)
    if chunked:
        assert "stopped at 64 KiB" in msg, msg  # 64 KiB + 1 B, shown to four digits
    else:
        assert "Content-Length 65537, refused unread" in msg, msg


def test_an_endless_body_stops_at_the_cap(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"[" * (4 * KIB)

    msg = _refused(_serve(httpserver, endless()), upstream_settings)
    # checked per chunk read (at most CHUNK = 1 MiB), before the chunk is written
    stopped = re.search(r"stopped at ([0-9.]+) (KiB|MiB)", msg)
    assert stopped, msg
    assert CAP.max_bytes < float(stopped[1]) * (KIB if stopped[2] == "KiB" else KIB * KIB) <= CAP.max_bytes + CHUNK


def test_a_gzip_encoded_body_is_capped_decoded(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    """The cap counts what reaches the disk: a 100-byte gzip of 64 KiB + 1 zeros is over it."""
    over = gzip.compress(b"0" * (CAP.max_bytes + 1))
    assert len(over) < KIB
    _refused(_serve(httpserver, over, **{"Content-Encoding": "gzip"}), upstream_settings)
    at = gzip.compress(b"0" * CAP.max_bytes)
    url = _serve(httpserver, at, **{"Content-Encoding": "gzip"})
    assert _fetch(url, upstream_settings).bytes == CAP.max_bytes


def test_no_cap_no_limit(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    """Downloads without a cap (the CBP and Eurostat files) keep their size: only time and the
    decompression limits bound them."""
    url = _serve(httpserver, b"x" * (4 * CAP.max_bytes))
    assert _fetch(url, upstream_settings, cap=None).bytes == 4 * CAP.max_bytes


def test_the_mirror_is_not_capped(tmp_path: Path, mirror_dir: Path) -> None:
    """The mirror's files are checked against its index (sha256): the cap is for servers."""
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir)
    url = "https://www2.census.gov/programs-surveys/cbp/datasets/2011/cbp11st.zip"
    rec = fetch("census/cbp/state/2011", url, settings, cap=CAP)
    assert rec.served_from.startswith("mirror") and rec.bytes > CAP.max_bytes
