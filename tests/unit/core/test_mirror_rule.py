"""One mirror rule for `make run` and `.venv/bin/observatory run` (config.resolve_mirror): unset →
../shared/mirror when it has an index.json, and then offline; empty → none; a path → that folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines import config
from pipelines.config import PROJECT_ROOT, Settings, resolve_mirror


@pytest.fixture
def default_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "shared" / "mirror"
    d.mkdir(parents=True)
    (d / "index.json").write_text('{"entries": []}')
    monkeypatch.setattr(config, "DEFAULT_MIRROR", d)
    return d


def test_unset_means_the_default_mirror_offline(default_mirror: Path, monkeypatch) -> None:
    assert resolve_mirror({}) == (default_mirror.resolve(), True)
    monkeypatch.delenv("OBSERVATORY_MIRROR", raising=False)  # what the CLI sees when run directly
    s = Settings.from_env()
    assert (s.mirror, s.offline) == (default_mirror.resolve(), True)


def test_offline_can_be_turned_off_and_other_choices(default_mirror: Path, tmp_path: Path) -> None:
    assert resolve_mirror({"OBSERVATORY_OFFLINE": "0"}) == (default_mirror.resolve(), False)
    assert resolve_mirror({"OBSERVATORY_MIRROR": ""}) == (None, False)  # explicitly none: upstream
    other = tmp_path / "other"
    assert resolve_mirror({"OBSERVATORY_MIRROR": str(other)}) == (other.resolve(), False)
    assert resolve_mirror({"OBSERVATORY_MIRROR": str(other), "OBSERVATORY_OFFLINE": "1"}) == (other.resolve(), True)


def test_no_default_without_its_index(default_mirror: Path) -> None:
    (default_mirror / "index.json").unlink()
    assert resolve_mirror({}) == (None, False)


def test_makefile_leaves_the_rule_to_config() -> None:
    """`make run` must not resolve the mirror itself (two rules drift: the CLI once ignored it)."""
    text = (PROJECT_ROOT / "Makefile").read_text()
    assert not re.search(r"^\s*(export\s+)?OBSERVATORY_(MIRROR|OFFLINE)\s*[:?]?=", text, re.M)
