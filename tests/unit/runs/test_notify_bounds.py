"""Issue 20, bounded inputs: a failure notification reads the webhook's status, never its reply
body, and does not follow redirects (requests reads a redirect's body whole), so a webhook that
answers slowly, endlessly or hugely cannot hold the run or fill its memory."""

from __future__ import annotations

import logging
import time
import tracemalloc
from collections.abc import Iterator

from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipelines.runs.notify import notify

MIB = 1 << 20


def test_a_dripping_reply_is_not_waited_for(httpserver: HTTPServer) -> None:
    def drip() -> Iterator[bytes]:  # the status and headers go out with the first piece
        yield b"o"
        for _ in range(100):
            time.sleep(0.2)  # 20 s in all, each read well within the 5 s timeout
            yield b"k"

    httpserver.expect_request("/hook", method="POST").respond_with_response(Response(drip()))
    start = time.monotonic()
    assert notify("run failed", webhook_url=httpserver.url_for("/hook")) is True
    assert time.monotonic() - start < 3


def test_a_huge_reply_is_not_read_into_memory(httpserver: HTTPServer) -> None:
    piece = b"x" * MIB  # the server sends the same object 256 times: no allocation of its own

    def huge() -> Iterator[bytes]:
        for _ in range(256):
            yield piece

    httpserver.expect_request("/hook", method="POST").respond_with_response(
        Response(huge(), headers={"Content-Length": str(256 * MIB)})
    )
    tracemalloc.start()
    try:
        assert notify("run failed", webhook_url=httpserver.url_for("/hook")) is True
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * MIB, peak  # ~10 MB (the test server's buffers included); read, the reply took 540 MB


def test_a_redirect_is_not_followed(httpserver: HTTPServer, caplog) -> None:
    def drip() -> Iterator[bytes]:  # 20 s in all: requests would read it before deciding
        yield b"moved"
        for _ in range(100):
            time.sleep(0.2)
            yield b"."

    httpserver.expect_request("/hook", method="POST").respond_with_response(
        Response(drip(), status=307, headers={"Location": httpserver.url_for("/elsewhere")})
    )
    httpserver.expect_request("/elsewhere").respond_with_data("ok")
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="observatory.notify"):
        assert notify("run failed", webhook_url=httpserver.url_for("/hook")) is False
    assert time.monotonic() - start < 3
    assert [req.path for req, _ in httpserver.log] == ["/hook"]
    assert "answered HTTP 307: redirects are not followed; set OBSERVATORY_WEBHOOK_URL" in caplog.text
