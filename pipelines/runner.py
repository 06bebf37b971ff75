"""Run the US refresh through Dagster (the same assets the UI shows), in-process.

Three runs, because a run targets one partition set: reference tables, the CBP year range
(one single-run backfill), then indicators and the release.
"""

from __future__ import annotations

import os
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
        offline=settings.offline,
    )


def refresh(settings: Settings, instance: dg.DagsterInstance | None = None) -> RefreshResult:
    from pipelines.defs import checks, us

    inst = instance or _instance(settings)
    resources = {"observatory": _resource(settings)}
    runs = []
    # Blocking validation checks run in each run: a failing one fails the run (no release).
    r1 = dg.materialize([us.us_reference, *checks.REFERENCE_CHECKS], instance=inst, resources=resources)
    runs.append(r1.run_id)
    years = sorted(settings.cbp_years)
    r2 = dg.materialize(
        [*(us.CBP_ASSETS[g] for g in settings.cbp_geos), *(checks.CBP_CHECKS_BY_GEO[g] for g in settings.cbp_geos)],
        instance=inst,
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": str(years[0]),
            "dagster/asset_partition_range_end": str(years[-1]),
        }
        if len(years) > 1
        else None,
        partition_key=str(years[0]) if len(years) == 1 else None,
    )
    runs.append(r2.run_id)
    r3 = dg.materialize(
        [us.us_indicators, *checks.WAREHOUSE_CHECKS, us.us_release], instance=inst, resources=resources
    )
    runs.append(r3.run_id)
    mats = r3.asset_materializations_for_node("us_release")
    meta = {k: v.value for k, v in mats[-1].metadata.items()} if mats else {}
    return RefreshResult(run_ids=runs, release=meta)
