"""Run the US refresh through Dagster (the same assets the UI shows), in-process.

Three runs, because a run targets one partition set: reference tables, the CBP year range
(one single-run backfill), then indicators and the release.

The whole sequence holds the warehouse lock (one build → check → publish at a time per
warehouse). Every run is tagged with the pid, host and process start time of the process that
executes it in-process, so a later run can tell a run whose process is gone (kill -9, OOM, power
loss) from a live one: dead runs are marked failed and their Dagster concurrency slots freed —
otherwise every later run waits forever for the pool slot the dead run still holds.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.config import PROJECT_ROOT, Settings, dagster_home, debug, log_level

log = logging.getLogger(__name__)

TAG_PID = "observatory/pid"
TAG_HOST = "observatory/host"
TAG_PROC_START = "observatory/proc_start"  # /proc start time: a reused pid is not our run
LOCK_NAME = ".observatory.lock"


@dataclass
class RefreshResult:
    run_ids: list[str]
    release: dict[str, Any]
    recovered: list[str] = field(default_factory=list)  # dead runs marked failed before this one


# --- the warehouse lock ----------------------------------------------------------------------


class WarehouseBusyError(RuntimeError):
    """Another live process holds the warehouse (build → check → publish is serialised)."""


_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth): re-entrant within a process


def _describe_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return f"another run holds the warehouse ({path})"
    return (
        f"another run holds the warehouse since {info.get('since', '?')} "
        f"(pid {info.get('pid', '?')} on {info.get('host', '?')}: {info.get('what', '?')}); "
        f"wait for it to finish, then run again (lock: {path})"
    )


@contextmanager
def warehouse_lock(settings: Settings, what: str = "observatory") -> Iterator[None]:
    """Hold the warehouse for the whole build → check → publish sequence, or fail at once.

    An OS file lock (flock): the kernel releases it when the holder dies, so a killed run never
    blocks the next one. Re-entrant within one process (the release asset takes it inside a run).
    Raises WarehouseBusyError naming since when, which pid/host and which command hold it.
    """
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    path = settings.warehouse / LOCK_NAME
    key = str(path)
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[key]
            _held[key] = (fd, depth - 1)
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WarehouseBusyError(_describe_holder(path)) from None
    info = {
        "pid": os.getpid(), "host": socket.gethostname(), "what": what,
        "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }  # fmt: skip
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    _held[key] = (fd, 1)
    try:
        yield
    finally:
        del _held[key]
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --- dead runs ---------------------------------------------------------------------------------


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


def _instance(settings: Settings) -> dg.DagsterInstance:
    home = dagster_home()
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        cfg = Path(home) / "dagster.yaml"
        if not cfg.exists():
            cfg.write_text((PROJECT_ROOT / "dagster.yaml").read_text())
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _resource(settings: Settings):
    from pipelines.defs.resources import ObservatoryResource

    return ObservatoryResource(
        warehouse=str(settings.warehouse),
        mirror=str(settings.mirror) if settings.mirror else None,
        cbp_years=",".join(str(y) for y in settings.cbp_years),
        cbp_geos=",".join(settings.cbp_geos),
        region_groups=str(settings.region_groups) if settings.region_groups else "",
        offline=settings.offline,
        eurostat=settings.eurostat,
        max_shrink=settings.max_shrink,
    )


def _job_definitions(resources: dict[str, Any]) -> dg.Definitions:
    """The assets, checks and named jobs the CLI runs (pipelines/defs/jobs.py, us.py)."""
    from pipelines.defs import checks, eu, jobs, us
    from pipelines.defs import release as release_defs

    return dg.Definitions(
        assets=[us.us_reference, *us.CBP_ASSETS.values(), us.us_indicators, *eu.EU_ASSETS, release_defs.release],
        asset_checks=checks.ALL_CHECKS,
        jobs=[us.us_reference_job, us.cbp_job, *jobs.REFRESH_JOBS],
        resources=resources,
    )


class _NoFailureRecords(logging.Filter):
    """Drops ERROR records (step/run failure events with Dagster's stack traces) from the console:
    the CLI prints the failure as one line (source, file/URL, reason). The run's event log (UI)
    keeps them; OBSERVATORY_DEBUG=1 shows them on the console too."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


@dg.logger(
    {
        "log_level": dg.Field(str, is_required=False, default_value="INFO"),
        "name": dg.Field(str, is_required=False, default_value="dagster"),
    },
    description="Dagster's coloured console logger; failure tracebacks only with OBSERVATORY_DEBUG=1.",
)
def quiet_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    from dagster._loggers import colored_console_logger

    logger = colored_console_logger.logger_fn(init_context)
    if not debug():
        for handler in logger.handlers:
            handler.addFilter(_NoFailureRecords())
    return logger


def _materialize(
    defs: dg.Definitions, job: str, assets: list, *, tags: dict[str, str] | None = None, **kwargs
) -> dg.ExecuteInProcessResult:
    """Run the named `job` (not __ephemeral_asset_job__) on the keys of `assets`, with their
    checks, and the console log at OBSERVATORY_LOG_LEVEL (default INFO, not DEBUG) without
    failure tracebacks (quiet_console_logger), tagged with this process (pid, host, start time)
    for dead-run detection."""
    level = log_level()
    keys = [k for a in assets if isinstance(a, dg.AssetsDefinition) for k in a.keys]
    job_def = defs.resolve_job_def(job).with_logger_defs({"console": quiet_console_logger})
    return job_def.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": level}}}}, asset_selection=keys,
        tags={**run_tags(), **(tags or {})}, **kwargs
    )


def _year_ranges(years: tuple[int, ...]) -> list[tuple[int, int]]:
    """(2000, 2001, 2002, 2005) → [(2000, 2002), (2005, 2005)]."""
    out: list[tuple[int, int]] = []
    for y in sorted(set(years)):
        if out and y == out[-1][1] + 1:
            out[-1] = (out[-1][0], y)
        else:
            out.append((y, y))
    return out


# `observatory refresh --sources`: publish = US indicators + release; eurostat = the EU side.
SOURCES = ("reference", "cbp", "eurostat", "publish")


def refresh(
    settings: Settings,
    instance: dg.DagsterInstance | None = None,
    sources: Collection[str] | None = None,
    notice: Callable[[str], None] | None = None,
) -> RefreshResult:
    """Run the refresh; `sources` limits it (e.g. {"cbp"}: only the CBP year partitions).

    Holds the warehouse lock throughout (WarehouseBusyError when another run has it); first
    recovers dead runs, reporting it through `notice` (default: a log warning)."""
    wanted = set(sources or SOURCES)
    unknown = wanted - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown sources {sorted(unknown)}; choose from {', '.join(SOURCES)}")
    years = f"{settings.cbp_years[0]}-{settings.cbp_years[-1]}" if settings.cbp_years else "-"
    with warehouse_lock(settings, f"refresh {','.join(sorted(wanted))} years {years}"):
        since = time.time()
        own = instance is None
        inst = instance or _instance(settings)
        try:
            line = recover(settings, inst, since)
            if line:
                (notice or log.warning)(line)
            result = _refresh(settings, inst, wanted)
        finally:
            if own:
                inst.dispose()
        result.recovered = [line] if line else []
        return result


def _refresh(settings: Settings, inst: dg.DagsterInstance, wanted: set[str]) -> RefreshResult:
    from pipelines.defs import checks, eu, us
    from pipelines.defs import release as release_defs

    defs = _job_definitions({"observatory": _resource(settings)})
    runs = []
    # Blocking validation checks run in each run: a failing one fails the run (no release).
    if "reference" in wanted:
        r1 = _materialize(defs, us.us_reference_job.name, [us.us_reference, *checks.REFERENCE_CHECKS], instance=inst)
        runs.append(r1.run_id)
    cbp_defs = [
        *(us.CBP_ASSETS[g] for g in settings.cbp_geos),
        *(checks.CBP_CHECKS_BY_GEO[g] for g in settings.cbp_geos),
    ]
    for start, end in _year_ranges(settings.cbp_years) if "cbp" in wanted else []:
        # One single-run backfill per contiguous range of years.
        r2 = _materialize(
            defs,
            us.cbp_job.name,
            cbp_defs,
            instance=inst,
            tags=None if start == end else {
                "dagster/asset_partition_range_start": str(start),
                "dagster/asset_partition_range_end": str(end),
            },
            partition_key=str(start) if start == end else None,
        )
        runs.append(r2.run_id)
    eu_defs = [*eu.EU_ASSETS, *checks.EU_CHECKS] if settings.eurostat and "eurostat" in wanted else []
    if "publish" not in wanted:
        if eu_defs:
            runs.append(_materialize(defs, "eurostat_refresh_job", eu_defs, instance=inst).run_id)
        return RefreshResult(run_ids=runs, release={})
    r3 = _materialize(
        defs,
        "refresh_publish_job",
        [us.us_indicators, *checks.WAREHOUSE_CHECKS, *eu_defs, release_defs.release],
        instance=inst,
    )
    runs.append(r3.run_id)
    mats = r3.asset_materializations_for_node("release")
    meta = {k: v.value for k, v in mats[-1].metadata.items()} if mats else {}
    return RefreshResult(run_ids=runs, release=meta)
