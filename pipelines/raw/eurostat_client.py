"""Eurostat download client.

:class:`EurostatClient` downloads through :func:`pipelines.raw.http.fetch` (mirror first, sha256,
raw archive). It handles the API's two "too big" answers:

* queued extraction: HTTP 413, or a 200 answer carrying an asynchronous key instead of data:
  the client polls with exponential backoff (the async status endpoint when a key is given,
  else the same URL) up to ``max_polls`` and then fails with a :class:`SourceError` that says
  how long it waited and what to do;
* HTTP 416 (too many categories): the request is split along a dimension (halving an explicit
  filter, or one request per value of ``split_values``) and the pieces are concatenated.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.archive import RawFile
from pipelines.raw.http import fetch
from pipelines.sources.eurostat import (
    API_BASE,
    ASYNC_DATA_PATH,
    ASYNC_STATUS_PATH,
    file_head,
    jsonstat_url,
    source_id,
    tsv_url,
)

log = logging.getLogger(__name__)


class EurostatQueuedError(SourceError):
    """The API answered with an asynchronous key instead of data."""

    def __init__(self, source: str, location: str, key: str):
        super().__init__(source, location, f"extraction queued asynchronously (key {key})")
        self.key = key


class _NotReadyError(SourceError):
    def __init__(self, source: str, location: str, status: str):
        super().__init__(source, location, f"asynchronous extraction not ready: {status}")
        self.status = status


_KEY_RE = re.compile(r"<(?:[A-Za-z0-9_]+:)?key>\s*([^<\s]+)\s*</|\"key\"\s*:\s*\"([^\"]+)\"")
_STATUS_RE = re.compile(r"\b(SUBMITTED|PROCESSING|AVAILABLE|EXPIRED|UNKNOWN_REQUEST)\b")


def _http_status(err: SourceError) -> int | None:
    m = re.match(r"HTTP (\d{3})", err.problem)
    return int(m.group(1)) if m else None


@dataclass
class EurostatClient:
    """Download Eurostat datasets via :func:`pipelines.raw.http.fetch` with async polling and 416 splits."""

    settings: Settings
    base: str = API_BASE
    max_polls: int = 12
    backoff: float = 2.0
    max_backoff: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    polls: list[str] = field(default_factory=list)  # URLs polled (for logs/tests)

    # -- validation of a complete download before it is archived
    def _validator(self, source: str, location: str, fmt: str) -> Callable[[Path], None]:
        def validate(path: Path) -> None:
            head = file_head(path)
            if head.startswith(b"\x1f\x8b"):
                return  # gzip'd TSV, header checked by the parser
            text = head.decode("utf-8", "replace")
            m = _KEY_RE.search(text)
            if m and ("ASYNCHRONOUS" in text.upper() or "SUBMITTED" in text or "413" in text or "<" in text[:5]):
                raise EurostatQueuedError(source, location, m.group(1) or m.group(2))
            if fmt == "tsv":
                first = text.split("\n", 1)[0]
                if "\\" not in first.split("\t", 1)[0]:
                    raise SourceError(source, location, f"not an Eurostat TSV (starts with {text[:80]!r})")
            else:
                stripped = text.lstrip()
                if not stripped.startswith("{"):
                    raise SourceError(source, location, f"not JSON (starts with {text[:80]!r})")
                if '"error"' in text[:400]:
                    raise SourceError(source, location, f"Eurostat error answer: {text[:300]!r}")

        return validate

    def _delay(self, attempt: int) -> float:
        return min(self.backoff * (2**attempt), self.max_backoff)

    def _fetch_once(self, source: str, url: str, fmt: str, mirror_id: str | None, filename: str) -> RawFile:
        """One request; polls when queued (413 or async key). Raises SourceError(HTTP 416) as is."""
        for attempt in range(self.max_polls + 1):
            try:
                return fetch(
                    source, url, self.settings, mirror_id=mirror_id, filename=filename,
                    validate=self._validator(source, url, fmt),
                )
            except EurostatQueuedError as queued:
                return self._poll_async(source, queued.key, fmt, filename)
            except SourceError as err:
                if _http_status(err) != 413:
                    raise
                if attempt == self.max_polls:
                    break
                self.polls.append(url)
                self.sleep(self._delay(attempt))
        waited = sum(self._delay(a) for a in range(self.max_polls))
        raise SourceError(
            source,
            url,
            f"extraction still queued (HTTP 413) after {self.max_polls} polls (~{waited:.0f} s of backoff); "
            "retry later or narrow the request with filters",
        )

    def _poll_async(self, source: str, key: str, fmt: str, filename: str) -> RawFile:
        status_url = self.base + ASYNC_STATUS_PATH.format(key=key)
        last = "SUBMITTED"

        def check(path: Path) -> None:
            text = file_head(path).decode("utf-8", "replace")
            m = _STATUS_RE.search(text)
            status = m.group(1) if m else "UNKNOWN"
            if status in {"EXPIRED", "UNKNOWN_REQUEST"}:
                raise SourceError(source, status_url, f"asynchronous extraction {key} is {status}")
            if status != "AVAILABLE":
                raise _NotReadyError(source, status_url, status)

        for attempt in range(self.max_polls):
            self.polls.append(status_url)
            try:
                fetch(f"{source}/async-status", status_url, self.settings, filename=f"status-{key}.txt", validate=check)
            except _NotReadyError as nr:
                last = nr.status
                self.sleep(self._delay(attempt))
                continue
            data_url = self.base + ASYNC_DATA_PATH.format(key=key)
            return fetch(source, data_url, self.settings, filename=filename, validate=self._validator(source, data_url, fmt))
        waited = sum(self._delay(a) for a in range(self.max_polls))
        raise SourceError(
            source,
            status_url,
            f"asynchronous extraction {key} still {last} after {self.max_polls} polls "
            f"(~{waited:.0f} s of backoff); retry later or narrow the request",
        )

    def fetch_dataset(
        self,
        dataset: str,
        *,
        fmt: str = "tsv",
        filters: Mapping[str, Sequence[str]] | None = None,
        split_values: Mapping[str, Sequence[str]] | None = None,
        mirror_id: str | None = None,
        _depth: int = 0,
    ) -> list[RawFile]:
        """Fetch one dataset (optionally filtered); returns one or more archived files.

        On HTTP 416 the request is split: a filter with several values is halved; otherwise the
        first dimension in ``split_values`` not yet filtered gives one request per value.
        """
        if fmt not in {"tsv", "json"}:
            raise ValueError(f"fmt must be 'tsv' or 'json', not {fmt!r}")
        src = source_id(dataset)
        filters = {k: list(v) for k, v in (filters or {}).items()}
        url = (tsv_url if fmt == "tsv" else jsonstat_url)(dataset, filters, self.base)
        filename = f"{dataset}.tsv.gz" if fmt == "tsv" else f"{dataset}.json"
        mid = mirror_id if mirror_id is not None else (src if not filters and fmt == "tsv" else None)
        try:
            return [self._fetch_once(src, url, fmt, mid, filename)]
        except EurostatQueuedError:
            raise
        except SourceError as err:
            if _http_status(err) != 416:
                raise
        if _depth > 20:
            raise SourceError(src, url, "HTTP 416 (too many categories) and the request cannot be split further")
        dim, pieces = _split_request(src, url, filters, split_values)
        log.info("%s: HTTP 416, splitting on %s into %d requests", src, dim, len(pieces))
        out: list[RawFile] = []
        for piece in pieces:
            out.extend(
                self.fetch_dataset(
                    dataset, fmt=fmt, filters=piece, split_values=split_values, mirror_id="", _depth=_depth + 1
                )
            )
        return out


def _split_request(
    src: str, url: str, filters: dict[str, list[str]], split_values: Mapping[str, Sequence[str]] | None
) -> tuple[str, list[dict[str, list[str]]]]:
    """The dimension a too-big (HTTP 416) request is split on and the filters of its pieces: the
    filter with the most values halved, else the first dimension of ``split_values`` not filtered."""
    multi = [d for d, v in sorted(filters.items()) if len(v) > 1]
    pieces: list[dict[str, list[str]]] = []
    if multi:
        dim = max(multi, key=lambda d: len(filters[d]))
        vals = filters[dim]
        half = len(vals) // 2
        pieces = [{**filters, dim: vals[:half]}, {**filters, dim: vals[half:]}]
    else:
        free = [d for d in (split_values or {}) if d not in filters]
        if not free:
            raise SourceError(
                src,
                url,
                "HTTP 416 (too many categories) and nothing left to split on; pass "
                "split_values={'geo': [...]} or narrower filters",
            )
        dim = free[0]
        pieces = [{**filters, dim: [v]} for v in (split_values or {})[dim]]
        if len(pieces) > 1:  # one request per value is wasteful: start with halves
            vals = list((split_values or {})[dim])
            half = len(vals) // 2
            pieces = [{**filters, dim: vals[:half]}, {**filters, dim: vals[half:]}]
    return dim, pieces
