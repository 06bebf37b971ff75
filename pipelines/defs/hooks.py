"""Failure notifications: a run-failure sensor (runs and blocking checks) and an op failure hook.

Both call pipelines.runs.notify: the log always gets the message; OBSERVATORY_WEBHOOK_URL, when set,
gets a POST {"text": "..."} naming the asset(s), partition and reason. A blocking asset check
that fails makes its run fail, so the run-failure sensor reports it with the check named.
"""

import dagster as dg

from pipelines.runs.notify import format_message, notify
from pipelines.runs.run_events import failed_checks, run_partition


def failure_message(context: dg.RunFailureSensorContext) -> str:
    run = context.dagster_run
    assets = [k.to_user_string() for k in (run.asset_selection or [])]
    reasons = []
    checks = failed_checks(context.instance, run.run_id)
    for asset, reason in checks:
        reasons.append(f"{asset}: {reason}")
    failed_steps = []
    for ev in context.get_step_failure_events():
        err = getattr(ev.event_specific_data, "error", None)
        while err is not None and err.cause is not None:  # the user's error, not Dagster's wrapper
            err = err.cause
        text = err.message if err is not None else (ev.message or "")
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "step failed")
        failed_steps.append(ev.step_key)
        reasons.append(f"step {ev.step_key}: {first}")
    if not reasons:
        reasons.append(context.failure_event.message or "run failed")
    if checks:
        assets = [a for a, _ in checks]
    elif failed_steps:  # asset steps are named after their asset (or multi-asset op)
        assets = failed_steps
    return format_message(
        reason="; ".join(reasons),
        assets=assets or [run.job_name],
        partition=run_partition(run.tags),
        job=run.job_name,
        run_id=run.run_id,
    )


@dg.run_failure_sensor(
    name="notify_on_run_failure",
    description="Post a short message (asset, partition, reason) to OBSERVATORY_WEBHOOK_URL and the log.",
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def notify_on_run_failure(context: dg.RunFailureSensorContext):
    if context.dagster_run.tags.get("dagster/will_retry") == "true":
        context.log.info(f"run {context.dagster_run.run_id} failed and will be retried: no notification yet")
        return
    msg = failure_message(context)
    context.log.error(msg)
    notify(msg)


@dg.failure_hook(name="notify_on_step_failure")
def notify_on_step_failure(context: dg.HookContext):
    """Attach to jobs (`hooks={notify_on_step_failure}`) for a message as soon as a step fails."""
    err = context.op_exception
    reason = f"{type(err).__name__}: {err}" if err is not None else "step failed"
    partition = None
    try:
        partition = run_partition(dict(context.run.tags)) if context.run else None
    except Exception:  # hook must never mask the real failure
        partition = None
    notify(format_message(reason=reason, assets=[context.op.name], partition=partition, job=context.job_name, run_id=context.run_id))


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[notify_on_run_failure])
