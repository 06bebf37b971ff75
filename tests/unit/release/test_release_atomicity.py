"""The two renames a release's safety rests on (issue 20, tests that can fail):

- the release folder reaches its final name in one rename of the finished temp folder, never by
  a copy (a crash during a copy leaves a half release under its final name);
- the latest/ link moves before latest.json (a crash in between leaves latest.json on the old,
  complete version, which its readers then find under latest/ too once the next run recovers).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.layout import read_latest
from pipelines.release import publish, versions
from pipelines.release.publish import verify_release
from tests.helpers.release_samples import publish_sample, sample_tables


def test_release_folder_is_renamed_into_place_not_copied(tmp_path: Path, monkeypatch) -> None:
    rdir = tmp_path / "releases"
    built: list[tuple[Path, int]] = []
    real_write_tables = publish._write_tables

    def spy(tmp: Path, *args, **kwargs):
        built.append((tmp, tmp.stat().st_ino))
        return real_write_tables(tmp, *args, **kwargs)

    monkeypatch.setattr(publish, "_write_tables", spy)
    r = publish_sample(rdir, sample_tables(seed=1))
    [(tmp, inode)] = built
    assert not tmp.exists() and r.path.stat().st_ino == inode  # the same directory, renamed
    assert verify_release(r.path) == []

    # A crash during the move: nothing under the final name, the temp folder gone, latest unmoved.
    def crash(src, dst):
        raise OSError("power loss during the move")

    monkeypatch.setattr(publish.os, "rename", crash)
    with pytest.raises(OSError, match="power loss"):
        publish_sample(rdir, sample_tables(seed=2))
    assert versions.list_versions(rdir) == [r.version]
    assert not [p for p in rdir.iterdir() if p.name.startswith(("v", ".tmp-")) and p.name != r.version]
    assert read_latest(rdir)["version"] == r.version


def test_latest_link_moves_before_latest_json(tmp_path: Path, monkeypatch) -> None:
    rdir = tmp_path / "releases"
    r1 = publish_sample(rdir, sample_tables(seed=1))
    moved: list[str] = []
    real_replace = os.replace

    def replace(src, dst):
        name = Path(dst).name
        moved.append(name)
        if name == "latest":
            raise OSError("crash while moving the latest/ link")
        return real_replace(src, dst)

    monkeypatch.setattr(versions.os, "replace", replace)
    with pytest.raises(OSError, match="latest/ link"):
        publish_sample(rdir, sample_tables(seed=2))
    assert moved == ["latest"]  # latest.json not written before the link moved
    assert read_latest(rdir)["version"] == r1.version
    assert os.readlink(rdir / "latest") == r1.version
    monkeypatch.setattr(versions.os, "replace", real_replace)
    r2 = publish_sample(rdir, sample_tables(seed=3))  # the next run publishes normally
    assert read_latest(rdir)["version"] == r2.version and os.readlink(rdir / "latest") == r2.version
