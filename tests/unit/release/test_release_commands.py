"""`observatory releases …` commands under a running build (issue 20): delete waits for nobody and
takes the warehouse lock, so it never removes or re-points a release while a run publishes."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from pipelines import cli
from pipelines.layout import read_latest
from pipelines.release import versions
from pipelines.runs.lock import LOCK_NAME
from tests.helpers.release_samples import publish_sample, sample_tables


def test_delete_is_refused_while_a_run_holds_the_warehouse(tmp_path: Path, monkeypatch, capsys) -> None:
    wh = tmp_path / "wh"
    rdir = wh / "releases"
    r1 = publish_sample(rdir, sample_tables(seed=1))
    r2 = publish_sample(rdir, sample_tables(seed=2))
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(wh))
    fd = os.open(wh / LOCK_NAME, os.O_RDWR | os.O_CREAT)  # another open file = another run's lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.pwrite(fd, b'{"pid": 4242, "host": "h", "what": "refresh", "since": "2026-01-01T00:00:00Z"}\n', 0)
        assert cli.main(["releases", "delete", r2.version, "--yes"]) == 1
        err = capsys.readouterr().err
        assert "another run holds the warehouse" in err and "pid 4242" in err, err
        assert versions.list_versions(rdir) == [r1.version, r2.version] and read_latest(rdir)["version"] == r2.version
    finally:
        os.close(fd)
    assert cli.main(["releases", "delete", r2.version, "--yes"]) == 0  # once the run is gone
    assert versions.list_versions(rdir) == [r1.version] and read_latest(rdir)["version"] == r1.version
