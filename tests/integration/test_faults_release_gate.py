"""Issue 15 through the real path (Dagster refresh / `observatory run` on a mini mirror): a CBP
year that vanishes or shrinks never reaches a release, the console names what blocked it, and
the blocked run's validation report is written. Nothing published changes."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines import cli
from pipelines.cli.refresh import refresh
from pipelines.config import Settings
from pipelines.layout import report_dir, results_dir
from pipelines.raw.mirror import load_mirror
from pipelines.validation.report import blocked_message, write_run_report
from tests.helpers.mini_mirror import YEARS, cli_env, mini_mirror


def _replace_member(mirror: Path, source_id: str, edit) -> None:
    """Rewrite a CBP zip's member text with `edit(text)` and fix its index entry (an upstream
    that changed for the worse, not bit rot)."""
    index = json.loads((mirror / "index.json").read_text())
    entry = next(e for e in index["entries"] if e["id"] == source_id)
    path = mirror / entry["path"]
    with zipfile.ZipFile(path) as zf:
        (name,) = [n for n in zf.namelist() if n.lower().endswith((".txt", ".csv"))]
        text = zf.read(name).decode("latin-1")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, edit(text))
    path.write_bytes(buf.getvalue())
    entry.update(sha256=hashlib.sha256(buf.getvalue()).hexdigest(), bytes=len(buf.getvalue()))
    (mirror / "index.json").write_text(json.dumps(index))
    load_mirror.cache_clear()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def mini(mirror_dir: Path, tmp_path: Path):
    mirror = mini_mirror(mirror_dir, tmp_path / "mirror")
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror, cbp_years=YEARS, offline=True, eurostat=False)
    load_mirror.cache_clear()
    yield mirror, settings
    load_mirror.cache_clear()


def _error_line(stderr: str) -> str:
    return stderr[stderr.rindex("error: ") :]


def test_header_only_year_stops_the_run(mini, tmp_path: Path, monkeypatch, capsys) -> None:
    """Today: the year parses to 0 rows, every per-year expectation passes on nothing, and a
    release without 2011 is published and becomes latest."""
    mirror, settings = mini
    _replace_member(mirror, "census/cbp/state/2011", lambda t: t.split("\n", 1)[0] + "\n")
    cli_env(monkeypatch, settings, mirror, tmp_path)
    capsys.readouterr()
    assert cli.main(["run"]) == 1
    err = _error_line(capsys.readouterr().err)
    assert err.startswith("error: [census/cbp/state/2011]") and "cbp11st.txt: no data rows" in err, err
    assert "cbp11st.zip" in err and "Stack Trace" not in err and err.count("\n") <= 1, err
    assert not settings.releases_dir.exists() or not list(settings.releases_dir.iterdir())


def test_shrunk_year_blocks_the_release_and_says_why(mini, tmp_path: Path, monkeypatch, capsys) -> None:
    mirror, settings = mini
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        first = refresh(settings, instance=instance)
        assert first.release["published"]
        v1 = first.release["version"]
        published = _snapshot(settings.releases_dir)
        prev = pl.read_parquet(settings.releases_dir / v1 / "data/industry_employment.parquet")
        prev_rows = prev.filter(pl.col("year") == 2011).height

        # 2011 comes back with only its first 40 % of lines: well-formed, but most of the year gone.
        def shrink(text: str) -> str:
            lines = text.splitlines(keepends=True)
            return "".join(lines[: int(len(lines) * 0.4)])

        _replace_member(mirror, "census/cbp/state/2011", shrink)
        cli_env(monkeypatch, settings, mirror, tmp_path)
        capsys.readouterr()
        assert cli.main(["run"]) == 1
    err = _error_line(capsys.readouterr().err)
    assert err.startswith("error: release blocked") and "Stack Trace" not in err, err
    # The console names the expectation, the table and sample rows.
    assert "no_sharp_shrink" in err and "industry_employment" in err, err
    assert "2011" in err and str(prev_rows) in err and v1 in err, err
    assert _snapshot(settings.releases_dir) == published  # latest did not move, v1 intact
    # The blocked run's report is written, and says so.
    report = results_dir(settings.warehouse) / "report"
    data = json.loads((report / "results.json").read_text())
    assert data["success"] is False
    failed = {(s["suite"], o["id"]) for s in data["suites"] for o in s["outcomes"] if o["status"] == "failed"}
    assert ("completeness", "no_sharp_shrink") in failed
    assert "no_sharp_shrink" in (report / "report.md").read_text()


def test_run_report_merges_one_runs_checks_and_says_what_blocked(tmp_path: Path) -> None:
    from pipelines.validation.results import Outcome, SuiteResult

    ok = SuiteResult("harmonised", "industry_employment", "", [Outcome("key_unique", "x", "error", "d", "passed")])
    bad = SuiteResult("completeness", "industry_employment", "", [Outcome(
        "requested_years_present", "sql:years_present", "error", "Every requested year has rows.", "failed",
        failing_count=1, sample=[{"year": 2011, "region_type": "state", "source_id": "census/cbp/state/2011", "rows": 0}],
    )])  # fmt: skip
    wh = tmp_path / "wh"
    results = report_dir(wh) / "results.json"
    write_run_report(wh, [ok], "run-a")
    assert json.loads(results.read_text())["success"] is True
    assert blocked_message(wh) is None
    write_run_report(wh, [bad], "run-a")  # a second check of the same run: merged
    data = json.loads(results.read_text())
    assert data["success"] is False and data["blocked"] is True and data["run_id"] == "run-a"
    assert [s["suite"] for s in data["suites"]] == ["harmonised", "completeness"]
    msg = blocked_message(wh)
    assert msg is not None and msg.startswith("release blocked: 1 error-level")
    assert "industry_employment: completeness/requested_years_present failed, 1 failing" in msg
    assert "year=2011, region_type=state, source_id=census/cbp/state/2011, rows=0" in msg
    assert blocked_message(wh, since=results.stat().st_mtime + 60) is None  # an older report
    write_run_report(wh, [ok], "run-b")  # the next run starts its own report
    data = json.loads(results.read_text())
    assert data["success"] is True and [s["suite"] for s in data["suites"]] == ["harmonised"]
