"""A webhook URL carries its secret in the path (Slack: /services/T…/B…/<token>): a notification
to a webhook that cannot be reached logs no URL, also not through the HTTP session's retry lines;
it tries again only while no connection was made, so a message is never posted twice."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from pipelines.runs.notify import ATTEMPTS, notify

SECRET = "XyZsecretWebhookToken0123"


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch) -> None:
    monkeypatch.setattr("pipelines.runs.notify.RETRY_WAIT", 0.0)


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: connections are refused
    return port


def test_an_unreachable_webhook_is_retried_and_never_named(caplog) -> None:
    url = f"http://127.0.0.1:{_free_port()}/services/T0/B0/{SECRET}"
    with caplog.at_level(logging.DEBUG):
        assert notify("run failed", webhook_url=url) is False
    assert SECRET not in caplog.text and "/services/" not in caplog.text, caplog.text
    lines = [r.getMessage() for r in caplog.records if r.name == "observatory.notify" and r.levelno == logging.WARNING]
    assert lines == [
        "notification webhook unreachable: ConnectionError; retry 1",
        "notification webhook unreachable: ConnectionError; retry 2",
        "notification webhook unreachable: ConnectionError",
    ], lines
    assert ATTEMPTS == 3


@pytest.fixture
def hangs_up() -> Iterator[tuple[str, list[int]]]:
    """A server that reads the request and closes the connection without an answer."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.1)
    seen: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.recv(65536)
            seen.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/services/T0/B0/{SECRET}", seen
    stop.set()
    thread.join(timeout=3)
    srv.close()


def test_a_message_that_went_out_is_not_sent_again(hangs_up, caplog) -> None:
    url, seen = hangs_up
    with caplog.at_level(logging.WARNING):
        assert notify("run failed", webhook_url=url) is False
    assert len(seen) == 1  # the webhook got the POST once, whatever it did with it
    assert SECRET not in caplog.text and "notification webhook unreachable: ConnectionError" in caplog.text
