"""Run the US refresh through Dagster (the same assets the UI shows), in-process.

Three runs, because a run targets one partition set: reference tables, the CBP year range
(one single-run backfill), then indicators and the release.

The whole sequence holds the warehouse lock (one build → check → publish at a time per
warehouse, pipelines/runs/lock.py) and first recovers dead runs (pipelines/runs/dead_runs.py). It loads the Dagster
definitions (pipelines/defs/), so it sits in the CLI layer, above them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.cli.console import quiet_dagster_logger, verbose
from pipelines.config import PROJECT_ROOT, Settings, dagster_home, debug, log_level
from pipelines.defs import checks, eu, jobs, us
from pipelines.defs import release as release_defs
from pipelines.defs.resources import observatory_resource
from pipelines.release.integrity import heal_latest
from pipelines.runs.dead_runs import recover, run_tags
from pipelines.runs.lock import warehouse_lock
from pipelines.runs.unchanged import input_key, record_run
from pipelines.years import year_runs

log = logging.getLogger(__name__)


@dataclass
class RefreshResult:
    run_ids: list[str]
    release: dict[str, Any]
    recovered: list[str] = field(default_factory=list)  # dead runs marked failed before this one


def _instance(settings: Settings) -> dg.DagsterInstance:
    home = dagster_home()
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        cfg = Path(home) / "dagster.yaml"
        if not cfg.exists():
            cfg.write_text((PROJECT_ROOT / "dagster.yaml").read_text())
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _job_definitions(resources: dict[str, Any]) -> dg.Definitions:
    """The assets, checks and named jobs the CLI runs (pipelines/defs/jobs.py, us.py)."""
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
    description=(
        "Bare asset messages on the console; Dagster's coloured logger (run ids, timestamps) with "
        "OBSERVATORY_LOG_LEVEL=DEBUG, failure tracebacks only with OBSERVATORY_DEBUG=1."
    ),
)
def quiet_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    from dagster._loggers import colored_console_logger

    if not verbose():  # the assets' own messages, one bare line each (pipelines/cli/console.py)
        cfg = init_context.logger_config
        return quiet_dagster_logger(cfg["name"], cfg["log_level"].upper())
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
    heals the latest pointer (release/integrity.heal_latest) and recovers dead runs, reporting
    each through `notice` (default: a log warning)."""
    wanted = set(sources or SOURCES)
    unknown = wanted - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown sources {sorted(unknown)}; choose from {', '.join(SOURCES)}")
    years = f"{settings.cbp_years[0]}-{settings.cbp_years[-1]}" if settings.cbp_years else "-"
    with warehouse_lock(settings, f"refresh {','.join(sorted(wanted))} years {years}"):
        since = time.time()
        own = instance is None
        inst = instance or _instance(settings)
        # a complete run records the key of the inputs it started from beside its release, so
        # the next unchanged `observatory run` stops before any stage (pipelines/runs/unchanged.py)
        key = input_key(settings) if wanted == set(SOURCES) else None
        try:
            # Damaged release metadata heals here, before a build that would compare with it.
            healed = heal_latest(settings.releases_dir)
            if healed:
                (notice or log.warning)(healed)
            line = recover(settings, inst, since)
            if line:
                (notice or log.warning)(line)
            result = _refresh(settings, inst, wanted)
        finally:
            if own:
                inst.dispose()
        record_run(settings, key, result.release)
        result.recovered = [line] if line else []
        return result


def _refresh(settings: Settings, inst: dg.DagsterInstance, wanted: set[str]) -> RefreshResult:
    defs = _job_definitions({"observatory": observatory_resource(settings)})
    runs = []
    # Blocking validation checks run in each run: a failing one fails the run (no release).
    if "reference" in wanted:
        r1 = _materialize(defs, us.us_reference_job.name, [us.us_reference, *checks.REFERENCE_CHECKS], instance=inst)
        runs.append(r1.run_id)
    cbp_defs = [
        *(us.CBP_ASSETS[g] for g in settings.cbp_geos),
        *(checks.CBP_CHECKS_BY_GEO[g] for g in settings.cbp_geos),
    ]
    for start, end in year_runs(settings.cbp_years) if "cbp" in wanted else []:
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
