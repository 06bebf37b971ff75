"""Bounded requests and bounded reading of a streamed HTTP body, shared by every request that reads
one (pipelines.raw.http downloads, the Eurostat update sensor): a first byte within a deadline,
then the body decoded as it arrives, within a deadline, the decompression limits and an optional
byte cap, so no server can hold a run or fill its disk or memory; every failure one SourceError."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests
from urllib3 import exceptions as urllib3_errors

from pipelines.config import DecompressionLimits
from pipelines.errors import SourceError
from pipelines.raw.redact import redact_text
from pipelines.raw.session import FirstByteTimeoutError, RetryAfterTooLongError, first_byte_deadline
from pipelines.sources.bounds import InflateBudget, human

CHUNK = 1 << 20


@dataclass(frozen=True)
class BodyCap:
    """The most bytes (decoded) a body may have, for sources whose answers are small: a longer body
    is a broken or hostile server, refused while it streams, before it fills the disk or memory."""

    max_bytes: int
    named: str  # where the number is set, for the message: "MAX_API_BYTES in pipelines/sources/..."
    why: str = "a broken or hostile server"

    def refused(self, what: str, how: str) -> str:
        return f"{what} larger than {human(self.max_bytes)} ({self.named}): {self.why}; {how}"


@dataclass(frozen=True)
class RequestFailures:
    """How a failed request reads (operators grep for these words): `status` before "HTTP 404 …",
    `waited` before the first-byte / Retry-After text, `failed` before a transport error's name and
    text; `chain` keeps the transport error as the cause (the CLI prints it) where the URL holds no key."""

    status: str = ""
    waited: str = ""
    failed: str = "download failed"
    chain: bool = True


DOWNLOAD_FAILURES = RequestFailures()


@contextmanager
def bounded_get(
    session: requests.Session,
    url: str,
    source_id: str,
    shown: str,
    *,
    timeout: tuple[float, float],
    first_byte: float,
    failures: RequestFailures = DOWNLOAD_FAILURES,
) -> Iterator[requests.Response]:
    """A streamed GET of `url` whose first byte comes within `first_byte` s (retries included, no
    single read waiting longer), open for the block. An HTTP status >= 400, the deadline, a
    Retry-After past the session's cap and any transport error, in the block too (the body's
    reads), end in one SourceError naming `source_id` and `shown` (the redacted URL)."""
    try:
        with first_byte_deadline(first_byte):
            resp = session.get(url, stream=True, timeout=(timeout[0], min(timeout[1], first_byte)))
        with resp:
            if resp.status_code >= 400:
                raise SourceError(source_id, shown, f"{failures.status}HTTP {resp.status_code} {resp.reason}")
            yield resp
    except SourceError:
        raise
    except (RetryAfterTooLongError, FirstByteTimeoutError) as exc:
        raise SourceError(source_id, shown, f"{failures.waited}{exc}") from None
    except (requests.RequestException, urllib3_errors.HTTPError) as exc:
        err = SourceError(source_id, shown, redact_text(f"{failures.failed}: {type(exc).__name__}: {exc}"))
        if not failures.chain or shown != url:  # the original exception text holds the key: do not chain it
            raise err from None
        raise err from exc


def body_chunks(
    resp: requests.Response,
    source_id: str,
    shown: str,
    *,
    deadline: float,
    what: str = "download",
    limits: DecompressionLimits | None = None,
    cap: BodyCap | None = None,
) -> Iterator[bytes]:
    """The decoded body of a streamed response, chunk by chunk as it arrives; a SourceError once it
    takes longer than `deadline` s, passes `cap` (a larger Content-Length is refused unread) or,
    gzip/deflate-encoded, inflates beyond `limits` (None: the cap alone bounds it).

    read1 returns what has arrived (decoded, at most CHUNK bytes), so a server dripping bytes cannot
    keep one read alive past the deadline the way iter_content's fill-the-chunk reads do, and an
    encoded body never inflates whole into memory.
    """
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    encoded = encoding not in ("", "identity")
    declared = resp.headers.get("Content-Length", "").strip()
    if cap is not None and not encoded and declared.isdigit() and int(declared) > cap.max_bytes:
        raise SourceError(source_id, shown, cap.refused(what, f"Content-Length {declared}, refused unread"))
    budget = InflateBudget(limits, source_id, shown, f"{encoding}-encoded body") if encoded and limits else None
    give_up = time.monotonic() + deadline
    size = 0
    while chunk := resp.raw.read1(CHUNK, decode_content=True):
        size += len(chunk)
        if time.monotonic() > give_up:
            raise SourceError(
                source_id, shown,
                f"{what} exceeded its deadline of {deadline:g} s (OBSERVATORY_HTTP_DEADLINE) after {size} bytes: "
                "the server is too slow",
            )  # fmt: skip
        if budget is not None:
            budget.check(size, resp.raw.tell())
        if cap is not None and size > cap.max_bytes:
            raise SourceError(source_id, shown, cap.refused(what, f"stopped at {human(size)}"))
        yield chunk
