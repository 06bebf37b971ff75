"""Bounded reading of a streamed HTTP body, shared by every request that reads one
(pipelines.raw.http downloads, the Eurostat update sensor): decoded as it arrives, within a
deadline, the decompression limits and an optional byte cap, so no server can hold a run or
fill its disk or memory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from pipelines.config import DecompressionLimits
from pipelines.errors import SourceError
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
