"""Issue 20, bounded inputs: the CBP vintage sensor's HEAD requests wait for a server's first byte
at most OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT seconds, retries included, like every download; a
dead server is logged and skipped with one line naming source, URL and the setting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug import Response

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.http import head
from pipelines.raw.session import make_session
from pipelines.raw.vintages import detect_cbp_vintages
from tests.helpers.loopback import unaccepted

SID = "census/cbp/state/2011"


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A server that takes the connection (the kernel's backlog) and never answers."""
    with unaccepted("/cbp11st.zip") as url:
        yield url


def test_a_head_to_a_dead_server_ends_at_the_first_byte_deadline(dead_url: str) -> None:
    start = time.monotonic()
    with pytest.raises(SourceError) as err:
        # read timeouts of 30 s and 3 retries: two minutes without the deadline
        head(SID, dead_url, session=make_session(retries=3, backoff=0.0), first_byte=1.0)
    assert time.monotonic() - start < 10
    msg = str(err.value)
    assert "\n" not in msg and f"[{SID}]" in msg and dead_url in msg, msg
    assert "HEAD: no response within 1 s" in msg and "OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT" in msg, msg


def test_the_sensor_applies_the_first_byte_setting(dead_url: str, tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, cbp_years=(2011,), http_first_byte_timeout=1.0)
    logged: list[str] = []
    start = time.monotonic()
    found, cursor = detect_cbp_vintages(
        settings, url_for=lambda year, geo: dead_url, today=datetime(2012, 6, 1, tzinfo=UTC), log=logged.append
    )
    assert time.monotonic() - start < 10  # one HEAD (2011, state), its retries inside the 1 s
    assert (found, cursor) == ([], {})
    assert len(logged) == 1 and logged[0].startswith(f"skipping {SID}: [{SID}]"), logged
    assert "no response within 1 s" in logged[0] and dead_url in logged[0], logged


def test_the_sensor_applies_the_retry_after_cap(httpserver, tmp_path: Path, monkeypatch) -> None:
    """A Retry-After beyond OBSERVATORY_HTTP_RETRY_AFTER_MAX skips the HEAD at once, as for downloads."""
    slept: list[float] = []
    monkeypatch.setattr("urllib3.util.retry.time.sleep", slept.append)
    httpserver.expect_request("/cbp11st.zip", method="HEAD").respond_with_response(
        Response("", 503, headers={"Retry-After": "3"})
    )
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, cbp_years=(2011,), http_retry_after_max=2)
    logged: list[str] = []
    found, _ = detect_cbp_vintages(
        settings, url_for=lambda year, geo: httpserver.url_for("/cbp11st.zip"),
        today=datetime(2012, 6, 1, tzinfo=UTC), log=logged.append,
    )  # fmt: skip
    assert found == [] and slept == [] and len(httpserver.log) == 1
    assert len(logged) == 1 and "OBSERVATORY_HTTP_RETRY_AFTER_MAX" in logged[0], logged
