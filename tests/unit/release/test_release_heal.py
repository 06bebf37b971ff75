"""Damaged release metadata heals instead of blocking (issue 20): a corrupt latest.json, an
unreadable Parquet in the previous release, a latest release whose bytes no longer match its
SHA256SUMS. latest must name a release that verifies before anything compares with it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.config import Settings
from pipelines.layout import read_latest
from pipelines.release.integrity import heal_latest, verify_release
from pipelines.release.publish import release_reason
from tests.helpers.release_samples import publish_sample, sample_tables

CORRUPT = '{"version": "v2026.03.14", "path": "v2026\x01.03.14", "fingerprint": "abc'  # a control character, cut short


def _two_releases(rdir: Path):
    return publish_sample(rdir, sample_tables(seed=1)), publish_sample(rdir, sample_tables(seed=2))


def test_corrupt_latest_json_is_rebuilt_at_list_and_at_publish(tmp_path: Path, monkeypatch, capsys) -> None:
    wh = tmp_path / "wh"
    rdir = wh / "releases"
    _, r2 = _two_releases(rdir)
    (rdir / "latest.json").write_text(CORRUPT)
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(wh))
    assert cli.main(["releases", "list"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("latest.json: unreadable (Invalid control character") and err.count("\n") == 1, err
    assert f"latest is now {r2.version}, the newest release that verifies" in err
    assert f"* {r2.version}" in out
    assert read_latest(rdir)["version"] == r2.version and os.readlink(rdir / "latest") == r2.version

    (rdir / "latest.json").write_text(CORRUPT)  # the release step heals it too (a run started from the UI)
    r3 = publish_sample(rdir, sample_tables(seed=3))
    assert r3.previous == r2.version and "latest.json: unreadable" in (r3.healed or "")
    assert read_latest(rdir)["version"] == r3.version


def test_unreadable_parquet_in_previous_release_is_skipped_and_named(tmp_path: Path) -> None:
    rdir = tmp_path / "releases"
    r1, r2 = _two_releases(rdir)
    parquet = rdir / r2.version / "data" / "cluster_indicators.parquet"
    parquet.write_bytes(parquet.read_bytes()[:200])  # "File out of specification" for any reader
    r3 = publish_sample(rdir, sample_tables(seed=3))
    assert r3.previous == r1.version  # the changes are against the newest intact release
    reason = release_reason(r3)
    assert f"names {r2.version}, which fails verification (data/cluster_indicators.parquet: sha256 mismatch" in reason
    assert f"latest is now {r1.version}" in reason
    assert json.loads((r3.path / "datapackage.json").read_text())["previousVersion"] == r1.version
    assert read_latest(rdir)["version"] == r3.version and verify_release(r3.path) == []
    # Two damaged in a row: the older one is named as skipped too.
    (r3.path / "CHANGELOG.md").write_text("x\n")
    line = heal_latest(rdir) or ""
    assert f"latest is now {r1.version}" in line and f"skipped {r2.version} (data/cluster_indicators.parquet" in line, line


def test_damaged_latest_is_not_served_as_nothing_changed(tmp_path: Path) -> None:
    rdir = tmp_path / "releases"
    tables = sample_tables(seed=1)
    r1 = publish_sample(rdir, tables)
    assert publish_sample(rdir, tables).unchanged  # same inputs, intact: nothing to publish
    (r1.path / "CITATION.cff").write_text("tampered\n")
    r2 = publish_sample(rdir, tables)
    assert not r2.unchanged and r2.version != r1.version, release_reason(r2)
    assert f"names {r1.version}, which fails verification (CITATION.cff: sha256 mismatch)" in release_reason(r2)
    assert "no release verifies" in release_reason(r2)
    assert read_latest(rdir)["version"] == r2.version and verify_release(r2.path) == []
    assert publish_sample(rdir, tables).unchanged  # and from then on, nothing changed again


def test_heal_says_nothing_when_latest_is_fine_or_absent(tmp_path: Path) -> None:
    rdir = tmp_path / "releases"
    assert heal_latest(rdir) is None
    _, r2 = _two_releases(rdir)
    assert heal_latest(rdir) is None and read_latest(rdir)["version"] == r2.version
    (rdir / "latest.json").unlink()
    assert heal_latest(rdir) == f"latest.json: missing; latest is now {r2.version}, the newest release that verifies"


def test_a_run_heals_the_pointer_before_it_builds(tmp_path: Path, monkeypatch) -> None:
    """`observatory run` checks latest at the start, not after the whole build."""
    from pipelines.cli import refresh as refresh_mod

    settings = Settings(warehouse=tmp_path / "wh")
    _, r2 = _two_releases(settings.releases_dir)
    (settings.releases_dir / "latest.json").write_text(CORRUPT)
    seen: list[str] = []

    def build(s, inst, wanted):
        seen.append(read_latest(s.releases_dir)["version"])  # what the checks would compare with
        return refresh_mod.RefreshResult(run_ids=[], release={})

    monkeypatch.setattr(refresh_mod, "_refresh", build)
    notices: list[str] = []
    refresh_mod.refresh(settings, notice=notices.append)
    assert seen == [r2.version]
    assert len(notices) == 1 and notices[0].startswith("latest.json: unreadable"), notices


@pytest.mark.parametrize("text", ["[]", "{}", '{"version": "v1999.01.01"}'])
def test_pointer_naming_nothing_usable_is_rebuilt(tmp_path: Path, text: str) -> None:
    rdir = tmp_path / "releases"
    _, r2 = _two_releases(rdir)
    (rdir / "latest.json").write_text(text)
    assert f"latest is now {r2.version}" in (heal_latest(rdir) or "")


def test_dagster_completeness_params_heal_latest_first(tmp_path: Path) -> None:
    """A run launched from the UI reaches the shrink checks without the CLI's heal at start: their
    parameters heal latest.json first, so they compare with a release that verifies."""
    from pipelines.defs.checks import healed

    wh = tmp_path / "wh"
    _, r2 = _two_releases(wh / "releases")
    (wh / "releases" / "latest.json").write_text(CORRUPT)
    params = healed(lambda s: {"previous": read_latest(s.releases_dir)["version"]})(Settings(warehouse=wh))
    assert params == {"previous": r2.version}
