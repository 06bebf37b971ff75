"""`observatory releases push DEST`: a release copied to a folder or to a real S3 API server
(moto's server mode on 127.0.0.1), immutable at DEST, `latest.json` last; then read remotely with
Polars and pyarrow, over S3 and over an HTTP server that honours Range requests, where a
one-region query must read a small share of `cluster_indicators.parquet`.

DuckDB's remote read (`INSTALL httpfs`) is documented in the README but not tested here: the
httpfs extension is downloaded on first use and no machine running these tests has network
access. It is not skipped either: there is no DuckDB remote test at all.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from pipelines import cli
from pipelines.layout import read_latest
from pipelines.release.publish import verify_release
from pipelines.release.push import PushError, push_release
from tests.helpers.release_samples import publish_sample, sample_tables

BUCKET = "observatory-releases"
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _push_cli(monkeypatch, warehouse: Path, *argv: str) -> int:
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(warehouse))
    return cli.main(["releases", "push", *argv])


def test_push_to_folder_immutable_and_latest_last(tmp_path: Path, monkeypatch, capsys) -> None:
    wh = tmp_path / "wh"
    rdir = wh / "releases"
    r1 = publish_sample(rdir)
    dest = tmp_path / "bucket" / "releases"

    res = push_release(rdir, str(dest))
    local = [line.split("  ", 1)[1] for line in (rdir / r1.version / "SHA256SUMS").read_text().splitlines()]
    # every file of the release, then SHA256SUMS (marks the version complete), then latest/, then latest.json
    assert res.written == [f"{r1.version}/{p}" for p in local] + [f"{r1.version}/SHA256SUMS", "latest/", "latest.json"]
    assert verify_release(dest / r1.version) == []
    assert json.loads((dest / "latest.json").read_text()) == read_latest(rdir)
    # the page's "How to read" points readers at releases/latest/data/...: it exists at DEST
    assert json.loads((dest / "latest" / "datapackage.json").read_text())["version"] == r1.version
    assert verify_release(dest / "latest") == []

    # An identical re-push writes nothing (also through the CLI, with a file:// URL).
    assert _push_cli(monkeypatch, wh, dest.as_uri()) == 0
    assert "0 file(s) written" in capsys.readouterr().out
    assert push_release(rdir, str(dest)).written == []

    # A newer release moves latest.json; pushing the older one again never moves it back.
    r2 = publish_sample(rdir, tables=sample_tables(bump=3.0), tag="b")
    assert push_release(rdir, str(dest)).latest_moved
    assert json.loads((dest / "latest.json").read_text())["version"] == r2.version
    assert json.loads((dest / "latest" / "datapackage.json").read_text())["version"] == r2.version
    again = push_release(rdir, str(dest), r1.version)
    assert again.written == [] and not again.latest_moved
    assert json.loads((dest / "latest.json").read_text())["version"] == r2.version
    assert json.loads((dest / "latest" / "datapackage.json").read_text())["version"] == r2.version

    # Different content under a published version at DEST: refused, nothing overwritten.
    target = dest / r1.version / "data" / "clusters.parquet"
    target.write_bytes(target.read_bytes() + b"x")
    before = target.read_bytes()
    with pytest.raises(PushError, match=r"already exists with different content \(data/clusters.parquet\)"):
        push_release(rdir, str(dest), r1.version)
    assert target.read_bytes() == before

    # A partly pushed version (a crash before SHA256SUMS) is completed, not refused.
    (dest / r2.version / "SHA256SUMS").unlink()
    (dest / r2.version / "datapackage.json").unlink()
    res = push_release(rdir, str(dest), r2.version)
    assert res.written == [f"{r2.version}/datapackage.json", f"{r2.version}/SHA256SUMS"]
    assert verify_release(dest / r2.version) == []

    # A damaged local release is never pushed.
    (rdir / r2.version / "CHANGELOG.md").write_text("tampered\n")
    with pytest.raises(PushError, match="not intact"):
        push_release(rdir, str(tmp_path / "elsewhere"))
    assert not (tmp_path / "elsewhere").exists()


def test_push_never_writes_into_a_published_release(tmp_path: Path, monkeypatch, capsys) -> None:
    """DEST inside a release (the warehouse's own releases/<v>/, reached directly, through `..`
    or a symlink; the releases folder itself; a version already pushed elsewhere) is refused
    with one line, and nothing is written: the release still verifies and the next push works."""
    wh = tmp_path / "wh"
    rdir = wh / "releases"
    r = publish_sample(rdir)
    before = sorted(p.relative_to(rdir).as_posix() for p in rdir.rglob("*"))
    (tmp_path / "link").symlink_to(rdir / r.version)
    (tmp_path / "x").mkdir()
    pushed = tmp_path / "bucket"
    push_release(rdir, str(pushed))
    for dest in (
        rdir / r.version, rdir / r.version / "data", tmp_path / "x" / ".." / "wh" / "releases" / r.version,
        tmp_path / "link", tmp_path / "link" / "sub", rdir, rdir / "latest", pushed / r.version,
    ):  # fmt: skip
        with pytest.raises(PushError, match=r"releases are immutable|releases folder"):
            push_release(rdir, str(dest))
        assert _push_cli(monkeypatch, wh, str(dest)) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: push destination") and err.count("\n") == 1, err
    assert sorted(p.relative_to(rdir).as_posix() for p in rdir.rglob("*")) == before
    assert verify_release(rdir / r.version) == [] and verify_release(pushed / r.version) == []
    assert push_release(rdir, str(tmp_path / "elsewhere")).latest_moved


@pytest.fixture
def s3(monkeypatch) -> Iterator[str]:
    """A real S3 API (moto server mode) on 127.0.0.1 with one bucket; yields the endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    for k, v in CREDS.items():
        monkeypatch.setenv(k, v)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.stop()


def _one_region(tables: dict[str, pl.DataFrame], code: str) -> pl.DataFrame:
    return tables["cluster_indicators"].filter(pl.col("region_code") == code).select("year", "cluster_code", "emp", "lq").sort("cluster_code", "year")


def test_push_to_s3_then_polars_and_pyarrow_read_it(tmp_path: Path, monkeypatch, capsys, s3: str) -> None:
    import boto3
    from pyarrow import fs

    wh = tmp_path / "wh"
    tables = sample_tables(years=tuple(range(2000, 2012)), n_states=20)
    r = publish_sample(wh / "releases", tables=tables)
    monkeypatch.setenv("OBSERVATORY_S3_ENDPOINT_URL", s3)
    assert _push_cli(monkeypatch, wh, f"s3://{BUCKET}/releases") == 0
    assert f"latest.json now names {r.version}" in capsys.readouterr().out

    client = boto3.client("s3", endpoint_url=s3)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="releases/")["Contents"]}
    local = {f"releases/{r.version}/{p.relative_to(r.path).as_posix()}" for p in r.path.rglob("*") if p.is_file()}
    latest_keys = {k.replace(f"releases/{r.version}/", "releases/latest/") for k in local}
    assert keys == local | latest_keys | {"releases/latest.json"}
    same = f"releases/{r.version}/data/cluster_indicators.parquet"
    assert client.get_object(Bucket=BUCKET, Key="releases/latest/data/cluster_indicators.parquet")["Body"].read() == (
        client.get_object(Bucket=BUCKET, Key=same)["Body"].read()
    )
    head = client.head_object(Bucket=BUCKET, Key=f"releases/{r.version}/data/cluster_indicators.parquet")
    assert head["ContentType"] == "application/vnd.apache.parquet" and len(head["Metadata"]["sha256"]) == 64
    pointer = json.loads(client.get_object(Bucket=BUCKET, Key="releases/latest.json")["Body"].read())
    assert pointer["version"] == r.version

    # Dashboards: resolve latest.json, then read one region remotely.
    key = f"{BUCKET}/releases/{pointer['version']}/data/cluster_indicators.parquet"
    want = _one_region(tables, "07")
    opts = {"aws_endpoint_url": s3, "aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_region": "us-east-1", "aws_allow_http": "true"}
    got = pl.scan_parquet(f"s3://{key}", storage_options=opts).filter(pl.col("region_code") == "07").select(want.columns).collect()
    assert got.sort("cluster_code", "year").equals(want)
    s3fs = fs.S3FileSystem(endpoint_override=s3, access_key="testing", secret_key="testing", region="us-east-1")
    table = ds.dataset(key, filesystem=s3fs, format="parquet").to_table(columns=want.columns, filter=ds.field("region_code") == "07")
    assert pl.from_arrow(table).sort("cluster_code", "year").equals(want)

    # Immutable on S3 too: an object changed behind our back makes a re-push refuse.
    client.put_object(Bucket=BUCKET, Key=f"releases/{r.version}/CITATION.cff", Body=b"changed\n")
    assert _push_cli(monkeypatch, wh, f"s3://{BUCKET}/releases") == 1
    assert "CITATION.cff" in capsys.readouterr().err
    assert client.get_object(Bucket=BUCKET, Key=f"releases/{r.version}/CITATION.cff")["Body"].read() == b"changed\n"


class RangeServer(ThreadingHTTPServer):
    """Serves a folder; honours single `Range: bytes=a-b` requests and counts the body bytes sent."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        self.bytes_sent = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), partial(_RangeHandler, directory=str(root)))

    def count(self, n: int) -> None:
        with self.lock:
            self.bytes_sent += n


class _RangeHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        rng = self.headers.get("Range")
        if not path.is_file() or not rng:
            f = self.send_head()
            if f:
                data = f.read()
                f.close()
                self.wfile.write(data)
                self.server.count(len(data))  # type: ignore[attr-defined]
            return
        size = path.stat().st_size
        lo_s, hi_s = rng.removeprefix("bytes=").split(",")[0].split("-")
        lo, hi = (size - int(hi_s), size - 1) if lo_s == "" else (int(lo_s), min(int(hi_s) if hi_s else size - 1, size - 1))
        with path.open("rb") as f:
            f.seek(lo)
            data = f.read(hi - lo + 1)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {lo}-{hi}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.server.count(len(data))  # type: ignore[attr-defined]


class HTTPRangeFile(io.RawIOBase):
    """A read-only, seekable file over HTTP Range requests: what pyarrow needs to read Parquet
    remotely (fsspec's HTTP filesystem does the same; it needs aiohttp, which is not installed)."""

    def __init__(self, url: str) -> None:
        import urllib.request

        self.url, self.pos, self._urlopen, self._req = url, 0, urllib.request.urlopen, urllib.request.Request
        with self._urlopen(self._req(url, method="HEAD")) as resp:
            self.size = int(resp.headers["Content-Length"])

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def readinto(self, buf) -> int:
        n = min(len(buf), self.size - self.pos)
        if n <= 0:
            return 0
        with self._urlopen(self._req(self.url, headers={"Range": f"bytes={self.pos}-{self.pos + n - 1}"})) as resp:
            data = resp.read()
        buf[: len(data)] = data
        self.pos += len(data)
        return len(data)


def test_range_reads_of_a_pushed_release_read_a_small_share(tmp_path: Path) -> None:
    # 50 regions x 30 clusters x 12 years = 18,000 rows: the writer's row groups (>= 1,024 rows)
    # give ~18 groups, one region (360 rows) spans one or two of them.
    rdir = tmp_path / "releases"
    tables = sample_tables(years=tuple(range(2000, 2012)), n_states=50, n_clusters=30)
    r = publish_sample(rdir, tables=tables, bundle=False, catalog=False)
    dest = tmp_path / "www"
    push_release(rdir, str(dest))
    parquet = dest / r.version / "data" / "cluster_indicators.parquet"
    size = parquet.stat().st_size
    groups = pq.ParquetFile(parquet).metadata.num_row_groups
    assert groups >= 10, groups

    server = RangeServer(dest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        version = json.loads(HTTPRangeFile(f"{base}/latest.json").read().decode())["version"]
        url = f"{base}/{version}/data/cluster_indicators.parquet"
        want = _one_region(tables, "25")

        server.bytes_sent = 0
        got = pl.scan_parquet(url).filter((pl.col("region_type") == "state") & (pl.col("region_code") == "25")).select(want.columns).collect()
        polars_bytes = server.bytes_sent
        assert got.sort("cluster_code", "year").equals(want)

        server.bytes_sent = 0
        fragment = ds.ParquetFileFormat().make_fragment(pa.PythonFile(HTTPRangeFile(url), mode="r"))
        table = ds.FileSystemDataset([fragment], fragment.physical_schema, ds.ParquetFileFormat()).to_table(
            columns=want.columns, filter=(ds.field("region_type") == "state") & (ds.field("region_code") == "25")
        )
        arrow_bytes = server.bytes_sent
        assert pl.from_arrow(table).sort("cluster_code", "year").equals(want)
    finally:
        server.shutdown()
        server.server_close()
    print(f"file {size:,} B in {groups} row groups; one region: polars {polars_bytes:,} B, pyarrow {arrow_bytes:,} B")
    # footer + the one or two row groups of that region (whole file ≈ 1.0)
    assert 0 < polars_bytes < 0.25 * size, (polars_bytes, size)
    assert 0 < arrow_bytes < 0.25 * size, (arrow_bytes, size)
