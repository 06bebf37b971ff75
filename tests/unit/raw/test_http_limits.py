"""HTTP limits: the default retry count, a Retry-After beyond the cap, an overall download
deadline (a server dripping bytes), redirect loops. Each ends in a SourceError naming source and
URL, quickly, with nothing archived."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from urllib3.util.retry import Retry
from werkzeug import Response

from pipelines.config import DEFAULT_HTTP_DEADLINE, Settings
from pipelines.errors import SourceError
from pipelines.raw.http import fetch
from pipelines.raw.session import DEFAULT_RETRIES, make_session

SID = "test/limits"


def _archived(settings: Settings) -> list[Path]:
    return [p for p in settings.raw_dir.rglob("*") if p.is_file() and ".tmp" not in p.parts]


def test_default_retry_count_is_five(httpserver: HTTPServer, upstream_settings: Settings, monkeypatch) -> None:
    monkeypatch.setattr(Retry, "get_backoff_time", lambda self: 0.0)  # count attempts, not sleep
    calls = []
    httpserver.expect_request("/flaky").respond_with_handler(lambda req: calls.append(1) or Response("busy", 503))
    url = httpserver.url_for("/flaky")
    assert DEFAULT_RETRIES == 5
    with pytest.raises(SourceError, match="HTTP 503"):
        fetch(SID, url, upstream_settings)  # the default session
    assert len(calls) == 1 + 5  # the first attempt and five retries
    calls.clear()
    with pytest.raises(SourceError, match="HTTP 503"):
        fetch(SID, url, upstream_settings, session=make_session())
    assert len(calls) == 6
    assert not _archived(upstream_settings)


@pytest.mark.parametrize("header", ["7200", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_retry_after_beyond_the_cap_fails_instead_of_sleeping(httpserver: HTTPServer, tmp_path: Path, header: str) -> None:
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_retry_after_max=60)
    httpserver.expect_request("/later").respond_with_response(Response("slow down", 429, headers={"Retry-After": header}))
    url = httpserver.url_for("/later")
    t0 = time.monotonic()
    with pytest.raises(SourceError) as err:
        fetch(SID, url, settings)
    assert time.monotonic() - t0 < 5
    msg = str(err.value)
    assert SID in msg and url in msg and "OBSERVATORY_HTTP_RETRY_AFTER_MAX" in msg and "cap of 60 s" in msg, msg
    assert not _archived(settings)


def test_retry_after_within_the_cap_is_honoured(httpserver: HTTPServer, tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_retry_after_max=60)
    httpserver.expect_ordered_request("/soon").respond_with_response(Response("wait", 503, headers={"Retry-After": "1"}))
    httpserver.expect_ordered_request("/soon").respond_with_data(b"payload")
    t0 = time.monotonic()
    raw = fetch(SID, httpserver.url_for("/soon"), settings)
    assert time.monotonic() - t0 >= 0.9  # it did wait the second it was asked to
    assert raw.bytes == len(b"payload")


def _drip(conn: socket.socket, n: int, stop: threading.Event) -> None:
    """Announces 1000 bytes, then sends one byte every 0.1 s (each read is short of any timeout)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n")
    for _ in range(1000):
        if stop.wait(0.1):
            return
        conn.sendall(b"x")


def test_dripping_server_hits_the_download_deadline(loopback, tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_deadline=1.5)
    url = loopback(_drip, path="/slow.zip").url
    t0 = time.monotonic()
    with pytest.raises(SourceError) as err:
        fetch(SID, url, settings, session=make_session(retries=0), timeout=(2.0, 5.0))
    elapsed = time.monotonic() - t0
    msg = str(err.value)
    assert SID in msg and url in msg and "deadline of 1.5 s" in msg and "OBSERVATORY_HTTP_DEADLINE" in msg, msg
    assert elapsed < 5  # not the 100 s the drip would take
    assert not _archived(settings)
    assert not list((settings.raw_dir / ".tmp").glob("*"))


def test_redirect_loop_is_a_clear_error(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    httpserver.expect_request("/a").respond_with_response(Response("", 302, headers={"Location": "/b"}))
    httpserver.expect_request("/b").respond_with_response(Response("", 302, headers={"Location": "/a"}))
    url = httpserver.url_for("/a")
    t0 = time.monotonic()
    with pytest.raises(SourceError) as err:
        fetch(SID, url, upstream_settings, session=make_session(retries=0))
    assert time.monotonic() - t0 < 5
    msg = str(err.value)
    assert SID in msg and url in msg and "TooManyRedirects" in msg, msg
    assert not _archived(upstream_settings)


def test_http_limits_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OBSERVATORY_HTTP_RETRY_AFTER_MAX", "90")
    monkeypatch.setenv("OBSERVATORY_HTTP_DEADLINE", "600")
    s = Settings.from_env()
    assert (s.http_retry_after_max, s.http_deadline) == (90.0, 600.0)
    monkeypatch.setenv("OBSERVATORY_HTTP_DEADLINE", "soon")
    with pytest.raises(ValueError, match="OBSERVATORY_HTTP_DEADLINE"):
        Settings.from_env()


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("OBSERVATORY_HTTP_DEADLINE", "soon", "OBSERVATORY_HTTP_DEADLINE must be a number of seconds, got 'soon'"),
        ("OBSERVATORY_HTTP_DEADLINE", "0", "OBSERVATORY_HTTP_DEADLINE must be positive, got '0'"),
        ("OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT", "-1", "OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT must be positive, got '-1'"),
        ("OBSERVATORY_HTTP_RETRY_AFTER_MAX", "1m", "OBSERVATORY_HTTP_RETRY_AFTER_MAX must be a number of seconds, got '1m'"),
        (
            "OBSERVATORY_MAX_COMPRESSION_RATIO", "x10",
            "OBSERVATORY_MAX_COMPRESSION_RATIO must be a number (uncompressed / compressed bytes), got 'x10'",
        ),
        ("OBSERVATORY_MAX_COMPRESSION_RATIO", "0.99", "OBSERVATORY_MAX_COMPRESSION_RATIO must be at least 1, got '0.99'"),
        # NaN passed every bound (no comparison with it is true) and inf is no deadline at all
        ("OBSERVATORY_HTTP_DEADLINE", "nan", "OBSERVATORY_HTTP_DEADLINE must be a number of seconds, got 'nan'"),
        ("OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT", "inf", "OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT must be a number of seconds, got 'inf'"),
        (
            "OBSERVATORY_MAX_COMPRESSION_RATIO", "NaN",
            "OBSERVATORY_MAX_COMPRESSION_RATIO must be a number (uncompressed / compressed bytes), got 'NaN'",
        ),
    ],
)  # fmt: skip
def test_number_settings_name_the_variable_and_the_rule(monkeypatch, name: str, raw: str, message: str) -> None:
    """The operator reads these messages at start-up: each names the variable, what it wants and the value given."""
    monkeypatch.setenv(name, f" {raw} ")
    with pytest.raises(ValueError) as err:
        Settings.from_env()
    assert str(err.value) == message


def test_number_settings_bounds(monkeypatch) -> None:
    """Seconds must be above 0, a ratio at least 1 (the bound itself allowed); blank means the default."""
    monkeypatch.setenv("OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT", "0.001")
    monkeypatch.setenv("OBSERVATORY_MAX_COMPRESSION_RATIO", "1")
    monkeypatch.setenv("OBSERVATORY_HTTP_DEADLINE", "  ")
    s = Settings.from_env()
    assert (s.http_first_byte_timeout, s.max_compression_ratio, s.http_deadline) == (0.001, 1.0, DEFAULT_HTTP_DEADLINE)
