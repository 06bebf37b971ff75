"""Which Eurostat datasets changed upstream: the JSON-stat `updated` field, plain functions, no Dagster.

The Eurostat new-vintage sensor (pipelines/defs/schedules.py) asks `detect_eurostat_updates`
once per tick and launches a run for the datasets it returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import requests

from pipelines import config
from pipelines.config import DEFAULT_HTTP_DEADLINE, DEFAULT_HTTP_FIRST_BYTE_TIMEOUT, Settings
from pipelines.errors import SourceError
from pipelines.raw.archive import RawArchive
from pipelines.raw.body import BodyCap, RequestFailures, body_chunks, bounded_get
from pipelines.raw.session import make_session

EUROSTAT_DEFAULT_DATASETS = ("sbs_r_nuts06_r2",)
EUROSTAT_API = "https://ec.europa.eu/eurostat/api/dissemination"
# Largest metadata answer read. The answer is the dataset's newest period in JSON-stat: for
# sbs_r_nuts06_r2 (2015 in the mirror's copy: 95,464 values, 8,951 flags) about 1.5 MB. 32 MiB is
# twenty times that, room for larger datasets, and still parses in memory; a longer body is a
# broken or hostile server, refused before it fills the memory.
MAX_METADATA_BYTES = 32 << 20
METADATA_CAP = BodyCap(
    MAX_METADATA_BYTES, "MAX_METADATA_BYTES in pipelines/raw/eurostat_updates.py",
    "not a JSON-stat answer for one period; a broken or hostile server",
)  # fmt: skip
# The sensor's own words, so its log lines say which request failed (the URL holds no key: no cause kept).
METADATA_FAILURES = RequestFailures(
    status="metadata: ", waited="metadata request failed: ", failed="metadata request failed", chain=False
)


def eurostat_updated(
    dataset: str,
    *,
    base: str = EUROSTAT_API,
    session: requests.Session | None = None,
    first_byte: float = DEFAULT_HTTP_FIRST_BYTE_TIMEOUT,
    deadline: float = DEFAULT_HTTP_DEADLINE,
) -> str:
    """The dataset's last data update, from the JSON-stat `updated` field (one small request).

    Asks the dissemination API for the last time period only, so the body stays small; the
    `updated` timestamp describes the whole dataset. Bounded like every download
    (pipelines.raw.http): a first byte within `first_byte` s (retries included), the body within
    `deadline` s and at most MAX_METADATA_BYTES bytes (decoded).
    """
    url = f"{base.rstrip('/')}/statistics/1.0/data/{dataset}?format=JSON&lang=EN&lastTimePeriod=1"
    sid = f"eurostat/{dataset}"
    own = session is None
    sess = session or make_session(retries=3, backoff=1.0, max_backoff=30)
    try:
        with bounded_get(sess, url, sid, url, timeout=(10, 60), first_byte=first_byte, failures=METADATA_FAILURES) as resp:
            body = read_capped(resp, sid, url, deadline)
    finally:
        if own:
            sess.close()
    try:
        doc = json.loads(body)
    except ValueError:
        raise SourceError(sid, url, f"metadata is not JSON (starts with {body[:60].decode('utf-8', 'replace')!r})") from None
    updated = doc.get("updated") if isinstance(doc, dict) else None
    if not updated:
        raise SourceError(sid, url, "metadata has no 'updated' field")
    return str(updated)


def read_capped(resp: requests.Response, sid: str, url: str, deadline: float) -> bytes:
    """The (decoded) body of a streamed response, refused past MAX_METADATA_BYTES or `deadline` s:
    read as it arrives (pipelines.raw.body), so neither a huge (or endless) body nor a dripping one
    is held for long."""
    return b"".join(body_chunks(resp, sid, url, deadline=deadline, what="metadata body", cap=METADATA_CAP))


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
    with make_session(retries=3, backoff=1.0, max_backoff=30, retry_after_max=settings.http_retry_after_max) as sess:
        for ds in datasets:
            try:
                updated = eurostat_updated(
                    ds, base=base, session=sess,
                    first_byte=settings.http_first_byte_timeout, deadline=settings.http_deadline,
                )  # fmt: skip
            except SourceError as exc:
                if log:
                    log(f"skipping {ds}: {exc}")
                continue
            never_fetched = not archive.entries(f"eurostat/{ds}")
            if cursor.get(ds) != updated and (ds in cursor or never_fetched):
                changed.append(f"{ds}@{updated}")
            cursor[ds] = updated
    return changed, cursor
