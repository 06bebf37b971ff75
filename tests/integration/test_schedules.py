"""Sensors and schedules: cheap new-vintage detection, only affected partitions, publish follow-up.

The daemon is not running here: sensors are evaluated with build_sensor_context and the runs
they request are executed in-process, exactly as the daemon would launch them.
"""

import json
from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.defs import schedules
from pipelines.defs.resources import ObservatoryResource
from pipelines.layout import cbp_staged_path, read_latest
from pipelines.raw import eurostat_updates, vintages
from pipelines.raw.archive import RawArchive
from pipelines.raw.http import fetch
from pipelines.raw.session import make_session
from pipelines.release.publish import verify_release
from pipelines.staging.cbp import stage_cbp
from pipelines.staging.reference import stage_reference
from tests.helpers.mini_mirror import add_year, mirror_copy

TODAY = datetime(2014, 6, 1, tzinfo=UTC)


def _tick(sensor, instance, cursor=None):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"observatory": ObservatoryResource()})
    return sensor(ctx)


def test_definitions_ship_stopped_and_fit_release_rhythm():
    from pipelines.definitions import defs

    d = defs()
    sensor = d.resolve_sensor_def("cbp_new_vintage_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert d.resolve_sensor_def("us_publish_after_cbp").default_status == dg.DefaultSensorStatus.STOPPED
    sched = d.resolve_schedule_def("cbp_release_window_schedule")
    assert sched.cron_schedule == "0 6 * 3-9 1" and sched.default_status == dg.DefaultScheduleStatus.STOPPED
    assert d.resolve_job_def("cbp_api_job") is not None


def _publish(instance: dg.DagsterInstance, job: dg.JobDefinition, settings: Settings, run_config: dict) -> dict:
    """Run publish_after_cbp_job (indicators, their blocking checks, release) as the daemon would."""
    result = job.execute_in_process(instance=instance, run_config=run_config)
    assert result.success
    return read_latest(settings.releases_dir)


def test_new_cbp_year_in_mirror_walkthrough(tmp_path, mirror_dir, monkeypatch):
    """README walk-through: a new CBP year appears → only that partition runs → a new release."""
    mirror = mirror_copy(mirror_dir, tmp_path / "mirror")
    wh = tmp_path / "warehouse"
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(wh))
    monkeypatch.setenv("OBSERVATORY_MIRROR", str(mirror))
    monkeypatch.setenv("OBSERVATORY_CBP_YEARS", "2010-2011")
    monkeypatch.setenv("OBSERVATORY_OFFLINE", "1")
    monkeypatch.setenv("OBSERVATORY_EUROSTAT", "0")  # the CBP side of the walk-through
    monkeypatch.setenv("OBSERVATORY_REGION_GROUPS", "")
    from pipelines.definitions import defs

    d = defs()
    cbp_job = d.resolve_job_def("cbp_job")
    publish_job = d.resolve_job_def("publish_after_cbp_job")
    settings = Settings.from_env()
    with dg.instance_for_test() as instance:

        def follow_up(result: dg.ExecuteInProcessResult):
            run = instance.get_run_by_id(result.run_id)
            ev = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)[0].dagster_event
            ctx = dg.build_run_status_sensor_context(
                sensor_name="us_publish_after_cbp", dagster_event=ev, dagster_instance=instance, dagster_run=run
            )
            return schedules.us_publish_after_cbp(ctx)

        # 1. first tick on an empty archive: the configured years (staged directly to keep this short)
        res = _tick(schedules.cbp_new_vintage_sensor, instance)
        assert sorted(r.partition_key for r in res.run_requests) == ["2010", "2011"]
        stage_reference(settings)
        for req in res.run_requests:
            stage_cbp(settings, int(req.partition_key), "state")
        v1 = _publish(instance, publish_job, settings, {"resources": {"observatory": {"config": {"cbp_years": "2010-2011"}}}})
        manifests = {y: RawArchive(settings.raw_dir).entries(f"census/cbp/state/{y}") for y in (2010, 2011)}

        # 2. nothing new upstream: the sensor and the schedule skip
        res = _tick(schedules.cbp_new_vintage_sensor, instance, res.cursor)
        assert not res.run_requests and "no new CBP vintage" in res.skip_reason.skip_message
        assert schedules.cbp_release_window_schedule(
            dg.build_schedule_context(instance=instance, resources={"observatory": ObservatoryResource()})
        ).skip_message

        # 3. CBP 2012 appears: one run, for partition 2012 only, launched as the daemon would
        add_year(mirror, 2012, from_year=2011)
        res = _tick(schedules.cbp_new_vintage_sensor, instance, res.cursor)
        assert [(r.partition_key, r.tags["observatory/vintage"][:4]) for r in res.run_requests] == [("2012", "new:")]
        req = res.run_requests[0]
        result = cbp_job.execute_in_process(
            instance=instance, partition_key=req.partition_key, asset_selection=req.asset_selection, tags=req.tags
        )
        assert [m.partition for m in result.asset_materializations_for_node("cbp_state")] == ["2012"]

        # 4. the follow-up asks for indicators + release over 2010–2012
        follow = follow_up(result)
        assert isinstance(follow, dg.RunRequest)
        assert follow.run_config["resources"]["observatory"]["config"]["cbp_years"] == "2010,2011,2012"
        v2 = _publish(instance, publish_job, settings, follow.run_config)
        assert v2["version"] != v1["version"]
        pkg = json.loads((settings.releases_dir / v2["version"] / "datapackage.json").read_text())
        assert pkg["coverage"]["cbp_years"] == [2010, 2011, 2012]
        years = pl.read_parquet(settings.releases_dir / v2["version"] / "data/industry_employment.parquet")["year"]
        assert sorted(years.unique().to_list()) == [2010, 2011, 2012]
        assert verify_release(settings.releases_dir / v1["version"]) == []  # old release intact
        for y, entries in manifests.items():  # existing years were not fetched again
            assert RawArchive(settings.raw_dir).entries(f"census/cbp/state/{y}") == entries

        # 5. the next tick sees nothing new, and a re-run that changed nothing triggers no publish
        assert not _tick(schedules.cbp_new_vintage_sensor, instance, res.cursor).run_requests
        again = cbp_job.execute_in_process(
            instance=instance, partition_key="2012", asset_selection=[dg.AssetKey("cbp_state")]
        )
        assert isinstance(follow_up(again), dg.SkipReason)


def test_upstream_head_detection(httpserver, tmp_path):
    """No mirror: HEAD with ETag/Last-Modified, compared to what the raw archive recorded."""
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, cbp_years=(2010, 2011))
    etags = {2010: '"v1-2010"'}

    def url_for(year: int, geo: str) -> str:
        return httpserver.url_for(f"/cbp/{year}/cbp{year % 100:02d}{geo[:2]}.zip")

    def handler(request):
        from werkzeug import Response

        year = int(request.path.split("/")[2])
        if year == 2011:
            return Response("temporarily down", status=503)
        if year not in etags:
            return Response("not found", status=404)
        if request.headers.get("If-None-Match") == etags[year]:
            return Response(status=304, headers={"ETag": etags[year]})
        return Response(b"PK\x03\x04zipbytes", headers={"ETag": etags[year], "Last-Modified": "Wed, 01 May 2013 00:00:00 GMT"})

    for y in (2010, 2011, 2012, 2013):
        httpserver.expect_request(f"/cbp/{y}/cbp{y % 100:02d}st.zip").respond_with_handler(handler)
    sess = make_session(retries=1, backoff=0.01, max_backoff=0.02)
    logs: list[str] = []

    found, cursor = vintages.detect_cbp_vintages(settings, session=sess, url_for=url_for, today=TODAY, log=logs.append)
    assert [(v.year, v.reason) for v in found] == [(2010, "new")]  # 2011 erroring, 2012+ not out
    assert any("census/cbp/state/2011" in m and "503" in m for m in logs)

    fetch("census/cbp/state/2010", url_for(2010, "state"), settings, session=sess)  # archived with its ETag
    found, cursor = vintages.detect_cbp_vintages(settings, cursor=cursor, session=sess, url_for=url_for, today=TODAY)
    assert found == []
    heads = [r for r, _ in httpserver.log if r.method == "HEAD" and "/2010/" in r.path]
    assert heads[-1].headers.get("If-None-Match") == '"v1-2010"'  # conditional: 304, no body

    etags[2010] = '"v2-2010"'  # Census re-issues the 2010 file
    etags[2013] = '"v1-2013"'  # and publishes 2013
    found, _ = vintages.detect_cbp_vintages(settings, cursor=cursor, session=sess, url_for=url_for, today=TODAY)
    assert [(v.year, v.reason) for v in found] == [(2010, "changed"), (2013, "new")]
    reqs = schedules.vintage_run_requests(found, "test")
    assert [(r.partition_key, r.asset_selection) for r in reqs] == [
        ("2010", [dg.AssetKey("cbp_state")]), ("2013", [dg.AssetKey("cbp_state")])
    ]
    assert len({r.run_key for r in reqs}) == 2


def test_publish_years_extend_over_staged_new_years(tmp_path):
    s = Settings(warehouse=tmp_path, cbp_years=(2010, 2011))
    for y in (2012, 2014):
        p = cbp_staged_path(s, y, "state")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    assert vintages.publish_years(s) == [2010, 2011, 2012]  # 2013 missing: 2014 waits


JSONSTAT = {
    "version": "2.0", "class": "dataset", "label": "SBS by NUTS 2 regions and NACE Rev. 2",
    "source": "ESTAT", "updated": "2024-02-15T23:00:00+0100",
    "id": ["freq", "time"], "size": [1, 1],
    "dimension": {"freq": {"category": {"index": {"A": 0}}}, "time": {"category": {"index": {"2021": 0}}}},
    "value": {"0": 1.0},
}


def test_eurostat_updated_and_sensor(httpserver, tmp_path):
    path = "/eurostat/api/dissemination/statistics/1.0/data/sbs_r_nuts06_r2"
    doc = dict(JSONSTAT)
    httpserver.expect_request(path).respond_with_handler(
        lambda req: __import__("werkzeug").Response(json.dumps(doc), content_type="application/json")
    )
    base = httpserver.url_for("/eurostat/api/dissemination")
    assert eurostat_updates.eurostat_updated("sbs_r_nuts06_r2", base=base) == "2024-02-15T23:00:00+0100"
    req = httpserver.log[-1][0]
    assert req.args["lastTimePeriod"] == "1" and req.args["format"] == "JSON"

    sensor = schedules.build_eurostat_sensor("eurostat_sbs", datasets=lambda: ["sbs_r_nuts06_r2"], base=base)

    @dg.asset(name="eurostat_sbs")
    def _eurostat_sbs():
        return None

    dg.Definitions(assets=[_eurostat_sbs], sensors=[sensor])  # wires to an existing asset key
    res_obj = ObservatoryResource(warehouse=str(tmp_path / "wh"))
    with dg.instance_for_test() as instance:
        def tick(cursor):
            return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"observatory": res_obj}))

        first = tick(None)  # never fetched: request
        assert len(first.run_requests) == 1
        second = tick(first.cursor)  # same `updated`: skip
        assert not second.run_requests
        doc["updated"] = "2024-03-14T23:00:00+0100"
        third = tick(second.cursor)
        assert len(third.run_requests) == 1 and "2024-03-14" in third.run_requests[0].run_key
    sched = schedules.build_eurostat_schedule()
    assert sched.cron_schedule == "0 7 3 * *"


@pytest.mark.parametrize("body,status,match", [("<html>oops</html>", 200, "not JSON"), ("{}", 200, "no 'updated'"), ("x", 503, "HTTP 503")])
def test_eurostat_metadata_faults(httpserver, body, status, match):
    from pipelines.errors import SourceError

    httpserver.expect_request("/statistics/1.0/data/sbs_x").respond_with_data(body, status=status)
    with pytest.raises(SourceError, match=match) as err:
        eurostat_updates.eurostat_updated("sbs_x", base=httpserver.url_for("/"), session=make_session(retries=1, backoff=0.01))
    assert "eurostat/sbs_x" in str(err.value)
