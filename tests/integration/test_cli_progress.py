"""Issues 13 and 22: `observatory run` prints a person-readable account on a real (mini) run — one
progress line per step that takes time, no run ids or timestamps, no line over 160 characters, and a
closing summary (release page, warnings by name and count, partial-data caveat) — and an unchanged
re-run stops before any stage in at most 5 lines, while a changed setting still runs in full."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.raw.mirror import load_mirror
from tests.helpers.mini_mirror import YEARS, cli_env, mini_mirror

RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


@pytest.fixture
def mini(mirror_dir: Path, tmp_path: Path):
    mirror = mini_mirror(mirror_dir, tmp_path / "mirror")
    load_mirror.cache_clear()
    yield mirror, Settings(warehouse=tmp_path / "wh", mirror=mirror, cbp_years=YEARS, offline=True, eurostat=False)
    load_mirror.cache_clear()


def _run(capsys, *argv: str) -> tuple[list[str], list[str], float]:
    from pipelines import cli

    capsys.readouterr()
    started = time.perf_counter()
    assert cli.main(["run", *argv]) == 0
    cap = capsys.readouterr()
    return cap.out.splitlines(), cap.err.splitlines(), time.perf_counter() - started


def _assert_readable(lines: list[str]) -> None:
    assert all(len(ln) <= 160 for ln in lines), [ln for ln in lines if len(ln) > 160]
    assert not [ln for ln in lines if RUN_ID.search(ln) or TIMESTAMP.search(ln)], lines


def test_run_output_is_quiet_then_unchanged_rerun_stops_early(mini, tmp_path: Path, monkeypatch, capsys) -> None:
    mirror, settings = mini
    cli_env(monkeypatch, settings, mirror, tmp_path)

    out, err, _ = _run(capsys)
    lines = out + err
    _assert_readable(lines)
    assert len(lines) <= 20, lines
    version = json.loads((settings.releases_dir / "latest.json").read_text())["version"]
    release = settings.releases_dir / version
    pkg = json.loads((release / "datapackage.json").read_text())
    tables = {Path(r["path"]).stem: r["rows"] for r in pkg["resources"] if r.get("format") == "parquet"}
    # one line per CBP year, as it is staged (two years in flight: either may finish first)
    assert sorted(ln.strip() for ln in out if ln.strip().startswith("CBP ")) == [
        f"CBP state {y}: {json.loads(settings.staging_dir.joinpath(f'cbp/state/year={y}.json').read_text())['rows']:,} rows staged"
        for y in YEARS
    ], out
    # the families step is one line, not one per table; the release tables are counted once
    assert len([ln for ln in out if "indicator families" in ln]) == 1, out
    assert not [ln for ln in out if ln.strip().startswith(("family ", f"release {version}: "))], out
    assert f"published release {version}: {len(tables)} tables, {sum(tables.values()):,} rows" in out, out
    assert f"  page: {release / 'index.html'}" in out, out
    # warnings by name and count, as the release's validation report has them
    report = json.loads((release / "validation" / "results.json").read_text())
    failed = sorted(
        o["id"] for s in report["suites"] for o in s["outcomes"] if o["status"] == "failed" and o["severity"] != "error"
    )
    warn = [ln for ln in out if ln.strip().startswith("warnings (")]
    if failed:
        assert warn and warn[0].strip().startswith(f"warnings ({len(failed)}, "), (warn, failed)
        assert all(name in warn[0] for name in set(failed)), (warn, failed)
    else:
        assert not warn, out
    # the mini mirror's CBP files are partial reconstructions: the summary says so
    assert any(ln.strip().startswith("PARTIAL DATA: 2 of ") for ln in out), out
    assert not [ln for ln in out if "errors, " in ln], out  # no per-check lines

    # unchanged: decided before any stage, at most 5 lines, nothing published
    out2, err2, seconds = _run(capsys)
    assert len(out2 + err2) <= 5, out2 + err2
    _assert_readable(out2 + err2)
    assert f"nothing changed since release {version} (same inputs, settings and code): nothing published" in out2
    assert f"  page: {release / 'index.html'}" in out2
    assert not [ln for ln in out2 if ln.strip().startswith("CBP ")], out2
    assert seconds < 60, seconds  # (generous: the point is that no stage ran; timings are in benchmarks/)
    assert [p.name for p in settings.releases_dir.glob("v*")] == [version]

    # a changed setting that shapes the release is not short-circuited: the run goes through
    # every step and publishes a new release recording it
    monkeypatch.setenv("OBSERVATORY_MAX_SHRINK", "0.3")
    out3, err3, _ = _run(capsys)
    _assert_readable(out3 + err3)
    assert sorted(ln.strip() for ln in out3 if ln.strip().startswith("CBP ")) == [
        f"CBP state {y}: {n:,} rows (unchanged)"
        for y, n in ((y, json.loads(settings.staging_dir.joinpath(f"cbp/state/year={y}.json").read_text())["rows"]) for y in YEARS)
    ], out3
    new = json.loads((settings.releases_dir / "latest.json").read_text())["version"]
    assert new != version and any(ln.startswith(f"published release {new}: ") for ln in out3), out3
    assert json.loads((settings.releases_dir / new / "datapackage.json").read_text())["parameters"]["max_shrink"] == 0.3

    # issue 20: a latest release whose bytes no longer match its checksums is never "unchanged",
    # even with the same inputs: the run says latest fails verification and publishes afresh
    victim = settings.releases_dir / new / "data" / "cluster_indicators.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.chmod(0o644)
    victim.write_bytes(bytes(data))
    out4, _, _ = _run(capsys)
    assert any(ln.startswith(f"latest.json: names {new}, which fails verification") for ln in out4), out4
    assert not [ln for ln in out4 if ln.startswith("nothing changed")], out4
    fresh = json.loads((settings.releases_dir / "latest.json").read_text())["version"]
    assert fresh not in (new, version) and any(ln.startswith(f"published release {fresh}: ") for ln in out4), out4


def test_verbose_level_shows_dagster_lines_and_detail(mini, tmp_path: Path, monkeypatch, capsys) -> None:
    """OBSERVATORY_LOG_LEVEL=DEBUG asks for the detail: per-table lines and Dagster's run ids."""
    mirror, settings = mini
    cli_env(monkeypatch, settings, mirror, tmp_path)
    monkeypatch.setenv("OBSERVATORY_LOG_LEVEL", "DEBUG")
    out, err, _ = _run(capsys)
    text = "\n".join(out + err)
    assert RUN_ID.search(text), text[:2000]
    assert any(ln.strip().startswith("family ") for ln in out), out[:50]
