"""Issue 20: every documented setting publishes, with Eurostat on (tests/helpers/settings_matrix.py).
Before the fix, no EU region group (none, or a US-only file) failed after ~40 s with "documented
but missing: ['custom_base_type', 'custom_name']"."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.settings_matrix import run_sequence


def test_eurostat_on_publishes_with_every_groups_and_geography_setting(mirror_dir: Path, tmp_path: Path, monkeypatch) -> None:
    assert len(run_sequence(mirror_dir, tmp_path, monkeypatch, eurostat=True)) == 4
