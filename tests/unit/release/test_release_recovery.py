"""Publishing after a crash: half-written folders are swept, an unpointed release is adopted."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import polars as pl

from pipelines.layout import read_latest
from pipelines.release.publish import publish_release
from pipelines.release.versions import list_versions

CLUSTERS = pl.DataFrame(
    {"cluster_code": ["1", "101"], "cluster_name": ["A", "B"], "cluster_key": ["a", "b"],
     "traded": [True, False], "cluster_type": ["traded", "local"]}
)


def _publish(releases: Path, sha: str):
    return publish_release(
        {"clusters": CLUSTERS}, releases_dir=releases, sources=[{"source_id": "test/src", "sha256": sha}],
        csv=False, bundle=False, catalog=False,
    )


def test_crash_between_rename_and_pointer_is_adopted_not_republished(tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    first = _publish(releases, "a" * 64)
    second = _publish(releases, "b" * 64)
    assert list_versions(releases) == [first.version, second.version]
    # Simulate the crash: the second release is in place, latest.json still names the first.
    latest = json.loads((releases / "latest.json").read_text())
    latest.update(version=first.version, path=first.version, fingerprint=first.fingerprint)
    (releases / "latest.json").write_text(json.dumps(latest))
    again = _publish(releases, "b" * 64)
    assert again.unchanged and again.version == second.version
    assert list_versions(releases) == [first.version, second.version]
    assert read_latest(releases)["version"] == second.version


def test_stale_temp_folders_are_swept(tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    releases.mkdir()
    stale = releases / ".tmp-v2026.01.01-deadbeef"
    (stale / "data").mkdir(parents=True)
    (stale / "data" / "x.parquet").write_bytes(b"partial")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = releases / ".tmp-v2026.01.02-cafebabe"  # maybe another publish right now: left alone
    fresh.mkdir()
    _publish(releases, "c" * 64)
    assert not stale.exists() and fresh.exists()
