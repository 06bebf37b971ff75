"""Issue 20: every documented setting publishes, with Eurostat off (tests/helpers/settings_matrix.py)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.settings_matrix import run_sequence


def test_eurostat_off_publishes_with_every_groups_and_geography_setting(mirror_dir: Path, tmp_path: Path, monkeypatch) -> None:
    assert len(run_sequence(mirror_dir, tmp_path, monkeypatch, eurostat=False)) == 4
