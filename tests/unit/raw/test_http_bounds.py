"""Issue 20, at the boundary: a body one byte short of its Content-Length, a gzip-encoded body
past the decompression limits, a server that accepts and never answers (first-byte deadline, one
log line per retry naming the URL), the Retry-After cap and the total retry count."""

from __future__ import annotations

import gzip
import logging
import socket
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipelines.config import DEFAULT_HTTP_FIRST_BYTE_TIMEOUT, Settings
from pipelines.errors import SourceError
from pipelines.raw.http import fetch
from pipelines.raw.session import DEFAULT_RETRIES, RetryAfterTooLongError, make_session
from tests.helpers.loopback import silent

SID = "test/bounds"
MIB = 1 << 20


def _archived(settings: Settings) -> list[Path]:
    return [p for p in settings.raw_dir.rglob("*") if p.is_file() and ".tmp" not in p.parts]


def _send(conn: socket.socket, body: bytes, length: int) -> None:
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n".encode() + body)
    conn.close()


# --- Content-Length --------------------------------------------------------------------------


def test_a_body_one_byte_short_of_its_content_length_is_refused(loopback, upstream_settings: Settings) -> None:
    body = b"x" * 1000
    short = loopback(lambda conn, n, stop: _send(conn, body[:-1], len(body)))
    with pytest.raises(SourceError) as err:
        fetch(SID, short.url, upstream_settings, session=make_session(retries=0))
    msg = str(err.value)
    assert "truncated body: got 999 of 1000 bytes" in msg and short.url in msg and SID in msg, msg
    assert not _archived(upstream_settings)
    exact = loopback(lambda conn, n, stop: _send(conn, body, len(body)))
    assert fetch(SID, exact.url, upstream_settings, session=make_session(retries=0)).bytes == 1000


# --- gzip Content-Encoding -----------------------------------------------------------------------


def _gzip_zeros(mib: int) -> bytes:
    return gzip.compress(b"0" * (mib * MIB), compresslevel=6)


def test_a_gzip_encoded_body_stops_at_the_size_limit(httpserver: HTTPServer, tmp_path: Path) -> None:
    encoded = _gzip_zeros(64)  # 64 KiB on the wire, 64 MiB inflated
    httpserver.expect_request("/big").respond_with_response(
        Response(encoded, headers={"Content-Encoding": "gzip", "Content-Type": "application/zip"})
    )
    url = httpserver.url_for("/big")
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, max_uncompressed=8 * MIB, max_compression_ratio=1e9)
    tracemalloc.start()
    try:
        with pytest.raises(SourceError) as err:
            fetch(SID, url, settings, session=make_session(retries=0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(err.value)
    assert "gzip-encoded body inflates beyond 8 MiB (OBSERVATORY_MAX_UNCOMPRESSED)" in msg and url in msg and SID in msg, msg
    assert peak < 24 * MIB  # a few chunks, never the 64 MiB body
    assert not _archived(settings) and not list((settings.raw_dir / ".tmp").iterdir())


def test_a_gzip_encoded_body_stops_at_the_ratio_limit(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    httpserver.expect_request("/bomb").respond_with_response(Response(_gzip_zeros(16), headers={"Content-Encoding": "gzip"}))
    with pytest.raises(SourceError, match=r"inflates more than 200x its compressed size \(OBSERVATORY_MAX_COMPRESSION_RATIO\)"):
        fetch(SID, httpserver.url_for("/bomb"), upstream_settings, session=make_session(retries=0))
    text = b"".join(b"%d,%d\n" % (i, i * i) for i in range(200_000))  # 2.6 MB, ~4x: a real encoded body
    httpserver.expect_request("/ok").respond_with_response(Response(gzip.compress(text), headers={"Content-Encoding": "gzip"}))
    raw = fetch(SID, httpserver.url_for("/ok"), upstream_settings, session=make_session(retries=0))
    assert raw.path.read_bytes() == text


# --- a server that accepts and never answers -----------------------------------------------------


def test_a_dead_server_fails_at_the_first_byte_deadline(loopback, tmp_path: Path) -> None:
    dead = loopback(silent)
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_first_byte_timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(SourceError) as err:
        # a read timeout of 30 s per attempt and 5 retries: three minutes without the deadline
        fetch(SID, dead.url, settings, session=make_session(backoff=0.0), timeout=(2.0, 30.0))
    elapsed = time.monotonic() - t0
    msg = str(err.value)
    assert "no response within 1 s" in msg and "OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT" in msg, msg
    assert SID in msg and dead.url in msg and "\n" not in msg, msg
    assert elapsed < 10, elapsed
    assert not _archived(settings)


def test_each_retry_of_a_dead_server_logs_one_line_naming_the_url(loopback, tmp_path: Path, caplog) -> None:
    dead = loopback(silent)
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_first_byte_timeout=1.0)
    with caplog.at_level(logging.WARNING, logger="pipelines.raw.session"), pytest.raises(SourceError, match="OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT"):
        fetch(SID, dead.url, settings, session=make_session(backoff=0.0), timeout=(2.0, 0.3))
    lines = [r.getMessage() for r in caplog.records if r.name == "pipelines.raw.session"]
    assert 1 <= len(lines) < DEFAULT_RETRIES, lines  # attempts every 0.3 s until the 1 s deadline (~3)
    assert len(lines) == dead.connections - 1  # one line per retry
    assert all(line.startswith(dead.url + ": ReadTimeoutError") for line in lines), lines


def test_first_byte_deadline_setting() -> None:
    assert DEFAULT_HTTP_FIRST_BYTE_TIMEOUT <= 120 and Settings().http_first_byte_timeout == DEFAULT_HTTP_FIRST_BYTE_TIMEOUT


def test_first_byte_deadline_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT", "45")
    assert Settings.from_env().http_first_byte_timeout == 45.0
    monkeypatch.setenv("OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT", "never")
    with pytest.raises(ValueError, match="OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT"):
        Settings.from_env()


# --- the session's limits, at the boundary -------------------------------------------------------


def test_retry_after_cap_at_the_boundary() -> None:
    retry = make_session(retry_after_max=60).get_adapter("http://example.test").max_retries
    assert retry.parse_retry_after("60") == 60
    with pytest.raises(RetryAfterTooLongError, match="cap of 60 s"):
        retry.parse_retry_after("61")


def test_retry_after_just_over_the_cap_fails_without_sleeping(httpserver: HTTPServer, tmp_path: Path, monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("urllib3.util.retry.time.sleep", slept.append)
    httpserver.expect_request("/later").respond_with_response(Response("busy", 503, headers={"Retry-After": "3"}))
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_retry_after_max=2)
    with pytest.raises(SourceError, match="OBSERVATORY_HTTP_RETRY_AFTER_MAX"):
        fetch(SID, httpserver.url_for("/later"), settings)
    assert slept == [] and len(httpserver.log) == 1


def _busy_or_hang_up(conn: socket.socket, n: int, stop: threading.Event) -> None:
    """Even connections: 503; odd ones: closed without a response. Status and read retries alternate,
    so only the total count ends them."""
    if n % 2 == 0:
        conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
    conn.close()


def test_total_retries_over_mixed_failures(loopback, upstream_settings: Settings, monkeypatch) -> None:
    monkeypatch.setattr("urllib3.util.retry.Retry.get_backoff_time", lambda self: 0.0)
    flaky = loopback(_busy_or_hang_up)
    with pytest.raises(SourceError):
        fetch(SID, flaky.url, upstream_settings)  # the default session
    time.sleep(0.2)  # let the server thread count the last connection
    assert flaky.connections == 1 + DEFAULT_RETRIES == 6


def _busy_then_silent_then_ok(conn: socket.socket, n: int, stop: threading.Event) -> None:
    if n == 0:
        conn.sendall(b"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
        conn.close()
    elif n == 1:
        silent(conn, n, stop)  # no answer: the client's read times out
    else:
        _send(conn, b"payload", 7)


def test_a_server_that_answered_restarts_the_first_byte_clock(loopback, tmp_path: Path) -> None:
    """503 + Retry-After 1 s, then one attempt without an answer (0.3 s), then the file: the
    deadline (1 s) counts from the end of the wait the server asked for, not from the first request."""
    srv = loopback(_busy_then_silent_then_ok)
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_first_byte_timeout=1.0)
    raw = fetch(SID, srv.url, settings, session=make_session(backoff=0.0), timeout=(2.0, 0.3))
    assert raw.bytes == 7 and srv.connections == 3


def _busy_dripping_then_ok(conn: socket.socket, n: int, stop: threading.Event) -> None:
    """First a 503 whose body drips for 20 s (each read well within the read timeout), then the file."""
    if n > 0:
        _send(conn, b"payload", 7)
        return
    conn.sendall(b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    for _ in range(100):
        time.sleep(0.2)
        conn.sendall(b"1\r\n.\r\n")
    conn.sendall(b"0\r\n\r\n")


def test_the_answer_retried_is_not_read(loopback, upstream_settings: Settings) -> None:
    """urllib3 reads a 503's body to the end before retrying: the session closes it unread."""
    srv = loopback(_busy_dripping_then_ok)
    start = time.monotonic()
    raw = fetch(SID, srv.url, upstream_settings, session=make_session(backoff=0.0))
    assert time.monotonic() - start < 3  # 20 s when the body is drained
    assert raw.bytes == 7 and srv.connections == 2
