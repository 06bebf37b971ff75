"""Which CBP years exist and which CBP files changed upstream: plain functions, no Dagster.

The CBP partitions (pipelines/defs/us.py) and the new-vintage sensor both follow
`available_years`: every year from the first NAICS-based CBP year to last year, so a year the
Census Bureau publishes later (2024, 2025, ...) is a partition without a code change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import requests

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.layout import cbp_staged_path
from pipelines.raw.archive import RawArchive
from pipelines.raw.http import HostUnreachableError, head
from pipelines.raw.mirror import Mirror
from pipelines.raw.session import make_session
from pipelines.sources import cbp
from pipelines.years import year_ranges


def available_years(today: datetime | None = None) -> list[int]:
    """CBP years that can exist by `today`: FIRST_YEAR up to last year (CBP appears ~2 years late)."""
    now = today or datetime.now(UTC)
    return list(range(cbp.FIRST_YEAR, now.year))


@dataclass(frozen=True)
class Vintage:
    """A CBP file (geography, year) whose upstream version differs from the archived one."""

    geo: str
    year: int
    token: str  # sha256:… (mirror) or etag:/lm:/len:… (upstream HEAD)
    reason: str  # "new" (never archived) or "changed"

    @property
    def asset(self) -> str:
        return f"cbp_{self.geo}"

    @property
    def run_key(self) -> str:
        return f"{self.asset}:{self.year}:{self.token}"


def _archived_matches(records: list[dict[str, Any]], *, sha256=None, etag=None, last_modified=None, length=None) -> bool:
    for rec in records:
        if sha256 and rec.get("sha256") == sha256:
            return True
        if etag and rec.get("etag") == etag:
            return True
        if not etag and last_modified and rec.get("last_modified") == last_modified:
            return True
        if not etag and not last_modified and length is not None and rec.get("bytes") == length:
            return True
    return False


def candidate_years(settings: Settings, today: datetime | None = None) -> list[int]:
    """Configured years plus every later year up to last year (CBP appears ~2 years late)."""
    now = today or datetime.now(UTC)
    years = set(settings.cbp_years) | set(range(max(settings.cbp_years) + 1, now.year))
    return sorted(years & set(available_years(now)))


def detect_cbp_vintages(
    settings: Settings,
    *,
    cursor: dict[str, str] | None = None,
    session: requests.Session | None = None,
    url_for: Callable[[int, str], str] = cbp.url,
    today: datetime | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[list[Vintage], dict[str, str]]:
    """CBP files whose upstream version is not in the raw archive, and the updated cursor.

    Mirror configured: the mirror index lists the files and their sha256 (no network). Otherwise
    one HEAD per (geography, year), conditional on the last seen ETag/Last-Modified; 404 means
    "not published yet". Failures of single HEADs are logged and skipped, never raised; after a
    host gives no answer at all, the tick's other HEADs to it are skipped too (one line).
    """
    cursor = dict(cursor or {})
    if settings.mirror is not None:
        found = _mirror_vintages(settings, cursor, today)
        return sorted(found, key=lambda v: (v.geo, v.year)), cursor
    own = session is None
    sess = session or make_session(retries=3, backoff=1.0, max_backoff=30, retry_after_max=settings.http_retry_after_max)
    try:
        found = _upstream_vintages(settings, cursor, sess, url_for, today, log)
    finally:
        if own:
            sess.close()
    return found, cursor


def _mirror_vintages(settings: Settings, cursor: dict[str, str], today: datetime | None) -> list[Vintage]:
    """Mirror files whose sha256 the raw archive does not hold; records each token in `cursor`."""
    assert settings.mirror is not None
    archive = RawArchive(settings.raw_dir)
    found: list[Vintage] = []
    mirror = Mirror(settings.mirror)  # read afresh: the sensor process lives for days
    years = set(candidate_years(settings, today))
    for geo in settings.cbp_geos:
        for entry in mirror.entries:
            parts = entry.id.split("/")
            if parts[:3] != ["census", "cbp", geo] or len(parts) != 4 or not parts[3].isdigit():
                continue
            year = int(parts[3])
            if year not in years:
                continue
            token = f"sha256:{entry.sha256}"
            records = archive.entries(entry.id)
            cursor[f"{geo}/{year}"] = token
            if not _archived_matches(records, sha256=entry.sha256):
                found.append(Vintage(geo, year, token, "changed" if records else "new"))
    return found


def _upstream_vintages(
    settings: Settings,
    cursor: dict[str, str],
    sess: requests.Session,
    url_for: Callable[[int, str], str],
    today: datetime | None,
    log: Callable[[str], None] | None,
) -> list[Vintage]:
    """One conditional HEAD per (geography, year); records tokens and validators in `cursor`.

    After a host does not answer (or connect), the tick sends it no more HEADs: against a dead
    Census host a tick costs one first-byte deadline, not one per file. The skipped probes leave
    `cursor` as it was (tried again next tick) and are named in one line per host.
    """
    archive = RawArchive(settings.raw_dir)
    found: list[Vintage] = []
    dead: dict[str, list[tuple[str, int]]] = {}  # host -> probes not sent to it this tick
    for geo in settings.cbp_geos:
        for year in candidate_years(settings, today):
            sid = cbp.source_id(year, geo)
            url = url_for(year, geo)
            host = _host(url)
            if host in dead:
                dead[host].append((geo, year))
                continue
            seen = json.loads(cursor.get(f"{geo}/{year}:validators", "{}"))
            try:
                rv = head(
                    sid, url, etag=seen.get("etag"), last_modified=seen.get("last_modified"),
                    session=sess, first_byte=settings.http_first_byte_timeout,
                )  # fmt: skip
            except HostUnreachableError as exc:
                if log:
                    log(f"skipping {sid}: {exc}")
                dead[host] = []
                continue
            except SourceError as exc:
                if log:
                    log(f"skipping {sid}: {exc}")
                continue
            if not rv.exists:
                continue  # 404: that year is not out yet
            records = archive.entries(sid)
            if rv.not_modified:
                token = cursor.get(f"{geo}/{year}", "")
                changed = not records  # unchanged since last tick, but never fetched
            else:
                token = rv.token or f"seen:{datetime.now(UTC):%Y%m%d}"
                cursor[f"{geo}/{year}"] = token
                cursor[f"{geo}/{year}:validators"] = json.dumps(
                    {"etag": rv.etag, "last_modified": rv.last_modified}
                )
                changed = not _archived_matches(
                    records, etag=rv.etag, last_modified=rv.last_modified, length=rv.content_length
                )
            if changed:
                found.append(Vintage(geo, year, token, "changed" if records else "new"))
    if log:
        for host, skipped in dead.items():
            if skipped:
                log(_skipped_line(host, skipped, settings.http_first_byte_timeout))
    return found


def _host(url: str) -> str:
    """host[:port] of a URL (no credentials): the unit a dead server takes down."""
    parts = urlparse(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _skipped_line(host: str, skipped: list[tuple[str, int]], first_byte: float) -> str:
    """One line for a dead host: the setting that bounded the wait and the probes not sent."""
    by_geo: dict[str, list[int]] = {}
    for geo, year in skipped:
        by_geo.setdefault(geo, []).append(year)
    which = "; ".join(f"{geo} {year_ranges(years, dash='-')}" for geo, years in by_geo.items())
    return (
        f"CBP host {host} unreachable (no answer within OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT={first_byte:g} s, "
        f"or no connection): {len(skipped)} more HEAD(s) to it not sent this tick, tried again next tick: {which}"
    )


def publish_years(settings: Settings, today: datetime | None = None) -> list[int]:
    """Configured years, plus the contiguous run of later years staged for every geography.

    A year published upstream after OBSERVATORY_CBP_YEARS was set joins sensor-launched releases
    here; add it to OBSERVATORY_CBP_YEARS so `observatory run/refresh` keep it as well.
    """
    years = set(settings.cbp_years)
    nxt = max(years) + 1
    known = set(available_years(today))
    while nxt in known and all(
        cbp_staged_path(settings, nxt, geo).exists() for geo in settings.cbp_geos
    ):
        years.add(nxt)
        nxt += 1
    return sorted(years)
