"""Version names, fingerprints and the latest pointer (issue 15 / issue 11).

- a release's fingerprint follows what it contains, not only what the run claims;
- a deleted version's name is never given to other content;
- latest.json moves only once the release folder is complete (and not at all on failure);
- tables built for other years than the run publishes are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.config import Settings
from pipelines.layout import read_latest
from pipelines.release import build, publish, versions
from pipelines.release.content import content_digest
from pipelines.release.delete import delete_release
from pipelines.release.publish import verify_release
from tests.helpers.release_samples import publish_sample, sample_tables


def test_same_inputs_but_other_content_is_a_new_release(tmp_path: Path) -> None:
    """Two runs with the same sources and parameters whose tables differ (a colliding run rebuilt
    them) must not share a fingerprint: the second publishes instead of "nothing changed"."""
    rdir = tmp_path / "releases"
    r1 = publish_sample(rdir, sample_tables(years=(2009, 2010, 2011)))
    r2 = publish_sample(rdir, sample_tables(years=(2010, 2011)))  # same sources(), same params
    assert not r2.unchanged and r2.version != r1.version and r2.fingerprint != r1.fingerprint
    r3 = publish_sample(rdir, sample_tables(years=(2010, 2011)))
    assert r3.unchanged and r3.version == r2.version  # identical content: still nothing published
    pkg = json.loads((rdir / r2.version / "datapackage.json").read_text())
    assert pkg["fingerprint"] == r2.fingerprint == read_latest(rdir)["fingerprint"]


def test_content_digest_sees_keys_and_counts_not_float_jitter() -> None:
    import polars as pl

    a = sample_tables(seed=1)
    same = sample_tables(seed=1)
    moved = {**a, "cluster_indicators": a["cluster_indicators"].with_columns(
        pl.when(pl.col("region_code") == "06").then(pl.lit("07")).otherwise(pl.col("region_code")).alias("region_code")
    )}  # fmt: skip
    jitter = {**a, "cluster_indicators": a["cluster_indicators"].with_columns(pl.col("emp") * (1 + 2**-52))}
    assert content_digest(a) == content_digest(same)
    assert content_digest(a) != content_digest(moved)
    assert content_digest(a) == content_digest(jitter)  # an identical rebuild's last-bit float noise
    con = duckdb.connect()
    for name, t in (("ci_a", a), ("ci_moved", moved), ("ci_jitter", jitter)):
        con.register(name, t["cluster_indicators"].to_arrow())

    def rel(name: str) -> str:
        return content_digest({"cluster_indicators": con.table(name)})

    assert rel("ci_a") != rel("ci_moved") and rel("ci_a") == rel("ci_jitter")
    assert rel("ci_a") == content_digest({"cluster_indicators": con.sql("SELECT * FROM ci_a ORDER BY random()")})


def test_deleted_version_name_is_never_reused(tmp_path: Path) -> None:
    rdir = tmp_path / "releases"
    r1 = publish_sample(rdir, sample_tables(seed=1))
    r2 = publish_sample(rdir, sample_tables(seed=2))
    assert (r1.version, r2.version) == ("v2026.03.14", "v2026.03.14.2")
    delete_release(rdir, r2.version)
    delete_release(rdir, r1.version)
    r3 = publish_sample(rdir, sample_tables(seed=3))  # the same day, other content
    assert r3.version == "v2026.03.14.3"
    assert not (rdir / r1.version).exists() and not (rdir / r2.version).exists()
    retired = json.loads((rdir / versions.RETIRED_DIR / r2.version).read_text())
    assert retired["fingerprint"] == r2.fingerprint
    assert versions.list_versions(rdir) == [r3.version]  # the markers are not releases


def test_latest_moves_only_after_the_release_folder_is_complete(tmp_path: Path, monkeypatch) -> None:
    rdir = tmp_path / "releases"
    r1 = publish_sample(rdir, sample_tables(seed=1))
    seen: list[tuple[str, list[str], list[str]]] = []
    real = versions.write_latest

    def spy(releases_dir: Path, version: str, fingerprint: str, created: str) -> None:
        folder = releases_dir / version
        tmp = [p.name for p in releases_dir.glob(".tmp-*")]
        seen.append((version, verify_release(folder) if folder.is_dir() else ["missing"], tmp))
        real(releases_dir, version, fingerprint, created)

    monkeypatch.setattr(versions, "write_latest", spy)
    r2 = publish_sample(rdir, sample_tables(seed=2))
    assert seen == [(r2.version, [], [])]  # complete, verified, renamed into place before the pointer
    # A failure while the release is written: latest stays on r2 and no version folder appears.
    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(publish, "write_bundle", boom)
    with pytest.raises(OSError, match="disk full"):
        publish_sample(rdir, sample_tables(seed=3))
    assert read_latest(rdir)["version"] == r2.version and len(seen) == 1
    assert versions.list_versions(rdir) == [r1.version, r2.version] and not list(rdir.glob(".tmp-*"))


def test_tables_built_for_other_years_are_not_published(tmp_path: Path) -> None:
    """A release claiming 2004–2011 must hold 2004–2011 (two colliding runs: the other rebuilt 2007–2011)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE cbp_file_rows AS SELECT range::INTEGER AS year FROM range(2007, 2012)")
    with pytest.raises(RuntimeError, match=r"built for CBP years 2007–2011 .*publishes 2004–2011"):
        build.check_built_years(con, Settings(warehouse=tmp_path, cbp_years=tuple(range(2004, 2012))))
    build.check_built_years(con, Settings(warehouse=tmp_path, cbp_years=tuple(range(2007, 2012))))
