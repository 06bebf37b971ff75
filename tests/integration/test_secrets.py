"""The Census API key never appears in logs, Dagster event metadata, manifests or releases."""

import json
import logging
import shutil

import dagster as dg
import pytest

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.defs.resources import ObservatoryResource
from pipelines.defs.schedules import CensusApiResource, cbp_api_pull
from pipelines.errors import SourceError
from pipelines.raw.session import make_session
from pipelines.staging import census_api

KEY = "sekret-KEY-7f3a9c0d1e2b"
HEADER = ["NAICS2017", "NAICS2017_LABEL", "EMP", "EMP_N", "EMP_F", "ESTAB", "PAYANN", "PAYANN_N", "state"]
ROW = ["336411", "Aircraft manufacturing", "56520", "G", None, "89", "7093651", "G", "06"]


@dg.asset
def failing_pull(observatory: ObservatoryResource, census_api_client: CensusApiResource) -> None:
    census_api.stage_cbp_api(
        observatory.settings(), 2019, "06", ["336411"], key=census_api_client.api_key,
        base=census_api_client.base_url, session=make_session(retries=1, backoff=0.01),
    )


def test_api_key_never_recorded(httpserver, tmp_path, monkeypatch, capfd, caplog):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("CENSUS_API_KEY", KEY)
    httpserver.expect_request("/data/2018/cbp", method="GET").respond_with_json([HEADER, ROW])
    httpserver.expect_request("/data/2019/cbp").respond_with_data("upstream broke", status=500)
    wh = tmp_path / "warehouse"
    resources = {
        "observatory": ObservatoryResource(warehouse=str(wh)),
        "census_api_client": CensusApiResource(api_key=dg.EnvVar("CENSUS_API_KEY"), base_url=httpserver.url_for("/data")),
    }
    logging.getLogger("urllib3").setLevel(logging.DEBUG)  # request lines and retry warnings
    # the fake upstream's own access log (werkzeug) sees the key, as the real Census server does:
    # it is excluded below; everything our side writes is checked
    caplog.set_level(logging.DEBUG)
    with dg.DagsterInstance.get() as instance:
        ok = dg.materialize(
            [cbp_api_pull], instance=instance, resources=resources,
            run_config={"ops": {"cbp_api_pull": {"config": {"year": 2018, "state": "06", "naics": ["336411"]}}}},
        )
        assert ok.success
        meta = ok.asset_materializations_for_node("cbp_api_pull")[0].metadata
        assert "key=REDACTED" in meta["url"].value
        # a failing pull inside Dagster: the error (message, cause, stack) lands in the event log
        bad = dg.materialize(
            [failing_pull], instance=instance, resources=resources, raise_on_error=False,
        )
        assert not bad.success
        failures = [str(r) for r in instance.all_logs(bad.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)]
        assert failures and "key=REDACTED" in failures[0]
        with pytest.raises(SourceError) as err:
            census_api.stage_cbp_api(
                Settings(warehouse=wh), 2019, "06", ["336411"], key=KEY,
                base=httpserver.url_for("/data"), session=make_session(retries=1, backoff=0.01),
            )
        assert KEY not in str(err.value) and err.value.__cause__ is None
        events = [json.dumps(str(r)) for run in (ok, bad) for r in instance.all_logs(run.run_id)]
        assert events and not [e for e in events if KEY in e]
    assert any(r.args.get("key") == KEY for r, _ in httpserver.log)  # the key was really sent

    out, errtext = capfd.readouterr()
    lines = [ln for ln in (out + errtext).splitlines() if KEY in ln and 'HTTP/1.1"' not in ln]  # minus server access log
    assert lines == []
    ours = [r for r in caplog.records if not r.name.startswith("werkzeug")]
    assert ours and not [r.getMessage() for r in ours if KEY in r.getMessage()]
    leaked = [p for root in (wh, home) for p in root.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert leaked == []
    manifest = (wh / "raw" / "census" / "cbp-api" / "2018" / "state:06" / "manifest.jsonl").read_text()
    assert "key=REDACTED" in manifest
