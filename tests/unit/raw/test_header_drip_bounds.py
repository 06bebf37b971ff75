"""Issue 20, bounded inputs: a server that sends its status line and then drips its headers (a
byte every 0.2 s, each read well inside the read timeout) fails a download and a HEAD once
OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT passes after the request, with one line naming source, URL
and setting; headers that are complete in time leave the body to its own deadline."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.http import fetch, head
from pipelines.raw.session import make_session

SID = "test/header-drip"
DRIP_FOR = 30.0  # seconds the server drips before it gives up: the bound if the watchdog is gone


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for 127.0.0.1, which the client trusts
    (requests takes the CA bundle from the environment over a session's `verify`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return ctx


def _drip(conn: socket.socket, n: int, stop: threading.Event) -> None:
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


def test_a_download_whose_headers_drip_ends_at_the_first_byte_deadline(loopback, tmp_path: Path) -> None:
    server = loopback(_drip)
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_first_byte_timeout=1.0, http_deadline=3.0)
    elapsed, err = _timed(
        lambda: fetch(SID, server.url, settings, session=make_session(backoff=0.0), timeout=(2.0, 30.0))
    )
    _check(elapsed, err, server.url)
    assert server.connections == 1  # the deadline is over once: no retry starts another wait
    assert not [p for p in settings.raw_dir.rglob("*") if p.is_file() and ".tmp" not in p.parts]


def test_a_head_whose_headers_drip_ends_at_the_first_byte_deadline(loopback) -> None:
    server = loopback(_drip)
    elapsed, err = _timed(lambda: head(SID, server.url, session=make_session(retries=3, backoff=0.0), first_byte=1.0))
    _check(elapsed, err, server.url)


def test_an_https_download_whose_headers_drip_ends_at_the_first_byte_deadline(loopback, tls, tmp_path: Path) -> None:
    """Over TLS the watchdog cuts the raw socket under the TLS layer; the certificate is still verified."""
    server = loopback(_drip, tls)
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_first_byte_timeout=1.0, http_deadline=3.0)
    session = make_session(backoff=0.0)
    elapsed, err = _timed(lambda: fetch(SID, server.url, settings, session=session, timeout=(2.0, 30.0)))
    _check(elapsed, err, server.url)


def _slow_but_fine(conn: socket.socket, n: int, stop: threading.Event) -> None:
    """Headers in four parts over 0.4 s (inside 1 s), then the body in two parts 0.7 s apart."""
    for part in (b"HTTP/1.1 200 OK\r\n", b"Content-Length: 6\r\n", b"Connection: close\r\n", b"\r\n"):
        conn.sendall(part)
        stop.wait(0.1)
    for part in (b"a,b\n", b"1\n"):
        stop.wait(0.7)
        conn.sendall(part)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_headers_in_time_leave_a_slow_body_to_the_body_deadline(loopback, tls, tmp_path: Path, scheme: str) -> None:
    """The body's last part comes well after 1 s from the request: the watchdog is off once the
    headers are in."""
    server = loopback(_slow_but_fine, tls if scheme == "https" else None)
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_first_byte_timeout=1.0, http_deadline=5.0)
    raw = fetch(SID, server.url, settings, session=make_session(retries=0), timeout=(2.0, 30.0))
    assert raw.bytes == 6 and raw.path.read_bytes() == b"a,b\n1\n"
