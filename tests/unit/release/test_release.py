"""Releases: immutable calendar versions, Data Package v2, diff + changelog, verify, delete,
Parquet layout for one-region reads, writer-independent content hashes, remote reading."""

from __future__ import annotations

import dataclasses
import json
import shutil
import zipfile
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml

from pipelines import cli
from pipelines.layout import read_latest
from pipelines.release import publish
from pipelines.release.content import table_content_hash
from pipelines.release.datapackage import validate_datapackage
from pipelines.release.diff import diff_releases
from pipelines.release.publish import ReleaseExistsError, publish_release, verify_release
from pipelines.release.versions import list_versions
from pipelines.schemas import SchemaFileError, load_schema
from tests.helpers.release_samples import publish_sample, sample_tables


def _run_cli(monkeypatch, warehouse: Path, *argv: str) -> int:
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(warehouse))
    return cli.main(["releases", *argv])


def test_release_contents_and_unchanged_rerun(tmp_path: Path) -> None:
    rdir = tmp_path / "wh" / "releases"
    report = tmp_path / "report.json"
    report.write_text('{"ok": true}\n')
    r1 = publish_sample(rdir, csv=["clusters"], extra_files={"validation/results.json": report})
    assert r1.version == "v2026.03.14" and not r1.unchanged
    path = rdir / r1.version
    for name in ("datapackage.json", "dataset.jsonld", "CITATION.cff", "CHANGELOG.md", "diff.json", "SHA256SUMS", "index.html",
                 "cluster-observatory-v2026.03.14.zip", "csv/clusters.csv", "validation/results.json"):  # fmt: skip
        assert (path / name).is_file(), name
    assert not list(rdir.glob(".tmp-*"))
    pkg = json.loads((path / "datapackage.json").read_text())
    assert pkg["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert validate_datapackage(pkg, path) == []
    res = {r["name"]: r for r in pkg["resources"]}
    ci = res["cluster_indicators"]
    assert ci["schema"]["primaryKey"] == ["year", "region_type", "region_code", "cluster_code"]
    emp = next(f for f in ci["schema"]["fields"] if f["name"] == "emp")
    assert emp["unit"] == "persons" and emp["description"] and emp["type"] == "number"
    assert ci["hash"].startswith("sha256:") and ci["bytes"] == (path / ci["path"]).stat().st_size
    assert ci["contentHash"].startswith("sha256:") and "contentHashMethod" in pkg
    assert res["clusters-csv"]["path"] == "csv/clusters.csv"
    assert res["validation-results.json"]["path"] == "validation/results.json"  # the validation report is referenced
    census = next(s for s in pkg["sources"] if s["title"].startswith("census/"))
    assert census["path"].startswith("https://") and census["sha256"] and census["retrieved_at"] and census["licenses"]
    assert next(s for s in pkg["sources"] if s["title"] == "clustermapping/regions")["path"] == "https://clustermapping.us/"
    assert pkg["licenses"][0]["name"] == "CC-BY-4.0" and pkg["code"]["code_sha256"]
    # A broken descriptor is caught by the Data Package checks.
    bad = json.loads(json.dumps(pkg))
    bad["resources"][0]["hash"] = "sha256:not-hex"
    bad["resources"][1]["schema"]["primaryKey"] = ["nope"]
    assert len(validate_datapackage(bad)) >= 2
    # schema.org, CFF
    ld = json.loads((path / "dataset.jsonld").read_text())
    assert ld["@type"] == "Dataset" and ld["version"] == r1.version
    assert any(d["contentUrl"] == "data/cluster_indicators.parquet" and d["sha256"] for d in ld["distribution"])
    cff = yaml.safe_load((path / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == r1.version and cff["authors"]
    # the bundle holds the data and metadata
    with zipfile.ZipFile(path / "cluster-observatory-v2026.03.14.zip") as zf:
        names = set(zf.namelist())
    assert "cluster-observatory-v2026.03.14/data/cluster_indicators.parquet" in names
    assert "cluster-observatory-v2026.03.14/datapackage.json" in names
    # latest pointers and catalog
    assert read_latest(rdir)["version"] == r1.version
    assert (rdir / "latest").resolve() == path.resolve() and (rdir / "latest" / "datapackage.json").exists()
    assert (rdir / "index.html").exists() and r1.version in (rdir / "index.html").read_text()
    assert "Initial release" in (path / "CHANGELOG.md").read_text()
    assert verify_release(path) == []

    # Same inputs and code: nothing is published.
    again = publish_sample(rdir, csv=["clusters"], extra_files={"validation/results.json": report})
    assert again.unchanged and again.version == r1.version
    assert list_versions(rdir) == [r1.version]


def test_changed_input_gives_second_release_with_diff(tmp_path: Path, monkeypatch, capsys) -> None:
    wh = tmp_path / "wh"
    rdir = wh / "releases"
    monkeypatch.setenv("OBSERVATORY_RELEASE_CSV", "auto")
    r1 = publish_sample(rdir)
    assert (rdir / r1.version / "csv" / "cluster_indicators.csv").exists()  # small tables get CSV copies by default
    monkeypatch.setenv("OBSERVATORY_RELEASE_CSV", "none")
    t2 = sample_tables(years=(2009, 2010, 2011, 2012), bump=2.0)
    t2["cluster_indicators"] = t2["cluster_indicators"].filter(~((pl.col("region_code") == "48") & (pl.col("year") == 2009)))
    # same draws for the common years except the bumped cell and the new year: rebuild 2009–2011 from seed 1
    base = sample_tables(bump=2.0)["cluster_indicators"].filter(~((pl.col("region_code") == "48") & (pl.col("year") == 2009)))
    extra = t2["cluster_indicators"].filter(pl.col("year") == 2012)
    t2["cluster_indicators"] = pl.concat([base, extra])
    t2["clusters"] = t2["clusters"].with_columns(pl.lit("x").alias("note_col")).drop("note_col")  # unchanged schema
    r2 = publish_sample(rdir, tables=t2, tag="b")
    assert not r2.unchanged and r2.version == "v2026.03.14.2" and r2.previous == r1.version
    assert not (rdir / r2.version / "csv").exists()
    assert list_versions(rdir) == [r1.version, r2.version]

    d = json.loads((rdir / r2.version / "diff.json").read_text())
    assert d["from"] == r1.version and d["to"] == r2.version
    assert d["inputs"]["sources_changed"] == ["census/cbp/state/2011"]
    ci = d["tables"]["cluster_indicators"]
    assert ci["status"] == "changed"
    assert ci["rows_added"]["count"] == 6 * 6 and ci["rows_added"]["by_year"] == {"2012": 36}
    assert ci["rows_removed"]["count"] == 6 and ci["rows_removed"]["by_year"] == {"2009": 6}
    assert ci["values_changed"]["emp"]["rows"] == 1
    top = ci["values_changed"]["emp"]["largest"][0]
    assert top["key"] == {"year": 2011, "region_type": "state", "region_code": "06", "cluster_code": "5"}
    assert top["new"] == pytest.approx(2 * top["old"])
    assert d["tables"]["clusters"]["status"] == "unchanged" and d["tables"]["regions"]["status"] == "unchanged"
    log = (rdir / r2.version / "CHANGELOG.md").read_text()
    assert log.index(f"## {r2.version} (") < log.index(f"## {r1.version} (")  # newest first, history kept
    assert "cluster_indicators" in log and "region_code=06" in log

    # The CLI diff says the same, also with a tolerance that hides nothing here.
    assert _run_cli(monkeypatch, wh, "diff", r1.version, r2.version, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tables"]["cluster_indicators"]["values_changed"]["emp"]["rows"] == 1
    # A generous tolerance (relative 150%) hides the doubled value.
    assert _run_cli(monkeypatch, wh, "diff", r1.version, r2.version, "--json", "--rtol", "1.5") == 0
    assert "emp" not in json.loads(capsys.readouterr().out)["tables"]["cluster_indicators"]["values_changed"]
    assert _run_cli(monkeypatch, wh, "diff", r1.version, r2.version) == 0
    assert "largest changes" in capsys.readouterr().out
    # A schema change is reported: the release writer refuses types other than the declared ones,
    # so the next release's schema file declares the new type (as a schema change would).
    t3 = {k: v for k, v in t2.items()}
    t3["regions"] = t2["regions"].with_columns(pl.col("clustermapping_id").cast(pl.Int64, strict=False))
    with pytest.raises(SchemaFileError, match="clustermapping_id"):
        publish_sample(rdir, tables=t3, tag="c")
    regions = load_schema("regions")
    retyped = dataclasses.replace(
        regions, fields=tuple({**f, "type": "Int64"} if f["name"] == "clustermapping_id" else f for f in regions.fields)
    )
    monkeypatch.setattr(publish, "load_schema", lambda name: retyped if name == "regions" else load_schema(name))
    r3 = publish_sample(rdir, tables=t3, tag="c")
    d3 = diff_releases(rdir / r2.version, rdir / r3.version)
    assert d3["tables"]["regions"]["schema"]["type_changed"] == {"clustermapping_id": {"a": "string", "b": "integer"}}
    assert d3["summary"]["tables_changed"] == ["regions"]


def test_immutable_verify_and_delete(tmp_path: Path, monkeypatch, capsys) -> None:
    wh = tmp_path / "wh"
    rdir = wh / "releases"
    r1 = publish_sample(rdir)
    before = (rdir / r1.version / "SHA256SUMS").read_bytes()
    # --force never overwrites: it makes a new version.
    r2 = publish_sample(rdir, force_new=True)
    assert r2.version == "v2026.03.14.2" and (rdir / r1.version / "SHA256SUMS").read_bytes() == before
    # Even if a version name collides, the existing folder is left alone and the temp folder goes.
    monkeypatch.setattr(publish, "next_version", lambda *_a, **_k: r1.version)
    with pytest.raises(ReleaseExistsError):
        publish_sample(rdir, force_new=True)
    monkeypatch.undo()
    assert (rdir / r1.version / "SHA256SUMS").read_bytes() == before and not list(rdir.glob(".tmp-*"))
    assert read_latest(rdir)["version"] == r2.version

    # verify catches one flipped byte.
    assert _run_cli(monkeypatch, wh, "verify", r1.version) == 0
    f = rdir / r1.version / "data" / "cluster_indicators.parquet"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    f.write_bytes(bytes(raw))
    problems = verify_release(rdir / r1.version)
    assert "data/cluster_indicators.parquet: sha256 mismatch" in problems
    assert _run_cli(monkeypatch, wh, "verify", r1.version) == 1
    assert "FAIL data/cluster_indicators.parquet" in capsys.readouterr().out

    # list / show, then delete (needs --yes); latest moves back.
    assert _run_cli(monkeypatch, wh, "list") == 0
    assert "* v2026.03.14.2" in capsys.readouterr().out
    assert _run_cli(monkeypatch, wh, "show", r2.version) == 0
    assert "data/cluster_indicators.parquet" in capsys.readouterr().out
    assert _run_cli(monkeypatch, wh, "delete", r2.version) == 2
    assert (rdir / r2.version).is_dir()
    assert _run_cli(monkeypatch, wh, "delete", r2.version, "--yes") == 0
    assert not (rdir / r2.version).exists()
    assert read_latest(rdir)["version"] == r1.version and (rdir / "latest").resolve().name == r1.version
    assert r2.version not in (rdir / "index.html").read_text()


def test_parquet_sorted_with_small_row_groups(tmp_path: Path) -> None:
    rdir = tmp_path / "releases"
    r = publish_sample(rdir, tables=sample_tables(years=tuple(range(2000, 2012)), n_states=50), catalog=False, bundle=False)
    path = rdir / r.version / "data" / "cluster_indicators.parquet"
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == 50 * 6 * 12 and meta.num_row_groups >= 3
    assert meta.row_group(0).column(0).compression == "ZSTD"
    df = pl.read_parquet(path)
    assert df.equals(df.sort("region_type", "region_code", "cluster_code", "year"))
    # Row-group statistics let a one-region read skip most groups.
    idx = df.columns.index("region_code")
    hit = [
        i for i in range(meta.num_row_groups)
        if meta.row_group(i).column(idx).statistics.min <= "25" <= meta.row_group(i).column(idx).statistics.max
    ]  # fmt: skip
    assert len(hit) <= 2 and len(hit) / meta.num_row_groups < 0.5


def test_content_hash_ignores_writer_but_not_data(tmp_path: Path) -> None:
    df = sample_tables()["cluster_indicators"]
    key = list(load_schema("cluster_indicators").primary_key)
    a, b, c, d = (tmp_path / f"{n}.parquet" for n in "abcd")
    df.write_parquet(a, compression="zstd")
    df.sample(fraction=1.0, shuffle=True, seed=3).write_parquet(b, compression="snappy", row_group_size=7)
    import pyarrow as pa

    pq.write_table(pa.Table.from_pandas(df.to_pandas(), preserve_index=False), c, compression="gzip", use_dictionary=False)
    assert table_content_hash(a, key) == table_content_hash(b, key) == table_content_hash(c, key)
    # float noise far below 12 significant digits does not count; a real change does
    df.with_columns(pl.col("wage") * (1 + 1e-15)).write_parquet(d)
    assert table_content_hash(d, key) == table_content_hash(a, key)
    df.with_columns(pl.when(pl.col("year") == 2010).then(pl.col("emp") + 1).otherwise(pl.col("emp")).alias("emp")).write_parquet(d)
    assert table_content_hash(d, key) != table_content_hash(a, key)


class _RangeCounter:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bytes_sent = 0

    def __call__(self, request):
        from werkzeug import Response

        f = self.root / request.path.lstrip("/")
        if not f.is_file():
            return Response(status=404)
        data = f.read_bytes()
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        rng = request.headers.get("Range")
        if request.method == "HEAD":
            return Response(b"", headers={**headers, "Content-Length": str(len(data))})
        if rng and rng.startswith("bytes="):
            lo_s, hi_s = rng[6:].split("-")
            if lo_s == "":
                lo, hi = len(data) - int(hi_s), len(data) - 1
            else:
                lo, hi = int(lo_s), min(int(hi_s) if hi_s else len(data) - 1, len(data) - 1)
            part = data[lo : hi + 1]
            self.bytes_sent += len(part)
            return Response(part, status=206, headers={**headers, "Content-Range": f"bytes {lo}-{hi}/{len(data)}"})
        self.bytes_sent += len(data)
        return Response(data, headers=headers)


def test_remote_read_one_region_over_http(tmp_path: Path, httpserver) -> None:
    import re

    rdir = tmp_path / "releases"
    tables = sample_tables(years=tuple(range(2000, 2012)), n_states=50, n_clusters=30)
    r = publish_sample(rdir, tables=tables, catalog=False, bundle=False)
    counter = _RangeCounter(rdir)
    httpserver.expect_request(re.compile(r"^/.*"), method="GET").respond_with_handler(counter)
    httpserver.expect_request(re.compile(r"^/.*"), method="HEAD").respond_with_handler(counter)
    url = httpserver.url_for(f"/{r.version}/data/cluster_indicators.parquet")
    got = (
        pl.scan_parquet(url)
        .filter((pl.col("region_type") == "state") & (pl.col("region_code") == "25"))
        .select("year", "cluster_code", "emp")
        .collect()
    )
    want = tables["cluster_indicators"].filter(pl.col("region_code") == "25").select("year", "cluster_code", "emp")
    assert got.sort("cluster_code", "year").equals(want.sort("cluster_code", "year"))
    size = (rdir / r.version / "data" / "cluster_indicators.parquet").stat().st_size
    # footer prefetch + the one row group of that region: a small part of the file
    assert 0 < counter.bytes_sent < 0.3 * size, (counter.bytes_sent, size)


@pytest.mark.mirror
def test_rebuild_from_raw_files_gives_the_same_data(mirror_dir: Path, tmp_path: Path) -> None:
    """Two independent builds from the archived raw files (mirror) with the same lock file."""
    from pipelines.config import Settings
    from pipelines.staging.cbp import stage_cbp, staged_sources
    from pipelines.staging.reference import stage_reference
    from pipelines.warehouse import database

    hashes, frames = [], []
    for i in range(2):
        s = Settings(warehouse=tmp_path / f"wh{i}", mirror=mirror_dir, cbp_years=(2011,), offline=True)
        stage_reference(s)
        stage_cbp(s, 2011)
        database.build_us_indicators(s)
        with database.connect(s, read_only=True) as con:
            names = ("cluster_indicators", "region_indicators", "clusters", "regions", "industry_employment")
            r = publish_release({n: con.table(n) for n in names}, releases_dir=s.releases_dir, sources=staged_sources(s),
                                params={"cbp_years": [2011]}, bundle=False, catalog=False)  # fmt: skip
        pkg = json.loads((r.path / "datapackage.json").read_text())
        hashes.append({res["name"]: res["contentHash"] for res in pkg["resources"] if res.get("format") == "parquet"})
        frames.append({n: pl.read_parquet(r.path / "data" / f"{n}.parquet") for n in names})
    assert hashes[0] == hashes[1]
    for n, df in frames[0].items():
        assert df.equals(frames[1][n]), n
    shutil.rmtree(tmp_path / "wh0", ignore_errors=True)


def test_csv_copies_handle_list_columns(tmp_path: Path) -> None:
    tables = sample_tables()
    tables["custom_regions"] = pl.DataFrame(
        {"region_type": ["custom"], "region_code": ["NE"], "region_name": ["New England, US"], "base_type": ["state"],
         "nuts_version": [None], "members": [["09", "23"]]},
        schema_overrides={"nuts_version": pl.String},
    )
    r = publish_sample(tmp_path / "releases", tables=tables, csv=True, catalog=False, bundle=False)
    back = pl.read_csv(r.path / "csv" / "custom_regions.csv")
    assert back["members"].to_list() == ["[09, 23]"] and back["region_name"].to_list() == ["New England, US"]
    ci = pl.read_csv(r.path / "csv" / "cluster_indicators.csv", schema_overrides={"region_code": pl.String, "cluster_code": pl.String})
    assert ci.select("region_code", "cluster_code", "year").equals(
        pl.read_parquet(r.path / "data" / "cluster_indicators.parquet").select("region_code", "cluster_code", "year")
    )
    assert verify_release(r.path) == []
