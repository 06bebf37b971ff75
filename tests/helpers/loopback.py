"""Loopback servers for the faults a real HTTP server cannot produce: headers or a body that drip,
a body short of its Content-Length, a connection taken and never answered (over TLS too), a port
nobody listens on. The raw-layer tests script them per connection (tests/unit/raw/conftest.py
hands out `loopback`, closing every server at teardown)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator

# What a server does with the n-th connection (0-based) once the request is read; `stop` is set
# when the server closes (an answer that holds the connection open waits on it).
Answer = Callable[[socket.socket, int, threading.Event], None]


class LoopbackServer:
    """A loopback TCP server (TLS with `tls`): each connection, in a thread of its own, has its
    request read, then runs `answer`; the connection is closed when the answer returns."""

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None, path: str = "/cbp11st.zip") -> None:
        self.answer = answer
        self.tls = tls
        self.path = path
        self.connections = 0
        self.stop = threading.Event()
        self.opened: list[socket.socket] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + self.path

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            n, self.connections = self.connections, self.connections + 1
            self.opened.append(conn)
            threading.Thread(target=self._one, args=(conn, n), daemon=True).start()

    def _one(self, conn: socket.socket, n: int) -> None:
        with contextlib.suppress(OSError):
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
                self.opened.append(conn)
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            self.answer(conn, n, self.stop)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=3)
        for conn in self.opened:
            conn.close()
        self.sock.close()


@contextlib.contextmanager
def loopback_servers() -> Iterator[Callable[..., LoopbackServer]]:
    """A factory of LoopbackServer(answer, tls=None, path=...), every server closed on exit."""
    servers: list[LoopbackServer] = []

    def make(answer: Answer, tls: ssl.SSLContext | None = None, path: str = "/cbp11st.zip") -> LoopbackServer:
        servers.append(LoopbackServer(answer, tls, path))
        return servers[-1]

    try:
        yield make
    finally:
        for server in servers:
            server.close()


def silent(conn: socket.socket, n: int, stop: threading.Event) -> None:
    """Answer nothing and hold the connection open until the server closes: a dead server."""
    stop.wait()


@contextlib.contextmanager
def unaccepted(path: str = "/") -> Iterator[str]:
    """The URL of a listening socket nobody accepts from: the kernel takes the connection (its
    backlog) and the request, and no byte ever comes back."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
    finally:
        sock.close()


def refused(path: str = "/") -> str:
    """The URL of a loopback port nobody listens on: the connection is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}{path}"
