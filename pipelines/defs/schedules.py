"""Keeping current: new-vintage sensors, release-window schedules, publish follow-up, API pulls.

All schedules and sensors ship STOPPED (turn them on in the UI, Automation tab, or with
`dagster schedule start` / `dagster sensor start`; they need `dagster-daemon`). They:

- cbp_new_vintage_sensor (every 6 h) and cbp_release_window_schedule (Mondays 06:00 ET,
  March–September, when the Census Bureau publishes CBP): ask cheaply whether each CBP file
  changed — the mirror index sha256 when OBSERVATORY_MIRROR is set, otherwise an HTTP HEAD with
  If-None-Match / If-Modified-Since, compared with the ETag / Last-Modified the raw archive
  recorded (pipelines/raw/vintages.py) — and launch cbp_job for the changed (geography, year) partitions only.
- us_publish_after_cbp: when such a run succeeds with changed years (or the reference job
  succeeds), launch publish_after_cbp_job (indicators + release); an unchanged release is not published.
- Eurostat: eurostat_updated() (pipelines/raw/eurostat_updates.py) reads the dataset's JSON-stat
  `updated` field; the sensor and monthly schedule target the Eurostat multi-asset (eu_industry_employment and its siblings).
- cbp_api_pull: a targeted pull from the Census CBP API (year, state, NAICS list), launched
  from the Launchpad with run config; the key comes from the CENSUS_API_KEY env var.
"""

import json
from collections.abc import Callable, Iterable

import dagster as dg
from pydantic import Field

from pipelines import config
from pipelines.config import Settings
from pipelines.defs import eu, us
from pipelines.defs.resources import ObservatoryResource
from pipelines.raw.eurostat_updates import EUROSTAT_API, detect_eurostat_updates, eurostat_datasets
from pipelines.raw.vintages import Vintage, detect_cbp_vintages, publish_years
from pipelines.runs.run_events import changed_years
from pipelines.staging import census_api

TRIGGER_TAG = "observatory/trigger"
EUROSTAT_ASSET = "eu_industry_employment"  # staged by the eurostat_sbs multi-asset


# --- CBP: what changed? ------------------------------------------------------------------------


def vintage_run_requests(vintages: Iterable[Vintage], trigger: str) -> list[dg.RunRequest]:
    """One run per changed (geography, year): that partition of that cbp_<geo> asset only."""
    return [
        dg.RunRequest(
            run_key=v.run_key,
            partition_key=str(v.year),
            asset_selection=[dg.AssetKey(v.asset)],
            tags={TRIGGER_TAG: trigger, "observatory/vintage": f"{v.reason}:{v.token[:40]}"},
        )
        for v in vintages
    ]


@dg.sensor(
    name="cbp_new_vintage_sensor",
    job=us.cbp_job,
    minimum_interval_seconds=6 * 3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Launch cbp_job for CBP files whose upstream version (HEAD ETag/Last-Modified, or mirror sha256) is new.",
)
def cbp_new_vintage_sensor(context: dg.SensorEvaluationContext, observatory: ObservatoryResource):
    settings = observatory.settings()
    cursor = json.loads(context.cursor) if context.cursor else {}
    vintages, cursor = detect_cbp_vintages(settings, cursor=cursor, log=context.log.warning)
    new_cursor = json.dumps(cursor, sort_keys=True)
    if not vintages:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new CBP vintage"), cursor=new_cursor)
    context.log.info("new CBP vintages: " + ", ".join(f"{v.asset} {v.year} ({v.reason})" for v in vintages))
    return dg.SensorResult(run_requests=vintage_run_requests(vintages, "sensor"), cursor=new_cursor)


@dg.schedule(
    name="cbp_release_window_schedule",
    job=us.cbp_job,
    cron_schedule="0 6 * 3-9 1",
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Weekly during the CBP release window (March–September): refresh changed CBP years only.",
)
def cbp_release_window_schedule(context: dg.ScheduleEvaluationContext, observatory: ObservatoryResource):
    vintages, _ = detect_cbp_vintages(observatory.settings(), log=context.log.warning)
    if not vintages:
        return dg.SkipReason("no new CBP vintage this week")
    return vintage_run_requests(vintages, "schedule")


# --- downstream follow-up ----------------------------------------------------------------------


# Everything downstream of the CBP files and reference tables: indicators, then the release.
publish_job = dg.define_asset_job(
    "publish_after_cbp_job",
    selection=dg.AssetSelection.groups("us_indicators", "release"),
    description="Indicators and the release, launched by us_publish_after_cbp (changed inputs only).",
)


@dg.run_status_sensor(
    name="us_publish_after_cbp",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[us.cbp_job, us.us_reference_job],
    request_job=publish_job,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="After a successful CBP run with changed years (or a reference refresh): indicators + release.",
)
def us_publish_after_cbp(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    if run.job_name == us.cbp_job.name:
        changed = changed_years(context.instance, run.run_id)
        if not changed:
            return dg.SkipReason(f"run {run.run_id[:8]} changed no CBP year: nothing to publish")
        reason = f"CBP years {changed} changed"
    else:
        reason = "reference tables refreshed"
    years = publish_years(Settings.from_env())
    run_config = {"resources": {"observatory": {"config": {"cbp_years": ",".join(map(str, years))}}}}
    return dg.RunRequest(
        run_key=f"publish-after-{run.run_id}", run_config=run_config, tags={TRIGGER_TAG: reason[:200]}
    )


# --- Eurostat ----------------------------------------------------------------------------------


def build_eurostat_sensor(
    asset_key: str = EUROSTAT_ASSET,
    datasets: Callable[[], Iterable[str]] = eurostat_datasets,
    base: str = EUROSTAT_API,
) -> dg.SensorDefinition:
    """Sensor that materialises `asset_key` when any dataset's `updated` timestamp moves."""

    @dg.sensor(
        name=f"{asset_key}_new_vintage_sensor",
        asset_selection=_eurostat_selection(asset_key),
        minimum_interval_seconds=12 * 3600,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Materialise Eurostat SBS when the dataset's JSON-stat 'updated' field changes.",
    )
    def _sensor(context: dg.SensorEvaluationContext, observatory: ObservatoryResource):
        cursor = json.loads(context.cursor) if context.cursor else {}
        changed, cursor = detect_eurostat_updates(
            observatory.settings(), datasets(), cursor, base=base, log=context.log.warning
        )
        new_cursor = json.dumps(cursor, sort_keys=True)
        if not changed:
            return dg.SensorResult(skip_reason=dg.SkipReason("Eurostat data not updated"), cursor=new_cursor)
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key="|".join(changed), tags={TRIGGER_TAG: "eurostat-updated"})],
            cursor=new_cursor,
        )

    return _sensor


def _eurostat_selection(asset_key: str) -> dg.AssetSelection:
    """The whole EU group for the project's Eurostat asset (its multi-asset and multi-check
    cannot be split), else just the named asset."""
    if asset_key == EUROSTAT_ASSET:
        return dg.AssetSelection.groups("eu")
    return dg.AssetSelection.assets(asset_key)


def build_eurostat_schedule(asset_key: str = EUROSTAT_ASSET) -> dg.ScheduleDefinition:
    """Monthly refresh (Eurostat updates datasets on its monthly release calendar)."""
    job = dg.define_asset_job(f"{asset_key}_job", selection=_eurostat_selection(asset_key))
    return dg.ScheduleDefinition(
        name=f"{asset_key}_monthly_schedule",
        job=job,
        cron_schedule="0 7 3 * *",
        execution_timezone="Europe/Luxembourg",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )


def _eu_defines(key: str) -> bool:
    """Whether pipelines/defs/eu.py defines the asset (the Eurostat sensor and schedule are wired only if so)."""
    target = dg.AssetKey(key)
    return any(target in a.keys for a in eu.EU_ASSETS)


# --- Census CBP API: targeted pulls ------------------------------------------------------------


class CensusApiResource(dg.ConfigurableResource):
    """Census Data API access; the key is read from CENSUS_API_KEY (a Dagster EnvVar)."""

    api_key: str | None = None
    base_url: str = census_api.API_BASE


class CbpApiPullConfig(dg.Config):
    year: int
    state: str  # 2-digit FIPS, or "*" for all states
    naics: list[str] = Field(default_factory=list)  # empty: every industry


@dg.asset(
    name="cbp_api_pull",
    group_name="us_cbp",
    kinds={"polars", "parquet"},
    pool="upstream_census",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL),
    description=(
        "Targeted pull from the Census CBP API (api.census.gov/data/{year}/cbp) for one year, a "
        "state and a NAICS list, harmonised into the industry-employment schema under "
        "staging/cbp_api/. Launch with run config {year, state, naics}."
    ),
)
def cbp_api_pull(
    context: dg.AssetExecutionContext,
    config: CbpApiPullConfig,
    observatory: ObservatoryResource,
    census_api_client: CensusApiResource,
) -> dg.MaterializeResult:
    out = census_api.stage_cbp_api(
        observatory.settings(),
        config.year,
        config.state,
        config.naics,
        key=census_api_client.api_key,
        base=census_api_client.base_url,
    )
    context.log.info(f"{out['source_id']}: {out['rows']} rows staged at {out['path']}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": out["rows"],
            "source_id": out["source_id"],
            "url": out["url"],  # redacted by pipelines.raw.http
            "sha256": out["sha256"],
            "path": dg.MetadataValue.path(out["path"]),
        }
    )


cbp_api_job = dg.define_asset_job("cbp_api_job", selection=dg.AssetSelection.assets(cbp_api_pull))


def census_api_resource() -> CensusApiResource:
    if config.census_api_key():
        return CensusApiResource(api_key=dg.EnvVar(census_api.KEY_ENV))
    return CensusApiResource()  # the API serves small keyless volumes too


@dg.definitions
def defs() -> dg.Definitions:
    sensors: list[dg.SensorDefinition] = [cbp_new_vintage_sensor, us_publish_after_cbp]
    schedules: list[dg.ScheduleDefinition] = [cbp_release_window_schedule]
    if _eu_defines(EUROSTAT_ASSET):
        sensors.append(build_eurostat_sensor())
        schedules.append(build_eurostat_schedule())
    return dg.Definitions(
        assets=[cbp_api_pull],
        jobs=[cbp_api_job, publish_job],
        sensors=sensors,
        schedules=schedules,
        resources={"census_api_client": census_api_resource()},
    )
