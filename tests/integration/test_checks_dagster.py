"""Blocking validation checks through Dagster: a failing check stops the release; a passing run
publishes the validation report."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.cli.refresh import refresh
from pipelines.config import Settings
from pipelines.release import build
from pipelines.validation.gate import ValidationError
from pipelines.warehouse import database

SUPPRESSED_STATE = "10"  # Delaware: the test suppresses every 6-digit cell of its 2010 file


def _us_settings(mirror_dir: Path, tmp_path: Path) -> Settings:
    """One CBP year, US side only (the EU side has its own tests)."""
    extra = {"eurostat": False} if "eurostat" in Settings.__dataclass_fields__ else {}
    return Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, cbp_years=(2010,), offline=True, **extra)


def _mirror_with_suppressed_state(src: Path, dest: Path, year: int = 2010, state: str = SUPPRESSED_STATE) -> Path:
    """A mirror copy whose CBP state file for `year` has every 6-digit cell of `state` suppressed
    the upstream way (EMPFLAG 'A' = 0–19 employees, EMP 0, EMP_NF/AP_NF 'D', AP 0): a suppressed
    share far above the warning level and, at the 'A' midpoint, a coverage far below it.
    Other files are the shared ones (symlinked, read-only)."""
    dest.mkdir(parents=True)
    index = json.loads((src / "index.json").read_text())
    for top in {e["path"].split("/")[0] for e in index["entries"]}:
        (dest / top).symlink_to(src / top)
    entry = next(e for e in index["entries"] if e["id"] == f"census/cbp/state/{year}")
    with zipfile.ZipFile(src / entry["path"]) as zf:
        member = zf.namelist()[0]
        df = pl.read_csv(io.BytesIO(zf.read(member)), infer_schema=False)
    hit = (pl.col("FIPSTATE") == state) & pl.col("NAICS").str.contains(r"^[0-9]{6}$")
    assert df.filter(hit).height > 0, f"state {state} has no 6-digit rows in {entry['path']}"
    df = df.with_columns(
        *(pl.when(hit).then(pl.lit(v)).otherwise(pl.col(c)).alias(c) for c, v in
          {"EMPFLAG": "A", "EMP_NF": "D", "EMP": "0", "AP_NF": "D", "AP": "0"}.items()),
    ).with_columns(pl.col("EMP", "AP", "EST").cast(pl.Int64))  # fmt: skip
    rel = f"suppressed/cbp{year % 100:02d}st.zip"
    (dest / "suppressed").mkdir()
    with zipfile.ZipFile(dest / rel, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, df.write_csv(quote_style="non_numeric", null_value=""))
    data = (dest / rel).read_bytes()
    entry.update(path=rel, bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                 note=entry["note"] + f" [test: every 6-digit cell of state {state} suppressed]")  # fmt: skip
    (dest / "index.json").write_text(json.dumps(index, indent=1))
    return dest


def _check_evaluations(instance: dg.DagsterInstance, run_id: str) -> dict[str, dg.AssetCheckEvaluation]:
    out = {}
    for rec in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        ev = rec.dagster_event.event_specific_data
        out[f"{ev.asset_key.to_user_string()}:{ev.check_name}"] = ev
    return out


def test_suites_gate_the_release(mirror_dir: Path, tmp_path: Path, monkeypatch, request) -> None:
    """One warehouse, three steps: a clean refresh publishes the report (warnings for a state whose
    cells are all suppressed, published all the same); a direct publish of corrupted tables is
    refused; a refresh whose indicators fail a blocking check publishes nothing."""
    mirror = _mirror_with_suppressed_state(mirror_dir, tmp_path / "mirror")
    settings = _us_settings(mirror, tmp_path)
    stack = contextlib.ExitStack()
    request.addfinalizer(stack.close)
    instance = stack.enter_context(dg.instance_for_test(temp_dir=str(tmp_path)))
    result = refresh(settings, instance=instance)
    evals = {k: e for run in result.run_ids for k, e in _check_evaluations(instance, run).items()}
    for key in ("clusters:reference_clusters_errors", "cbp_state:cbp_parsed_errors", "cbp_state:cbp_quarantine",
                "industry_employment:harmonised_errors", "cluster_indicators:cluster_indicators_errors",
                "region_indicators:region_indicators_errors"):  # fmt: skip
        assert evals[key].passed, key
    meta = evals["cluster_indicators:cluster_indicators_errors"].metadata
    assert "region_share_sums_to_one" in meta["summary"].value and meta["failing_rows"].value == 0
    warn = evals["cbp_state:cbp_parsed_warnings"]
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN  # suppressed share: reported only
    assert "suppressed_share" in warn.metadata["failing_samples"].value
    assert f"| {SUPPRESSED_STATE} |" in warn.metadata["failing_samples"].value
    cov = evals["region_indicators:region_indicators_warnings"]  # coverage at the 'A' midpoints: reported only
    assert not cov.passed and cov.severity == dg.AssetCheckSeverity.WARN
    assert "coverage_below_min" in cov.metadata["failed_expectations"].value
    assert f"| {SUPPRESSED_STATE} |" in cov.metadata["failing_samples"].value

    rel = Path(result.release["path"])
    assert result.release["published"] is True
    for name in ("results.json", "report.md", "report.html"):
        assert (rel / "validation" / name).is_file()
    data = json.loads((rel / "validation/results.json").read_text())
    assert data["success"] is True and data["failed_errors"] == 0
    suites = {s["suite"] for s in data["suites"]}
    assert {"cbp_parsed", "harmonised", "cluster_indicators", "region_indicators", "reference_clusters"} <= suites
    pkg = json.loads((rel / "datapackage.json").read_text())
    assert pkg["validation"]["results"] == "validation/results.json" and pkg["validation"]["success"] is True
    assert "cbp_quarantine" in {r["name"] for r in pkg["resources"]}
    assert "suppressed_share" in (rel / "validation/report.md").read_text()
    # The state's coverage is the file's own arithmetic: 6-digit rows × the 'A' midpoint over its total.
    ri = pl.read_parquet(rel / "data/region_indicators.parquet").filter(pl.col("region_code") == SUPPRESSED_STATE)
    ie = pl.read_parquet(rel / "data/industry_employment.parquet").filter(pl.col("region_code") == SUPPRESSED_STATE)
    six = ie.filter((pl.col("industry_level") == 6) & (pl.col("lfo") == "-"))
    total = ie.filter(pl.col("industry_code") == "TOTAL")["emp"][0]
    assert six["emp_reported"].null_count() == six.height
    assert ri["coverage"][0] == pytest.approx(six.height * 10 / total) and ri["coverage"][0] < 0.95
    # The release says what its inputs are: the mirror marks the CBP files partial (or not).
    partial = json.loads((mirror / "index.json").read_text())
    partial = any(e["kind"] == "partial-reconstruction" and e["id"] == "census/cbp/state/2010" for e in partial["entries"])
    assert ("PARTIAL DATA" in pkg["description"]) == partial
    assert "| 2010 | state | " in (rel / "notes/coverage.md").read_text() and "notes/coverage.md" in pkg["notes"]
    assert re.search(r"Below 95 %: [1-9][0-9]* of 51 state-years", pkg["description"])  # the suppressed state at least

    # Publishing directly re-validates: bad data in the warehouse never reaches a release.
    with database.connect(settings) as con:
        con.execute("UPDATE cluster_indicators SET lq = -1 WHERE region_code = '06' AND cluster_code = '1'")
    before = sorted(p.name for p in settings.releases_dir.iterdir())
    with pytest.raises(ValidationError, match="lq_non_negative"):
        build.publish_us_release(settings, force_new=True)
    assert sorted(p.name for p in settings.releases_dir.iterdir()) == before

    # A blocking check failing inside a refresh stops the run before the release step.
    real_build = database.build_us_indicators

    def corrupt_build(s, params=None):
        counts = real_build(s, params)
        with database.connect(s) as con:  # shares off for one region, one negative LQ
            con.execute(
                "UPDATE cluster_indicators SET region_emp_share = region_emp_share * 1.5 "
                "WHERE region_code = '06' AND cluster_type = 'traded'"
            )
        return counts

    monkeypatch.setattr(database, "build_us_indicators", corrupt_build)
    with stack:
        with pytest.raises(dg.DagsterError, match="blocking asset check"):
            refresh(settings, instance=instance)
        last = instance.get_runs()[0]
        assert last.status == dg.DagsterRunStatus.FAILURE
        evals = _check_evaluations(instance, last.run_id)
        steps = [
            (rec.dagster_event.step_key, rec.dagster_event.event_type_value)
            for rec in instance.all_logs(last.run_id)
            if rec.dagster_event and rec.dagster_event.step_key
        ]
    err = evals["cluster_indicators:cluster_indicators_errors"]
    assert not err.passed and err.severity == dg.AssetCheckSeverity.ERROR
    assert "region_share_sums_to_one" in err.metadata["failed_expectations"].value
    assert "| 06 |" in err.metadata["failing_samples"].value  # sample of the failing rows
    assert ("warehouse_checks", "STEP_FAILURE") in steps
    assert not [s for s in steps if s[0] in {"release", "us_release"} and s[1].startswith("STEP_")]  # never ran
    assert sorted(p.name for p in settings.releases_dir.iterdir()) == before
