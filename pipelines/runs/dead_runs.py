"""Runs whose process died (kill -9, OOM, power loss): tag every run, mark dead ones failed, sweep temp files.

Every run is tagged with the pid, host and process start time of the process that executes it
in-process, so a later run can tell a run whose process is gone from a live one: dead runs are
marked failed and their Dagster concurrency slots freed — otherwise every later run waits
forever for the pool slot the dead run still holds. The in-process refresh that calls `recover`
under the warehouse lock (pipelines/runs/lock.py) is pipelines/cli/refresh.py.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pipelines.config import Settings

TAG_PID = "observatory/pid"
TAG_HOST = "observatory/host"
TAG_PROC_START = "observatory/proc_start"  # /proc start time: a reused pid is not our run


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 (starttime), after the comm field


def _alive(pid: int, proc_start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    now_start = _proc_start(pid)
    return not (proc_start and now_start and now_start != proc_start)  # pid reused: not our run


def run_tags() -> dict[str, str]:
    """Tags every in-process run carries so a later run can tell whether its process lives."""
    tags = {TAG_PID: str(os.getpid()), TAG_HOST: socket.gethostname()}
    start = _proc_start(os.getpid())
    if start:
        tags[TAG_PROC_START] = start
    return tags


ACTIVE_STATUSES = [
    dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
]  # fmt: skip


FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark runs of this host whose process is gone as failed and free their concurrency slots
    (and the slots of any finished run still holding one). Returns one description per dead run."""
    host = socket.gethostname()
    dead: list[str] = []
    for rec in instance.get_run_records(filters=dg.RunsFilter(statuses=ACTIVE_STATUSES, tags={TAG_HOST: host})):
        run = rec.dagster_run
        pid = run.tags.get(TAG_PID, "")
        if not pid.isdigit() or _alive(int(pid), run.tags.get(TAG_PROC_START)):
            continue
        instance.report_run_failed(
            run, message=f"process {pid} on {host} is gone (killed, out of memory or power loss): marked failed by a later run"
        )
        started = datetime.fromtimestamp(rec.start_time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if rec.start_time else "?"
        dead.append(f"{run.run_id[:8]} (pid {pid}, started {started})")
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = storage.get_concurrency_run_ids()
        if holders:
            finished = instance.get_run_records(filters=dg.RunsFilter(run_ids=list(holders), statuses=FINISHED))
            for rec in finished:
                storage.free_concurrency_slots_for_run(rec.dagster_run.run_id)
    return dead


# Temp entries the pipeline writes before an atomic rename; a dead run leaves them behind.
_STAGING_TMP = re.compile(r"^\..+\.[0-9a-f]{8}$")


def sweep_temp(settings: Settings, before: float) -> int:
    """Remove temp files and folders of dead runs last modified before `before` (epoch seconds).

    Called under the warehouse lock, so no live run of this warehouse is writing them."""
    wh = settings.warehouse
    found: list[Path] = []
    found += list((settings.raw_dir / ".tmp").glob("*"))
    for pattern in (".tmp-v*", ".latest-*", ".index-*.html", ".deleted-v*"):
        found += list(settings.releases_dir.glob(pattern))
    if settings.staging_dir.is_dir():
        found += [p for p in settings.staging_dir.rglob(".*") if _STAGING_TMP.match(p.name)]
    found += list((wh / "observatory.duckdb.tmp").glob("*"))
    n = 0
    for p in found:
        try:
            if p.lstat().st_mtime >= before:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            n += 1
        except FileNotFoundError:
            continue
    return n


def recover(settings: Settings, instance: dg.DagsterInstance, since: float) -> str | None:
    """Reap dead runs and sweep their temp files; one line saying what was done (None if nothing)."""
    dead = reap_dead_runs(instance)
    if not dead:
        return None
    swept = sweep_temp(settings, since)
    return (
        f"recovered {len(dead)} dead run(s) whose process is gone: {', '.join(dead)}; "
        f"marked failed, concurrency slots freed, {swept} temp file(s) swept"
    )
