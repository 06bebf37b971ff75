"""Issue 20, bounded inputs: a server that sends its status line and then drips its headers (a
byte every 0.2 s, each read well inside the read timeout) fails a download and a HEAD once
OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT passes after the request, with one line naming source, URL
and setting; headers that are complete in time leave the body to its own deadline."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.http import fetch, head
from pipelines.raw.session import make_session

SID = "test/header-drip"
DRIP_FOR = 30.0  # seconds the server drips before it gives up: the bound if the watchdog is gone


class ScriptServer:
    """Loopback server: each connection (own thread) reads the request, then runs `script(conn)`."""

    def __init__(self, script: Callable[[socket.socket, threading.Event], None]) -> None:
        self.script = script
        self.stop = threading.Event()
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/cbp11st.zip"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            self.script(conn, self.stop)


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptServer]]:
    servers: list[ScriptServer] = []

    def make(script: Callable[[socket.socket, threading.Event], None]) -> ScriptServer:
        servers.append(ScriptServer(script))
        return servers[-1]

    yield make
    for s in servers:
        s.stop.set()
        s.sock.close()


def _drip(conn: socket.socket, stop: threading.Event) -> None:
    """Status line, then one header byte every 0.2 s for DRIP_FOR seconds; never a blank line."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n")
    line, end, i = b"X-Slow: y\r\n", time.monotonic() + DRIP_FOR, 0
    while time.monotonic() < end and not stop.wait(0.2):
        conn.sendall(line[i % len(line) : i % len(line) + 1])
        i += 1


def _timed(call: Callable[[], object]) -> tuple[float, BaseException | None]:
    """Run `call` in a thread joined with a timeout (a missing bound cannot hang the test)."""
    out: list[BaseException | None] = [None]

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the test
            out[0] = exc

    t0 = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=DRIP_FOR + 10)
    return time.monotonic() - t0, out[0]


def _check(elapsed: float, err: BaseException | None, url: str) -> None:
    assert elapsed < 6, f"still receiving headers after {elapsed:.1f} s (deadline 1 s)"
    assert isinstance(err, SourceError), repr(err)
    msg = str(err)
    assert "\n" not in msg and f"[{SID}]" in msg and url in msg, msg
    assert "no complete response headers within 1 s" in msg and "OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT" in msg, msg


def test_a_download_whose_headers_drip_ends_at_the_first_byte_deadline(serve, tmp_path: Path) -> None:
    server = serve(_drip)
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_first_byte_timeout=1.0, http_deadline=3.0)
    elapsed, err = _timed(
        lambda: fetch(SID, server.url, settings, session=make_session(backoff=0.0), timeout=(2.0, 30.0))
    )
    _check(elapsed, err, server.url)
    assert server.connections == 1  # the deadline is over once: no retry starts another wait
    assert not [p for p in settings.raw_dir.rglob("*") if p.is_file() and ".tmp" not in p.parts]


def test_a_head_whose_headers_drip_ends_at_the_first_byte_deadline(serve) -> None:
    server = serve(_drip)
    elapsed, err = _timed(lambda: head(SID, server.url, session=make_session(retries=3, backoff=0.0), first_byte=1.0))
    _check(elapsed, err, server.url)


def test_headers_in_time_leave_a_slow_body_to_the_body_deadline(serve, tmp_path: Path) -> None:
    """Headers drip for 0.4 s (inside 1 s); the body comes in two parts 0.7 s apart, the last well
    after 1 s from the request: the watchdog is off once the headers are in."""

    def slow_but_fine(conn: socket.socket, stop: threading.Event) -> None:
        for part in (b"HTTP/1.1 200 OK\r\n", b"Content-Length: 6\r\n", b"Connection: close\r\n", b"\r\n"):
            conn.sendall(part)
            stop.wait(0.1)
        for part in (b"a,b\n", b"1\n"):
            stop.wait(0.7)
            conn.sendall(part)

    server = serve(slow_but_fine)
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_first_byte_timeout=1.0, http_deadline=5.0)
    raw = fetch(SID, server.url, settings, session=make_session(retries=0), timeout=(2.0, 30.0))
    assert raw.bytes == 6 and raw.path.read_bytes() == b"a,b\n1\n"
