"""Recovering a dead run sweeps its temp files, and only those older than this run's start:
a fresh temp file may belong to a live run (issue 20: the sweep once ignored the age)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipelines.config import Settings
from pipelines.runs.dead_runs import sweep_temp


def _temp_entries(s: Settings, tag: str) -> list[Path]:
    """One temp entry of each kind a run leaves before its atomic renames."""
    paths = [
        s.raw_dir / ".tmp" / f"download-{tag}.part",
        s.releases_dir / f".tmp-v2026.01.0{tag}-0123abcd" / "data.parquet",
        s.releases_dir / f".latest-{tag}0123abc.json",
        s.staging_dir / "cbp" / "state" / f".year=201{tag}.parquet.0123abcd",
        s.warehouse / "observatory.duckdb.tmp" / f"spill-{tag}.tmp",
    ]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("partial")
    return paths


def test_sweep_removes_dead_runs_temp_files_and_spares_fresh_ones(tmp_path: Path) -> None:
    s = Settings(warehouse=tmp_path / "wh")
    old = _temp_entries(s, "1")
    hour_ago = time.time() - 3600
    for p in old:
        os.utime(p, (hour_ago, hour_ago))
    tmp_release = old[1].parent
    os.utime(tmp_release, (hour_ago, hour_ago))
    since = time.time() - 60  # this run started a minute ago
    fresh = _temp_entries(s, "2")  # written by a live run since then
    kept = [s.releases_dir / "v2026.01.01" / "SHA256SUMS", s.staging_dir / "cbp" / "state" / "year=2011.parquet"]
    for p in kept:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("published")
        os.utime(p, (hour_ago, hour_ago))

    swept = sweep_temp(s, since)

    assert swept == len(old)
    assert [p for p in old if p.exists() and p != old[1]] == [] and not tmp_release.exists()
    assert all(p.exists() for p in fresh), [p for p in fresh if not p.exists()]
    assert all(p.exists() for p in kept)
