"""Issue 22: the early "nothing changed" of `observatory run` (pipelines/runs/unchanged.py) holds only
while everything a release depends on is the same: every input file, setting, release switch and
the code; and only while the release it recorded is still the latest."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.runs import unchanged


@pytest.fixture
def recorded(tmp_path: Path) -> Settings:
    """A warehouse whose last complete run published v1 from a two-file mirror."""
    mirror = tmp_path / "mirror"
    (mirror / "census").mkdir(parents=True)
    (mirror / "census" / "cbp10st.zip").write_bytes(b"year 2010")
    (mirror / "index.json").write_text("{}")
    groups = tmp_path / "groups.yaml"
    groups.write_text("groups: []\n")
    s = Settings(warehouse=tmp_path / "wh", mirror=mirror, offline=True, cbp_years=(2010,), region_groups=groups)
    (s.releases_dir / "v1").mkdir(parents=True)
    (s.releases_dir / "v1" / "datapackage.json").write_text("{}")
    (s.releases_dir / "latest.json").write_text(json.dumps({"version": "v1", "fingerprint": "f1"}))
    unchanged.record_run(s, unchanged.input_key(s), {"version": "v1", "fingerprint": "f1"})
    return s


def test_same_inputs_settings_and_code_are_unchanged(recorded: Settings) -> None:
    same = unchanged.unchanged_release(recorded)
    assert same == {"version": "v1", "path": recorded.releases_dir / "v1", "fingerprint": "f1"}


def test_an_input_file_changed_in_content_is_not_unchanged(recorded: Settings) -> None:
    f = recorded.mirror / "census" / "cbp10st.zip"  # type: ignore[operator]
    f.write_bytes(b"year 2011")  # same size: only the content tells
    assert unchanged.unchanged_release(recorded) is None


def test_an_added_input_file_is_not_unchanged(recorded: Settings) -> None:
    (recorded.mirror / "census" / "cbp11st.zip").write_bytes(b"x")  # type: ignore[operator]
    assert unchanged.unchanged_release(recorded) is None


def test_region_groups_edit_is_not_unchanged(recorded: Settings) -> None:
    recorded.region_groups.write_text("groups: [a]\n")  # type: ignore[union-attr]
    assert unchanged.unchanged_release(recorded) is None


@pytest.mark.parametrize(
    "change", [{"cbp_years": (2010, 2011)}, {"max_shrink": 0.3}, {"eurostat": False}, {"cbp_geos": ("state", "us")}]
)
def test_a_changed_setting_is_not_unchanged(recorded: Settings, change: dict) -> None:
    assert unchanged.unchanged_release(dataclasses.replace(recorded, **change)) is None


@pytest.mark.parametrize("env", [("OBSERVATORY_RELEASE_CSV", "all"), ("OBSERVATORY_EUROSTAT_DATASETS", "sbs_r_nuts06_r2")])
def test_a_changed_release_switch_is_not_unchanged(recorded: Settings, monkeypatch, env: tuple[str, str]) -> None:
    monkeypatch.setenv(*env)
    assert unchanged.unchanged_release(recorded) is None


def test_changed_code_is_not_unchanged(recorded: Settings, monkeypatch) -> None:
    monkeypatch.setattr(unchanged, "code_fingerprint", lambda: "other code")
    assert unchanged.unchanged_release(recorded) is None


def test_a_moved_latest_or_deleted_release_is_not_unchanged(recorded: Settings) -> None:
    latest = recorded.releases_dir / "latest.json"
    (recorded.releases_dir / "v2").mkdir()  # another run published v2 since
    (recorded.releases_dir / "v2" / "datapackage.json").write_text("{}")
    latest.write_text(json.dumps({"version": "v2", "fingerprint": "f2"}))
    assert unchanged.unchanged_release(recorded) is None
    latest.write_text(json.dumps({"version": "v1", "fingerprint": "f1"}))
    (recorded.releases_dir / "v1" / "datapackage.json").unlink()
    assert unchanged.unchanged_release(recorded) is None


def test_online_runs_have_no_key(recorded: Settings) -> None:
    """Upstream may have changed without a fetch: an online run always runs in full."""
    assert unchanged.input_key(dataclasses.replace(recorded, offline=False)) is None
    assert unchanged.unchanged_release(dataclasses.replace(recorded, offline=False)) is None


def test_unchanged_file_is_not_rehashed(recorded: Settings, monkeypatch) -> None:
    """The sha256 of a file whose size and mtime are as recorded is reused (big mirrors stay fast)."""
    calls = []
    real = unchanged.hashlib.sha256
    monkeypatch.setattr(unchanged.hashlib, "sha256", lambda *a: calls.append(a) or real(*a))
    assert unchanged.unchanged_release(recorded) is not None
    assert len(calls) == 1  # the key itself, no file
