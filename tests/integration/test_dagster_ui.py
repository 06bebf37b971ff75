"""Dagster UI (issue 13): partitions follow the calendar, named CLI jobs, per-partition metadata,
column schemas and previews, a release that says why it published nothing, quiet definitions."""

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.cli import refresh as cli_refresh
from pipelines.config import PROJECT_ROOT, Settings
from pipelines.defs import schedules, us
from pipelines.defs.resources import ObservatoryResource
from pipelines.layout import cbp_staged_path
from pipelines.raw import vintages
from pipelines.raw.mirror import load_mirror
from pipelines.release.publish import ReleaseResult, release_reason
from pipelines.schemas import load_schema, preview_markdown
from pipelines.sources import cbp
from tests.helpers.mini_mirror import add_year, mirror_copy

PAST_LAST_KNOWN = 2024  # the partitions used to end at 2023


def _mirror_years(mirror: Path) -> list[int]:
    index = json.loads((mirror / "index.json").read_text())
    return sorted(int(e["id"].rsplit("/", 1)[1]) for e in index["entries"] if e["id"].startswith("census/cbp/state/"))


def test_partitions_follow_the_calendar():
    for now in (datetime(2024, 6, 1, tzinfo=UTC), datetime(2031, 3, 1, tzinfo=UTC)):
        keys = us.cbp_partitions.get_partition_keys(current_time=now)
        assert keys[0] == str(cbp.FIRST_YEAR) and keys[-1] == str(now.year - 1)
        # the sensor's notion of available years is the partition set, year for year
        assert [int(k) for k in keys] == vintages.available_years(now)
    assert us.cbp_partitions.has_partition_key(str(PAST_LAST_KNOWN))


def test_sensor_discovers_a_year_past_the_last_known(tmp_path, mirror_dir, monkeypatch):
    """A CBP file for 2024 appears in the mirror: the sensor requests that partition, and the
    job the sensor targets accepts it."""
    mirror = mirror_copy(mirror_dir, tmp_path / "mirror")
    last = _mirror_years(mirror)[-1]
    assert last < PAST_LAST_KNOWN
    add_year(mirror, PAST_LAST_KNOWN, from_year=last)
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("OBSERVATORY_MIRROR", str(mirror))
    monkeypatch.setenv("OBSERVATORY_CBP_YEARS", str(last))
    settings = Settings.from_env()

    # not possible before the year is over; found once it is
    found, _ = vintages.detect_cbp_vintages(settings, today=datetime(PAST_LAST_KNOWN, 6, 1, tzinfo=UTC))
    assert PAST_LAST_KNOWN not in [v.year for v in found]
    found, _ = vintages.detect_cbp_vintages(settings, today=datetime(PAST_LAST_KNOWN + 2, 6, 1, tzinfo=UTC))
    assert (PAST_LAST_KNOWN, "new") in [(v.year, v.reason) for v in found]

    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"observatory": ObservatoryResource()})
        res = schedules.cbp_new_vintage_sensor(ctx)
    keys = [r.partition_key for r in res.run_requests]
    assert str(PAST_LAST_KNOWN) in keys and str(last) in keys
    from pipelines.definitions import defs

    job = defs().resolve_job_def(schedules.cbp_new_vintage_sensor.job_name)
    assert all(job.partitions_def.has_partition_key(k) for k in keys)
    load_mirror.cache_clear()


def test_cli_runs_named_jobs_with_per_partition_metadata(tmp_path, mirror_dir):
    """`observatory refresh --sources reference,cbp` over two years: named jobs, blocking checks
    still run, and each CBP year reports its own row count (the staged file's), schema and preview."""
    years = tuple(_mirror_years(mirror_dir)[-2:])
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, cbp_years=years, eurostat=False, region_groups=None)
    with dg.instance_for_test() as instance:
        result = cli_refresh.refresh(settings, instance=instance, sources={"reference", "cbp"})
        runs = [instance.get_run_by_id(r) for r in result.run_ids]
        assert [r.job_name for r in runs] == ["us_reference_job", "cbp_job"]
        for run in runs:
            assert instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        mats = {
            (e.asset_materialization.asset_key.to_user_string(), e.asset_materialization.partition): e.asset_materialization
            for run in runs
            for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        }
    counts = {}
    for y in years:
        meta = mats[("cbp_state", str(y))].metadata
        staged = pl.scan_parquet(cbp_staged_path(settings, y, "state"))
        counts[y] = meta["dagster/row_count"].value
        assert counts[y] == staged.select(pl.len()).collect().item()
        assert [c.name for c in meta["dagster/column_schema"].value.columns] == staged.collect_schema().names()
        preview = meta["preview"].value
        assert preview.splitlines()[0].startswith("| year |") and len(preview.splitlines()) == 2 + 5
        assert f"| {y} |" in preview
    assert len(set(counts.values())) == len(years)  # not the range's total copied to each year
    regions = mats[("regions", None)].metadata
    cols = {c.name: c for c in regions["dagster/column_schema"].value.columns}
    documented = {f["name"]: f["description"] for f in load_schema("regions").fields}
    assert cols.keys() == documented.keys()
    assert all(documented[n] in cols[n].description for n in cols)


def test_definitions_carry_documented_column_schemas():
    from pipelines.definitions import defs

    graph = defs().resolve_asset_graph()
    for name in ("cluster_indicators", "clusters", "eu_cluster_indicators"):
        schema = graph.get(dg.AssetKey(name)).metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == load_schema(name).field_names


def test_preview_keeps_nulls_empty_and_escapes_pipes():
    md = preview_markdown(pl.DataFrame({"code": ["01", "a|b", None], "emp": [5, None, 0]}), rows=2)
    assert md.splitlines() == ["| code | emp |", "|---|---|", "| 01 | 5 |", "| a\\|b |  |"]


def test_release_says_why_nothing_was_published(tmp_path):
    same = ReleaseResult("2026.01.01", tmp_path, "f" * 64, unchanged=True)
    reason = release_reason(same)
    assert reason.startswith("nothing published") and "2026.01.01" in reason and "unchanged" in reason
    new = ReleaseResult("2026.01.02", tmp_path, "e" * 64, previous="2026.01.01")
    assert release_reason(new) == "published release 2026.01.02 (previous: 2026.01.01)"


def test_definitions_load_without_repeated_warnings(tmp_path):
    proc = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/dagster"), "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "code location name" not in out
    # what `observatory run` does: import the asset modules directly (load_from_defs_folder hides
    # warnings), with Python's default warning filters
    proc = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/python"), "-W", "default", "-c", "import pipelines.defs.us, pipelines.defs.schedules"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
