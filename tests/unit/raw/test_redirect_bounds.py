"""Issue 20, bounded inputs: requests reads a redirect's body whole before it follows the redirect
(and even when told not to follow it); every session of make_session closes it unread, so a
redirect that drips or never ends cannot hold a download, a HEAD or a notification."""

from __future__ import annotations

import time
from collections.abc import Iterator

from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipelines.config import Settings
from pipelines.raw.http import fetch
from pipelines.raw.session import make_session


def _dripping_redirect(httpserver: HTTPServer, to: str) -> None:
    def drip() -> Iterator[bytes]:  # 20 s in all, each read well within the read timeout
        yield b"moved"
        for _ in range(100):
            time.sleep(0.2)
            yield b"."

    httpserver.expect_request("/old.zip").respond_with_response(
        Response(drip(), status=302, headers={"Location": httpserver.url_for(to)})
    )


def test_a_download_follows_a_redirect_without_reading_its_body(
    httpserver: HTTPServer, upstream_settings: Settings
) -> None:
    _dripping_redirect(httpserver, "/new.zip")
    httpserver.expect_request("/new.zip").respond_with_data(b"the file")
    start = time.monotonic()
    rec = fetch("test/redirect", httpserver.url_for("/old.zip"), upstream_settings, session=make_session(retries=0))
    assert time.monotonic() - start < 3
    assert rec.bytes == len(b"the file") and rec.path.read_bytes() == b"the file"


def test_a_redirect_not_followed_is_not_read_either(httpserver: HTTPServer) -> None:
    _dripping_redirect(httpserver, "/new.zip")
    start = time.monotonic()
    with make_session(retries=0) as sess:
        resp = sess.get(httpserver.url_for("/old.zip"), allow_redirects=False, timeout=5)
    assert time.monotonic() - start < 3
    assert resp.status_code == 302 and resp.is_redirect
