"""Which Eurostat datasets changed upstream: the JSON-stat `updated` field, plain functions, no Dagster.

The Eurostat new-vintage sensor (pipelines/defs/schedules.py) asks `detect_eurostat_updates`
once per tick and launches a run for the datasets it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import requests

from pipelines import config
from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.archive import RawArchive
from pipelines.raw.redact import redact_text
from pipelines.raw.session import make_session

EUROSTAT_DEFAULT_DATASETS = ("sbs_r_nuts06_r2",)
EUROSTAT_API = "https://ec.europa.eu/eurostat/api/dissemination"


def eurostat_updated(
    dataset: str, *, base: str = EUROSTAT_API, session: requests.Session | None = None
) -> str:
    """The dataset's last data update, from the JSON-stat `updated` field (one small request).

    Asks the dissemination API for the last time period only, so the body stays small; the
    `updated` timestamp describes the whole dataset.
    """
    url = f"{base.rstrip('/')}/statistics/1.0/data/{dataset}?format=JSON&lang=EN&lastTimePeriod=1"
    sid = f"eurostat/{dataset}"
    own = session is None
    sess = session or make_session(retries=3, backoff=1.0, max_backoff=30)
    try:
        resp = sess.get(url, timeout=(10, 60))
    except requests.RequestException as exc:
        raise SourceError(sid, url, redact_text(f"metadata request failed: {type(exc).__name__}: {exc}")) from None
    finally:
        if own:
            sess.close()
    if resp.status_code >= 400:
        raise SourceError(sid, url, f"metadata: HTTP {resp.status_code} {resp.reason}")
    try:
        doc = resp.json()
    except ValueError:
        raise SourceError(sid, url, f"metadata is not JSON (starts with {resp.text[:60]!r})") from None
    updated = doc.get("updated") if isinstance(doc, dict) else None
    if not updated:
        raise SourceError(sid, url, "metadata has no 'updated' field")
    return str(updated)


def eurostat_datasets() -> tuple[str, ...]:
    """The Eurostat datasets to watch: OBSERVATORY_EUROSTAT_DATASETS (comma list), else the default."""
    raw = config.eurostat_datasets_spec()
    return tuple(d.strip() for d in raw.split(",") if d.strip()) if raw else EUROSTAT_DEFAULT_DATASETS


def detect_eurostat_updates(
    settings: Settings,
    datasets: Iterable[str],
    cursor: dict[str, str],
    *,
    base: str = EUROSTAT_API,
    log: Callable[[str], None] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """`dataset@updated` for each dataset whose `updated` timestamp moved (or that was never
    fetched into the raw archive), and the updated cursor {dataset: updated}.

    A dataset whose metadata request fails is logged through `log` and skipped, never raised.
    """
    cursor = dict(cursor)
    archive = RawArchive(settings.raw_dir)
    changed = []
    for ds in datasets:
        try:
            updated = eurostat_updated(ds, base=base)
        except SourceError as exc:
            if log:
                log(f"skipping {ds}: {exc}")
            continue
        never_fetched = not archive.entries(f"eurostat/{ds}")
        if cursor.get(ds) != updated and (ds in cursor or never_fetched):
            changed.append(f"{ds}@{updated}")
        cursor[ds] = updated
    return changed, cursor
