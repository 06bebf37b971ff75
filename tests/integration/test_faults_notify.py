"""Failure notifications: run failure and blocking check failure reach the webhook and the log."""

import json
import logging

import dagster as dg
import pytest

from pipelines.defs.hooks import notify_on_run_failure
from pipelines.runs.notify import format_message, notify

SECRET = "abcdefSECRET123"
parts = dg.StaticPartitionsDefinition(["2010", "2011"])


@dg.asset(partitions_def=parts)
def flaky_cbp(context: dg.AssetExecutionContext) -> None:
    raise RuntimeError(
        f"[census/cbp/state/{context.partition_key}] HTTP 503 Service Unavailable "
        f"(at https://api.census.gov/data/2011/cbp?get=EMP&key={SECRET})"
    )


@dg.asset
def totals() -> int:
    return -5


@dg.asset_check(asset=totals, blocking=True)
def totals_non_negative(totals: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=totals >= 0, description=f"negative employment total {totals}")


@dg.asset(deps=[totals])
def release_after_totals() -> None:
    pass


def _failure_context(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance):
    run = instance.get_run_by_id(result.run_id)
    event = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    return dg.build_run_status_sensor_context(
        sensor_name="notify_on_run_failure", dagster_event=event, dagster_instance=instance, dagster_run=run
    ).for_run_failure()


@pytest.fixture
def webhook(httpserver, monkeypatch):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("OBSERVATORY_WEBHOOK_URL", httpserver.url_for("/hook"))
    return httpserver


def _posted(httpserver) -> list[str]:
    return [json.loads(req.get_data())["text"] for req, _ in httpserver.log]


def test_run_failure_names_asset_partition_reason(webhook, caplog):
    with dg.instance_for_test() as instance:
        result = dg.materialize([flaky_cbp], partition_key="2011", instance=instance, raise_on_error=False)
        assert not result.success
        with caplog.at_level(logging.ERROR, logger="observatory.notify"):
            notify_on_run_failure(_failure_context(result, instance))
    (text,) = _posted(webhook)
    assert "flaky_cbp" in text and "partition 2011" in text and "HTTP 503" in text
    assert SECRET not in text and "key=REDACTED" in text
    assert text in caplog.text


def test_blocking_check_failure_is_named(webhook):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [totals, totals_non_negative, release_after_totals], instance=instance, raise_on_error=False
        )
        assert not result.success  # the blocking check stopped the run before the release
        assert not result.asset_materializations_for_node("release_after_totals")
        notify_on_run_failure(_failure_context(result, instance))
    (text,) = _posted(webhook)
    assert "totals" in text and "totals_non_negative failed" in text and "negative employment total -5" in text


def test_dead_webhook_never_raises(httpserver):
    httpserver.expect_request("/hook").respond_with_data("nope", status=500)
    assert notify("hello", webhook_url=httpserver.url_for("/hook")) is False
    assert notify("hello", webhook_url="http://127.0.0.1:9/unreachable", timeout=0.5) is False
    assert notify("hello", webhook_url="") is False


def test_message_is_short_and_redacted():
    msg = format_message(reason="x" * 5000 + "&key=" + SECRET, assets=["a"], partition="2001", job="j", run_id="r" * 36)
    assert len(msg) <= 600 and SECRET not in msg
