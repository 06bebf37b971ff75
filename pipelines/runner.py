"""Run the US refresh through Dagster (the same assets the UI shows), in-process.

Three runs, because a run targets one partition set: reference tables, the CBP year range
(one single-run backfill), then indicators and the release.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.config import PROJECT_ROOT, Settings


@dataclass
class RefreshResult:
    run_ids: list[str]
    release: dict[str, Any]


def _instance(settings: Settings) -> dg.DagsterInstance:
    home = os.environ.get("DAGSTER_HOME")
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


def _materialize(
    defs: dg.Definitions, job: str, assets: list, **kwargs
) -> dg.ExecuteInProcessResult:
    """Run the named `job` (not __ephemeral_asset_job__) on the keys of `assets`, with their
    checks, and the console log at OBSERVATORY_LOG_LEVEL (default INFO, not DEBUG)."""
    level = os.environ.get("OBSERVATORY_LOG_LEVEL", "INFO").upper()
    keys = [k for a in assets if isinstance(a, dg.AssetsDefinition) for k in a.keys]
    return defs.resolve_job_def(job).execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": level}}}}, asset_selection=keys, **kwargs
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
    settings: Settings, instance: dg.DagsterInstance | None = None, sources: Collection[str] | None = None
) -> RefreshResult:
    """Run the refresh; `sources` limits it (e.g. {"cbp"}: only the CBP year partitions)."""
    wanted = set(sources or SOURCES)
    unknown = wanted - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown sources {sorted(unknown)}; choose from {', '.join(SOURCES)}")
    from pipelines.defs import checks, eu, us
    from pipelines.defs import release as release_defs

    inst = instance or _instance(settings)
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
