"""The one download path: real HTTP on localhost, the raw archive and the mirror."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import threading
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.archive import RawArchive
from pipelines.raw.http import fetch
from pipelines.raw.session import USER_AGENT, make_session
from pipelines.sources import cbp
from tests.helpers.cbp_files import COUNTY_2011, write_zip


def _fast_session():
    return make_session(retries=3, backoff=0.0)


def test_fetch_archives_once_per_content(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    httpserver.expect_request("/f.csv").respond_with_data(
        "a,b\n1,2\n", headers={"ETag": '"v1"', "Last-Modified": "Mon, 02 Nov 2026 10:00:00 GMT"}
    )
    url = httpserver.url_for("/f.csv")
    first = fetch("test/src", url, upstream_settings, session=_fast_session())
    assert first.new and first.path.read_bytes() == b"a,b\n1,2\n"
    assert first.sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert first.etag == '"v1"' and first.last_modified.startswith("Mon, 02 Nov")
    assert first.bytes == 8 and first.served_from == "upstream"
    again = fetch("test/src", url, upstream_settings, session=_fast_session())
    assert not again.new and again.path == first.path
    archive = RawArchive(upstream_settings.raw_dir)
    assert len(archive.entries("test/src")) == 1
    # Different bytes: a new entry beside the old one, nothing overwritten.
    httpserver.clear()
    httpserver.expect_request("/f.csv").respond_with_data("a,b\n1,3\n")
    changed = fetch("test/src", url, upstream_settings, session=_fast_session())
    assert changed.new and changed.path != first.path
    assert first.path.read_bytes() == b"a,b\n1,2\n"
    entries = archive.entries("test/src")
    assert [e["sha256"] for e in entries] == [first.sha256, changed.sha256]
    assert entries[0]["url"] == url and entries[0]["retrieved_at"].endswith("Z")


def test_user_agent_and_retry_on_5xx(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    httpserver.expect_ordered_request("/r").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/r", headers={"User-Agent": USER_AGENT}).respond_with_data("ok")
    raw = fetch("test/retry", httpserver.url_for("/r"), upstream_settings, session=_fast_session())
    assert raw.path.read_bytes() == b"ok"


def test_retry_after_on_429(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    httpserver.expect_ordered_request("/t").respond_with_response(Response("slow down", status=429, headers={"Retry-After": "1"}))
    httpserver.expect_ordered_request("/t").respond_with_data("ok")
    raw = fetch("test/429", httpserver.url_for("/t"), upstream_settings, session=_fast_session())
    assert raw.path.read_bytes() == b"ok"


def test_http_error_names_source_and_url(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    httpserver.expect_request("/missing").respond_with_data("no", status=404)
    url = httpserver.url_for("/missing")
    with pytest.raises(SourceError) as err:
        fetch("census/cbp/state/1999", url, upstream_settings, session=_fast_session())
    assert "census/cbp/state/1999" in str(err.value) and url in str(err.value) and "404" in str(err.value)
    assert not (upstream_settings.raw_dir / "census").exists()


def test_html_instead_of_zip_never_reaches_archive(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    httpserver.expect_request("/cbp11st.zip").respond_with_data(
        "<html><body>Maintenance</body></html>", content_type="text/html"
    )
    url = httpserver.url_for("/cbp11st.zip")
    with pytest.raises(SourceError, match="not a zip") as err:
        fetch("census/cbp/state/2011", url, upstream_settings, validate=cbp.validate_zip, session=_fast_session())
    assert url in str(err.value)
    assert RawArchive(upstream_settings.raw_dir).entries("census/cbp/state/2011") == []
    assert not list((upstream_settings.raw_dir / ".tmp").iterdir())


def test_truncated_body_is_an_error(loopback, upstream_settings: Settings, tmp_path: Path) -> None:
    body = write_zip(tmp_path / "x.zip", "x.txt", COUNTY_2011 * 20).read_bytes()

    def half(conn: socket.socket, n: int, stop: threading.Event) -> None:
        # Announce the full length, send half, close: the client must notice every time.
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nContent-Type: application/zip\r\n\r\n"
        conn.sendall(head.encode() + body[: len(body) // 2])

    url = loopback(half, path="/x.zip").url
    with pytest.raises(SourceError) as err:
        fetch("test/trunc", url, upstream_settings, session=make_session(retries=1, backoff=0.0))
    assert "test/trunc" in str(err.value) and url in str(err.value)
    assert RawArchive(upstream_settings.raw_dir).entries("test/trunc") == []


def _mirror_copy(mirror_dir: Path, dest: Path, entry_id: str) -> tuple[Path, dict]:
    index = json.loads((mirror_dir / "index.json").read_text())
    entry = next(e for e in index["entries"] if e["id"] == entry_id)
    target = dest / entry["path"]
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mirror_dir / entry["path"], target)
    (dest / "index.json").write_text(json.dumps({"mirror_version": "test", "entries": [entry]}))
    return target, entry


def test_mirror_serves_by_url_and_by_id(mirror_dir: Path, tmp_path: Path) -> None:
    s = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, offline=True)
    raw = fetch("census/cbp/state/2005", cbp.url(2005, "state"), s, validate=cbp.validate_zip)
    assert raw.served_from.startswith("mirror:") and raw.mirror_kind == "partial-reconstruction"
    assert "Census" in (raw.attribution or "")
    ref = fetch("clustermapping/regions", None, s, mirror_id="clustermapping/regions")
    assert ref.path.read_bytes() == (mirror_dir / "reference/us-cluster-mapping/2018-10-01/regions.csv").read_bytes()


def test_mirror_checksum_mismatch(mirror_dir: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    target, entry = _mirror_copy(mirror_dir, mirror, "census/cbp/state/2003")
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    s = Settings(warehouse=tmp_path / "wh", mirror=mirror, offline=True)
    with pytest.raises(SourceError, match="checksum mismatch in the mirror") as err:
        fetch(entry["id"], entry["url"], s)
    assert "census/cbp/state/2003" in str(err.value)
    assert RawArchive(s.raw_dir).entries(entry["id"]) == []


def test_offline_without_mirror_copy_is_a_clear_error(mirror_dir: Path, tmp_path: Path) -> None:
    s = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, offline=True)
    with pytest.raises(SourceError, match="offline"):
        fetch("census/cbp/state/2019", cbp.url(2019, "state"), s)
