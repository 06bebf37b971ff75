"""Issue 13: a failed `observatory run` prints one line (source, file/URL, reason) on the
console, not Dagster's ERROR log lines and stack traces; OBSERVATORY_DEBUG=1 shows them all.
Run as a real subprocess so the console is exactly what a user sees."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.mini_mirror import mini_mirror

SOURCE = "census/cbp/state/2011"


@pytest.fixture
def corrupt_mirror(mirror_dir: Path, tmp_path: Path) -> tuple[Path, str]:
    """A mini mirror whose 2011 CBP zip is not a zip (index fixed, so only the content is bad)."""
    mirror = mini_mirror(mirror_dir, tmp_path / "mirror")
    index = json.loads((mirror / "index.json").read_text())
    entry = next(e for e in index["entries"] if e["id"] == SOURCE)
    bad = b"PK\x03\x04 this is not a zip archive" * 10
    (mirror / entry["path"]).write_bytes(bad)
    entry.update(sha256=hashlib.sha256(bad).hexdigest(), bytes=len(bad))
    (mirror / "index.json").write_text(json.dumps(index))
    return mirror, Path(entry["path"]).name


def _run(mirror: Path, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBSERVATORY_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(tmp_path / "dagster_home"), OBSERVATORY_WAREHOUSE=str(tmp_path / "wh"),
        OBSERVATORY_MIRROR=str(mirror), OBSERVATORY_OFFLINE="1", OBSERVATORY_CBP_YEARS="2010-2011",
        OBSERVATORY_EUROSTAT="0", OBSERVATORY_REGION_GROUPS="", **extra,
    )  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run"], env=env, capture_output=True, text=True, timeout=300
    )


def test_failed_run_prints_one_line(corrupt_mirror, tmp_path: Path) -> None:
    mirror, fname = corrupt_mirror
    res = _run(mirror, tmp_path)
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr  # no Dagster ERROR lines, no traceback
    (line,) = lines
    assert line.startswith(f"error: [{SOURCE}]") and fname in line, line
    assert "Traceback" not in res.stdout and "Stack Trace" not in res.stdout


def test_debug_shows_the_traceback(corrupt_mirror, tmp_path: Path) -> None:
    mirror, _ = corrupt_mirror
    res = _run(mirror, tmp_path, OBSERVATORY_DEBUG="1")
    assert res.returncode == 1
    assert "Traceback" in res.stderr and "STEP_FAILURE" in res.stderr + res.stdout, res.stderr[-3000:]
