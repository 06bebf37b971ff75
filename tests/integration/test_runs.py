"""Runs that get stuck or collide: a run killed with -9 mid-run, two runs on one warehouse.

The dead-run case is reproduced for real: `observatory run` in a subprocess (tmp warehouse and
DAGSTER_HOME, the mirror), killed while it holds a Dagster concurrency slot, then run again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines import cli
from pipelines.config import PROJECT_ROOT, Settings
from pipelines.runs import dead_runs, lock

OBSERVATORY = [sys.executable, "-c", "import sys; from pipelines.cli import main; sys.exit(main())"]


def _env(tmp_path: Path, mirror_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATORY_")}
    env.update(
        OBSERVATORY_WAREHOUSE=str(tmp_path / "wh"), OBSERVATORY_MIRROR=str(mirror_dir), OBSERVATORY_OFFLINE="1",
        DAGSTER_HOME=str(tmp_path / "dagster"), OBSERVATORY_CBP_YEARS="2011", OBSERVATORY_EUROSTAT="0",
        OBSERVATORY_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
    )  # fmt: skip
    return env


def _claimed(home: Path) -> list[str]:
    """Run ids holding a concurrency slot in the instance at `home` (read while another process runs)."""
    with dg.DagsterInstance.from_config(str(home)) as inst:
        storage = inst.event_log_storage
        return [c.run_id for k in storage.get_concurrency_keys() for c in storage.get_concurrency_info(k).claimed_slots]


def test_run_killed_mid_run_is_recovered_by_the_next_run(tmp_path: Path, mirror_dir: Path) -> None:
    env = _env(tmp_path, mirror_dir)
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")  # the pools, as make run
    first = subprocess.Popen([*OBSERVATORY, "run"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        holders: list[str] = []
        while not holders:
            assert first.poll() is None, first.stdout.read().decode()[-3000:] if first.stdout else ""
            assert time.monotonic() < deadline, "the run never claimed a concurrency slot"
            time.sleep(0.1)
            holders = _claimed(home)
        os.kill(first.pid, signal.SIGKILL)  # like OOM or power loss: no cleanup at all
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert _claimed(home)  # the dead run still holds its slot
    # Leftovers of the dead run's temp writes (a half release folder, a half download).
    wh = tmp_path / "wh"
    (wh / "releases" / ".tmp-v2026.01.01-deadbeef" / "data").mkdir(parents=True)
    (wh / "raw" / ".tmp").mkdir(parents=True, exist_ok=True)
    (wh / "raw" / ".tmp" / "dl-dead").write_bytes(b"half")
    old = time.time() - 5
    for p in (wh / "releases" / ".tmp-v2026.01.01-deadbeef", wh / "raw" / ".tmp" / "dl-dead"):
        os.utime(p, (old, old))

    second = subprocess.run([*OBSERVATORY, "run"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=420)
    out = second.stdout
    assert second.returncode == 0, (out + second.stderr)[-3000:]
    notices = [line for line in out.splitlines() if line.startswith("recovered ")]
    assert len(notices) == 1, out
    assert "1 dead run(s)" in notices[0] and holders[0][:8] in notices[0] and "slots freed" in notices[0], notices
    swept = re.search(r"(\d+) temp file\(s\) swept", notices[0])
    assert swept and int(swept.group(1)) >= 2, notices  # ours, plus whatever the killed run left half-written
    assert "published release " in out
    assert not (wh / "releases" / ".tmp-v2026.01.01-deadbeef").exists() and not (wh / "raw" / ".tmp" / "dl-dead").exists()
    assert not list((wh / "raw" / ".tmp").glob("dl-*")) and not list((wh / "releases").glob(".tmp-*"))
    with dg.DagsterInstance.from_config(str(home)) as inst:
        assert inst.get_run_by_id(holders[0]).status == dg.DagsterRunStatus.FAILURE
        assert not inst.get_runs(filters=dg.RunsFilter(statuses=dead_runs.ACTIVE_STATUSES))
    assert not _claimed(home)


def test_live_runs_are_left_alone(tmp_path: Path) -> None:
    """Only runs whose process is gone are reaped: a run of this live process stays STARTED."""
    with dg.instance_for_test(temp_dir=str(tmp_path)) as inst:
        live = inst.create_run_for_job(dg.GraphDefinition(name="g").to_job(), tags=dead_runs.run_tags())
        inst.handle_run_event(live.run_id, dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=live.job_name))
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        dead = inst.create_run_for_job(
            dg.GraphDefinition(name="g").to_job(), tags={**dead_runs.run_tags(), dead_runs.TAG_PID: gone.stdout.strip(), dead_runs.TAG_PROC_START: "1"}
        )
        inst.handle_run_event(dead.run_id, dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=dead.job_name))
        reaped = dead_runs.reap_dead_runs(inst)
        assert [r.split()[0] for r in reaped] == [dead.run_id[:8]]
        assert inst.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED
        assert inst.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        # A reused pid (same number, another process start time) is not our run either.
        reused = inst.create_run_for_job(
            dg.GraphDefinition(name="g").to_job(), tags={**dead_runs.run_tags(), dead_runs.TAG_PROC_START: "1"}
        )
        inst.handle_run_event(reused.run_id, dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=reused.job_name))
        assert [r.split()[0] for r in dead_runs.reap_dead_runs(inst)] == [reused.run_id[:8]]


HOLDER = """
import sys, time
from pathlib import Path
from pipelines.config import Settings
from pipelines.runs.lock import warehouse_lock
with warehouse_lock(Settings(warehouse=Path(sys.argv[1])), "run years 2004-2011"):
    Path(sys.argv[2]).write_text("held")
    time.sleep(120)
"""


def _hold(wh: Path, tmp_path: Path) -> subprocess.Popen:
    flag = tmp_path / "held"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(wh), str(flag)], cwd=PROJECT_ROOT)
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "lock holder did not start"
        time.sleep(0.05)
    return proc


def test_second_run_on_a_held_warehouse_fails_with_who_and_since(tmp_path: Path, mirror_dir: Path, monkeypatch, capsys) -> None:
    wh = tmp_path / "wh"
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(wh))
    monkeypatch.setenv("OBSERVATORY_MIRROR", str(mirror_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    holder = _hold(wh, tmp_path)
    try:
        assert cli.main(["run", "--years", "2007-2011"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        info = json.loads((wh / lock.LOCK_NAME).read_text())
        assert err[0].startswith("error: another run holds the warehouse since " + info["since"]), err
        assert f"pid {holder.pid}" in err[0] and "run years 2004-2011" in err[0]
        assert not (wh / "releases").exists() and not (wh / "staging").exists()  # nothing touched
    finally:
        holder.kill()
        holder.wait(timeout=30)
    # The kernel drops the lock of a killed holder: the warehouse is free again at once.
    with lock.warehouse_lock(Settings(warehouse=wh), "test"), lock.warehouse_lock(Settings(warehouse=wh), "nested"):
        assert lock._held[str(wh / lock.LOCK_NAME)][1] == 2  # re-entrant in one process


def test_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    with lock.warehouse_lock(Settings(warehouse=wh), "this test"):
        probe = subprocess.run(
            [sys.executable, "-c", "import sys; from pathlib import Path; from pipelines.config import Settings; "
             "from pipelines.runs.lock import warehouse_lock, WarehouseBusyError\n"
             "try:\n    with warehouse_lock(Settings(warehouse=Path(sys.argv[1]))): print('acquired')\n"
             "except WarehouseBusyError as e: print(e)", str(wh)],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert probe.stdout.startswith("another run holds the warehouse since"), probe.stdout + probe.stderr
    assert f"pid {os.getpid()}" in probe.stdout and "this test" in probe.stdout


@pytest.fixture(autouse=True)
def _no_lock_leak():
    yield
    assert not lock._held  # every lock taken in a test was released


def test_years_option_keeps_every_other_setting(tmp_path: Path, monkeypatch) -> None:
    """`--years` used to rebuild Settings from four fields, silently dropping geographies, region
    groups, the Eurostat switch and the HTTP limits of the environment."""
    import argparse

    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("OBSERVATORY_CBP_GEOS", "state,us")
    monkeypatch.setenv("OBSERVATORY_EUROSTAT", "0")
    monkeypatch.setenv("OBSERVATORY_HTTP_DEADLINE", "60")
    s = cli.settings_from_args(argparse.Namespace(years="2005-2006"))
    assert (s.cbp_geos, s.eurostat, s.http_deadline, s.cbp_years) == (("state", "us"), False, 60.0, (2005, 2006))
    assert s.region_groups is not None and s.region_groups.name == "region_groups.yaml"
