"""`observatory serve`: a static file server that honours HTTP Range requests, for trying a release
the way a dashboard reads it (Polars, DuckDB httpfs, hyparquet fetch only the row groups a filter
needs). `python -m http.server` ignores Range and sends whole files, on which Polars fails.

For local testing only: loopback by default, read-only, no directory listing outside the root."""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single byte ranges (206 Partial Content / 416); counts the
    body bytes it sends in `server.bytes_sent` (the test reads it)."""

    def log_message(self, format: str, *args) -> None:
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self):  # type: ignore[override]
        spec = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not spec or not path.is_file():
            return super().send_head()
        m = RANGE.match(spec.strip())
        size = path.stat().st_size
        if not m or (not m.group(1) and not m.group(2)):
            return super().send_head()  # multiple or malformed ranges: the whole file
        if m.group(1):
            start, end = int(m.group(1)), min(int(m.group(2) or size - 1), size - 1)
        else:  # suffix: the last N bytes
            start, end = max(size - int(m.group(2)), 0), size - 1
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        f = path.open("rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Last-Modified", self.date_time_string(int(path.stat().st_mtime)))
        self.end_headers()
        self._remaining = end - start + 1
        return f

    def copyfile(self, source, outputfile) -> None:  # type: ignore[override]
        remaining = getattr(self, "_remaining", None)
        self._remaining = None
        sent = 0
        while remaining is None or sent < remaining:
            chunk = source.read(min(1 << 16, remaining - sent) if remaining is not None else 1 << 16)
            if not chunk:
                break
            outputfile.write(chunk)
            sent += len(chunk)
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.bytes_sent += sent  # type: ignore[attr-defined]


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8000, verbose: bool = False) -> http.server.ThreadingHTTPServer:
    """A threading server for `root` (port 0: any free port; see server.server_address)."""
    handler = functools.partial(RangeHandler, directory=os.fspath(root))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.bytes_sent = 0  # type: ignore[attr-defined]
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    server.verbose = verbose  # type: ignore[attr-defined]
    return server
