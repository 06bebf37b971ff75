"""Fault injection: upstream faults, bad content, a corrupt mirror, disk full and kill -9.

For every fault: retried to success, or a clear SourceError naming source and URL; the raw
archive and existing releases stay intact, `latest` does not move on failure, and the next run
completes. Servers are local, bounded and stop themselves.
"""

import errno
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.errors import SourceError
from pipelines.layout import read_latest
from pipelines.raw.archive import RawArchive
from pipelines.raw.http import fetch
from pipelines.raw.mirror import load_mirror
from pipelines.raw.session import make_session
from pipelines.release import publish
from pipelines.sources import cbp
from pipelines.staging.cbp import stage_cbp
from pipelines.staging.reference import read_reference, stage_reference

SID = "census/cbp/state/2011"
GOOD_CSV = (
    '"FIPSTATE","NAICS","EMPFLAG","EMP_NF","EMP","AP_NF","AP","EST"\n'
    '"01","------","","G",1000,"G",40000,90\n'
    '"01","336411","","G",250,"G",9000,3\n'
)


ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same text gives the same bytes at any second


def zip_bytes(text: str = GOOD_CSV, member: str = "cbp11st.txt") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo(member, date_time=ZIP_TIME), text, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def session(retries: int = 3):
    return make_session(retries=retries, backoff=0.05, max_backoff=0.2)


def fetch_zip(settings: Settings, url: str, **kw):
    return fetch(SID, url, settings, validate=cbp.validate_zip, session=kw.pop("session", session()), **kw)


def archive_state(settings: Settings) -> dict[str, bytes]:
    root = settings.raw_dir
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and ".tmp" not in p.parts}


def assert_clean_failure(err: pytest.ExceptionInfo, url: str, before: dict, settings: Settings, problem: str):
    msg = str(err.value)
    assert SID in msg and url in msg, msg
    assert problem in msg, msg
    assert archive_state(settings) == before  # nothing half-written reached the archive
    assert not [p for p in (settings.raw_dir / ".tmp").glob("*")]  # temp files cleaned


# --- a raw socket server for faults HTTP servers cannot produce --------------------------------


class RawServer:
    """Serves one scripted behaviour per connection: 'reset', 'hang', ('truncate', body), ('ok', body)."""

    def __init__(self, script):
        self.script = list(script)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/cbp11st.zip"

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            step = self.script[min(self.connections, len(self.script) - 1)]
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn, step), daemon=True).start()

    def _handle(self, conn, step):
        with conn:
            conn.settimeout(2)
            try:
                conn.recv(65536)
                kind, body = (step, b"") if isinstance(step, str) else step
                if kind == "reset":  # RST instead of FIN
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return
                if kind == "hang":
                    self.stop.wait(3)
                    return
                length = len(body) * 2 if kind == "truncate" else len(body)
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
                conn.sendall(head.encode() + body)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def raw_server():
    servers = []

    def make(script):
        servers.append(RawServer(script))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


# --- upstream faults ----------------------------------------------------------------------------


def test_429_with_retry_after_then_success(httpserver, upstream_settings):
    body = zip_bytes()
    httpserver.expect_ordered_request("/cbp11st.zip").respond_with_data("slow down", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/cbp11st.zip").respond_with_data(body, content_type="application/zip")
    t0 = time.monotonic()
    raw = fetch_zip(upstream_settings, httpserver.url_for("/cbp11st.zip"))
    assert time.monotonic() - t0 >= 0.9  # Retry-After honoured
    assert raw.path.read_bytes() == body and len(RawArchive(upstream_settings.raw_dir).entries(SID)) == 1


def test_500_then_success(httpserver, upstream_settings):
    httpserver.expect_ordered_request("/cbp11st.zip").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/cbp11st.zip").respond_with_data("oops", status=503)
    httpserver.expect_ordered_request("/cbp11st.zip").respond_with_data(zip_bytes(), content_type="application/zip")
    raw = fetch_zip(upstream_settings, httpserver.url_for("/cbp11st.zip"))
    assert raw.new and len(httpserver.log) == 3


def test_500_forever_fails_clearly(httpserver, upstream_settings):
    httpserver.expect_request("/cbp11st.zip").respond_with_data("oops", status=500)
    url = httpserver.url_for("/cbp11st.zip")
    with pytest.raises(SourceError) as err:
        fetch_zip(upstream_settings, url, session=session(retries=2))
    assert_clean_failure(err, url, {}, upstream_settings, "HTTP 500")


def test_connection_reset_then_success(raw_server, upstream_settings):
    srv = raw_server(["reset", ("ok", zip_bytes())])
    raw = fetch_zip(upstream_settings, srv.url)
    assert raw.new and srv.connections == 2


def test_connection_reset_forever_fails_clearly(raw_server, upstream_settings):
    srv = raw_server(["reset"])
    with pytest.raises(SourceError) as err:
        fetch_zip(upstream_settings, srv.url, session=session(retries=1))
    assert_clean_failure(err, srv.url, {}, upstream_settings, "download failed")


def test_read_timeout_then_success(raw_server, upstream_settings):
    srv = raw_server(["hang", ("ok", zip_bytes())])
    raw = fetch_zip(upstream_settings, srv.url, timeout=(2.0, 0.5))
    assert raw.new and srv.connections == 2


def test_read_timeout_forever_fails_clearly(raw_server, upstream_settings):
    srv = raw_server(["hang"])
    with pytest.raises(SourceError) as err:
        fetch_zip(upstream_settings, srv.url, timeout=(2.0, 0.3), session=session(retries=1))
    assert_clean_failure(err, srv.url, {}, upstream_settings, "Timeout")


def test_truncated_body(raw_server, upstream_settings):
    srv = raw_server([("truncate", zip_bytes())])
    with pytest.raises(SourceError) as err:
        fetch_zip(upstream_settings, srv.url, session=session(retries=1))
    n = len(zip_bytes())
    assert_clean_failure(err, srv.url, {}, upstream_settings, f"truncated body: got {n} of {2 * n} bytes")


def test_truncated_zip_with_honest_length(httpserver, upstream_settings):
    httpserver.expect_request("/cbp11st.zip").respond_with_data(zip_bytes()[:-40], content_type="application/zip")
    url = httpserver.url_for("/cbp11st.zip")
    with pytest.raises(SourceError) as err:
        fetch_zip(upstream_settings, url)
    assert_clean_failure(err, url, {}, upstream_settings, "invalid content")


def test_html_error_page_instead_of_zip(httpserver, upstream_settings):
    # first a good vintage is archived; then the host serves an HTML maintenance page
    url = httpserver.url_for("/cbp11st.zip")
    httpserver.expect_ordered_request("/cbp11st.zip").respond_with_data(zip_bytes(), content_type="application/zip")
    httpserver.expect_ordered_request("/cbp11st.zip").respond_with_data(
        "<!DOCTYPE html><html><body>Service maintenance</body></html>", content_type="text/html"
    )
    fetch_zip(upstream_settings, url)
    before = archive_state(upstream_settings)
    with pytest.raises(SourceError) as err:
        fetch_zip(upstream_settings, url)
    assert_clean_failure(err, url, before, upstream_settings, "not a zip file")


# --- content faults -----------------------------------------------------------------------------


def _stage_from(httpserver, settings: Settings, body: bytes):
    httpserver.clear()
    httpserver.expect_request("/programs-surveys/cbp/datasets/2011/cbp11st.zip").respond_with_data(body, content_type="application/zip")
    base = httpserver.url_for("/programs-surveys/cbp/datasets")
    orig = cbp.BASE_URL
    cbp.BASE_URL = base
    try:
        return stage_cbp(settings, 2011, "state")
    finally:
        cbp.BASE_URL = orig


@pytest.mark.parametrize(
    ("csv", "problem"),
    [
        (GOOD_CSV.replace("250", "2x0"), "malformed CBP row"),
        (GOOD_CSV.replace('"EMP",', '"EMPLOYEES",'), "unknown CBP column layout: missing ['emp']"),
    ],
    ids=["malformed-row", "renamed-column"],
)
def test_bad_csv_keeps_previous_staging(httpserver, tmp_path, csv, problem):
    settings = Settings(warehouse=tmp_path / "wh", mirror=None)
    good = _stage_from(httpserver, settings, zip_bytes())
    staged = Path(good["path"])
    before = staged.read_bytes()
    with pytest.raises(SourceError) as err:
        _stage_from(httpserver, settings, zip_bytes(csv))
    assert SID in str(err.value) and "cbp11st.zip" in str(err.value) and problem in str(err.value)
    assert staged.read_bytes() == before  # the last good staging is untouched
    again = _stage_from(httpserver, settings, zip_bytes())  # next run completes
    assert not again["changed"]


def test_added_column_is_tolerated(httpserver, tmp_path):
    settings = Settings(warehouse=tmp_path / "wh", mirror=None)
    csv = GOOD_CSV.replace('"EST"\n', '"EST","NEWCOL"\n').replace(",90\n", ",90,x\n").replace(",3\n", ",3,y\n")
    out = _stage_from(httpserver, settings, zip_bytes(csv))
    assert out["rows"] == 2


def test_malformed_eurostat_tsv(tmp_path):
    from pipelines.sources import eurostat

    p = tmp_path / "bad.tsv"
    p.write_text("nace_r2,indic_sb,geo\\time\t2015\t2014\nC,V11210,DE1\t12 p\t12#4\n")
    with pytest.raises(SourceError, match="malformed TSV") as err:
        eurostat.parse_tsv(p, "eurostat/sbs_r_nuts06_r2", "https://example.test/x.tsv")
    assert "eurostat/sbs_r_nuts06_r2" in str(err.value)
    p.write_text("<html>error</html>\n")
    with pytest.raises(SourceError, match="not an Eurostat TSV"):
        eurostat.parse_tsv(p, "eurostat/sbs_r_nuts06_r2", "https://example.test/x.tsv")


def test_checksum_mismatch_in_mirror(tmp_path, mirror_dir):
    mirror = tmp_path / "mirror"
    index = json.loads((mirror_dir / "index.json").read_text())
    entry = next(e for e in index["entries"] if e["id"] == SID)
    (mirror / Path(entry["path"]).parent).mkdir(parents=True)
    index["entries"] = [entry]
    (mirror / "index.json").write_text(json.dumps(index))
    shutil.copyfile(mirror_dir / entry["path"], mirror / entry["path"])
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror, offline=True)
    load_mirror.cache_clear()
    good = fetch(SID, entry["url"], settings, validate=cbp.validate_zip)
    before = archive_state(settings)
    target = mirror / entry["path"]
    target.write_bytes(target.read_bytes()[:-10] + b"corrupted!")  # bit rot in the mirror
    with pytest.raises(SourceError, match="checksum mismatch in the mirror") as err:
        fetch(SID, entry["url"], settings, validate=cbp.validate_zip)
    assert SID in str(err.value) and str(target) in str(err.value)
    assert archive_state(settings) == before and good.path.read_bytes() == (mirror_dir / entry["path"]).read_bytes()
    load_mirror.cache_clear()


# --- release faults -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_tables(tmp_path_factory, mirror_dir):
    settings = Settings(warehouse=tmp_path_factory.mktemp("ref") / "wh", mirror=mirror_dir, offline=True)
    stage_reference(settings)
    return {n: read_reference(settings, n) for n in ("clusters", "regions", "related_clusters")}


SOURCES = [{"source_id": "test/input", "sha256": "0" * 64}]


def _publish(releases: Path, tables, sources=SOURCES):
    return publish.publish_release(tables, releases_dir=releases, sources=sources, params={"t": 1})


def _release_state(releases: Path) -> dict[str, bytes]:
    return {str(p.relative_to(releases)): p.read_bytes() for p in sorted(releases.rglob("*")) if p.is_file()}


def test_disk_full_while_writing_release(tmp_path, reference_tables, monkeypatch):
    releases = tmp_path / "releases"
    v1 = _publish(releases, reference_tables)
    before = _release_state(releases)
    real = publish.write_parquet
    calls = {"n": 0}

    def full_disk(src, path, *args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:  # second table: a partial file, then ENOSPC
            path.write_bytes(b"PAR1partial")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(src, path, *args, **kw)

    monkeypatch.setattr(publish, "write_parquet", full_disk)
    new_sources = [{"source_id": "test/input", "sha256": "1" * 64}]
    with pytest.raises(OSError, match="No space left"):
        _publish(releases, reference_tables, new_sources)
    assert _release_state(releases) == before  # latest unchanged, v1 intact, no partial release
    assert not list(releases.glob(".tmp-*"))
    assert publish.verify_release(v1.path) == []
    monkeypatch.setattr(publish, "write_parquet", real)
    v2 = _publish(releases, reference_tables, new_sources)  # the next run completes
    assert v2.version != v1.version and read_latest(releases)["version"] == v2.version


KILL_SCRIPT = r"""
import os, sys, time
import polars as pl
from pathlib import Path
from pipelines.release import publish
releases, signal_file, ref = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
tables = {n: pl.read_parquet(ref / f"{n}.parquet") for n in ("clusters", "regions", "related_clusters")}
real = publish.write_parquet
def slow(src, path, *a, **kw):
    out = real(src, path, *a, **kw)
    if path.name == "regions.parquet":
        signal_file.write_text(str(os.getpid()))
        time.sleep(60)
    return out
publish.write_parquet = slow
publish.publish_release(tables, releases_dir=releases, sources=[{"source_id": "test/input", "sha256": "2" * 64}], params={"t": 1})
"""


def test_kill_9_while_publishing(tmp_path, reference_tables, mirror_dir):
    releases = tmp_path / "releases"
    v1 = _publish(releases, reference_tables)
    before = _release_state(releases)
    ref = tmp_path / "ref"
    ref.mkdir()
    for n, df in reference_tables.items():
        df.write_parquet(ref / f"{n}.parquet")
    sig = tmp_path / "writing"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(releases), str(sig), str(ref)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not sig.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "publisher never reached the middle of the release"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    after = {k: v for k, v in _release_state(releases).items() if not k.startswith(".tmp-")}
    assert after == before  # latest.json and v1 untouched; the half release is only a hidden temp dir
    assert read_latest(releases)["version"] == v1.version
    assert publish.verify_release(v1.path) == []
    v2 = _publish(releases, reference_tables, [{"source_id": "test/input", "sha256": "2" * 64}])
    assert read_latest(releases)["version"] == v2.version and publish.verify_release(v2.path) == []
    dirs = sorted(p.name for p in releases.glob("v[0-9]*") if p.is_dir() and not p.is_symlink())
    assert dirs == sorted([v1.version, v2.version])  # no half release under a version name


def test_unchanged_inputs_publish_nothing(tmp_path, reference_tables):
    releases = tmp_path / "releases"
    v1 = _publish(releases, reference_tables)
    before = _release_state(releases)
    again = _publish(releases, reference_tables)
    assert again.unchanged and again.version == v1.version
    assert _release_state(releases) == before


def test_unchanged_fetch_archives_nothing(httpserver, upstream_settings):
    httpserver.expect_request("/cbp11st.zip").respond_with_data(zip_bytes(), content_type="application/zip")
    url = httpserver.url_for("/cbp11st.zip")
    first = fetch_zip(upstream_settings, url)
    before = archive_state(upstream_settings)
    second = fetch_zip(upstream_settings, url)
    assert first.new and not second.new and second.path == first.path
    assert archive_state(upstream_settings) == before
