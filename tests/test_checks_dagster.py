"""Blocking validation checks through Dagster: a failing check stops the release; a passing run
publishes the validation report."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import dagster as dg
import pytest

from pipelines import validation, warehouse
from pipelines.config import Settings
from pipelines.runner import refresh


def _us_settings(mirror_dir: Path, tmp_path: Path) -> Settings:
    """One CBP year, US side only (the EU side has its own tests)."""
    extra = {"eurostat": False} if "eurostat" in Settings.__dataclass_fields__ else {}
    return Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, cbp_years=(2010,), offline=True, **extra)


def _check_evaluations(instance: dg.DagsterInstance, run_id: str) -> dict[str, dg.AssetCheckEvaluation]:
    out = {}
    for rec in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        ev = rec.dagster_event.event_specific_data
        out[f"{ev.asset_key.to_user_string()}:{ev.check_name}"] = ev
    return out


def test_suites_gate_the_release(mirror_dir: Path, tmp_path: Path, monkeypatch, request) -> None:
    """One warehouse, three steps: a clean refresh publishes the report; a direct publish of
    corrupted tables is refused; a refresh whose indicators fail a blocking check publishes nothing."""
    settings = _us_settings(mirror_dir, tmp_path)
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

    # Publishing directly re-validates: bad data in the warehouse never reaches a release.
    with warehouse.connect(settings) as con:
        con.execute("UPDATE cluster_indicators SET lq = -1 WHERE region_code = '06' AND cluster_code = '1'")
    before = sorted(p.name for p in settings.releases_dir.iterdir())
    with pytest.raises(validation.ValidationError, match="lq_non_negative"):
        warehouse.publish_us_release(settings, force_new=True)
    assert sorted(p.name for p in settings.releases_dir.iterdir()) == before

    # A blocking check failing inside a refresh stops the run before the release step.
    real_build = warehouse.build_us_indicators

    def corrupt_build(s, params=None):
        counts = real_build(s, params)
        with warehouse.connect(s) as con:  # shares off for one region, one negative LQ
            con.execute(
                "UPDATE cluster_indicators SET region_emp_share = region_emp_share * 1.5 "
                "WHERE region_code = '06' AND cluster_type = 'traded'"
            )
        return counts

    monkeypatch.setattr(warehouse, "build_us_indicators", corrupt_build)
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
