"""What a finished Dagster run recorded: read from the instance's event log, no definitions needed."""

from __future__ import annotations

import dagster as dg


def changed_years(instance: dg.DagsterInstance, run_id: str) -> list[int]:
    """The CBP years a run's materialisations report as changed (their `changed_years` metadata)."""
    years: list[int] = []
    for rec in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        mat = rec.asset_materialization
        if mat is None:
            continue
        meta = mat.metadata.get("changed_years")
        if meta is not None:
            years.extend(int(y) for y in meta.value)
    return sorted(set(years))


PARTITION_TAG = "dagster/partition"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def run_partition(tags: dict) -> str | None:
    """A run's partition from its tags: the key, or `start…end` for a single-run backfill range."""
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    if tags.get(RANGE_START):
        return f"{tags[RANGE_START]}…{tags.get(RANGE_END, tags[RANGE_START])}"
    return None


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(asset, 'check <name> failed[: description]') for failed checks evaluated in the run."""
    out = []
    for rec in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        ev = rec.dagster_event
        data = ev.event_specific_data if ev else None
        if data is None or data.passed:
            continue
        desc = data.description or ""
        out.append(
            (data.asset_key.to_user_string(), f"check {data.check_name} failed" + (f": {desc}" if desc else ""))
        )
    return out
