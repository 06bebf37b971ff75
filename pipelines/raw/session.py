"""The HTTP session every download uses: User-Agent, retries with backoff, and a cap on Retry-After."""

from __future__ import annotations

import re
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pipelines import __version__
from pipelines.config import DEFAULT_RETRY_AFTER_MAX

USER_AGENT = (
    f"cluster-observatory/{__version__} (+https://github.com/cluster-observatory; "
    "open-source cluster indicators pipeline)"
)
DEFAULT_RETRIES = 5  # attempts after the first, for 429/5xx, connection and read errors


class RetryAfterTooLongError(Exception):
    """The server asked us to come back later than we are willing to sleep."""

    def __init__(self, seconds: float, cap: float) -> None:
        super().__init__(
            f"server asked to retry after {seconds:.0f} s, more than the cap of {cap:.0f} s "
            "(OBSERVATORY_HTTP_RETRY_AFTER_MAX): not sleeping that long; try again later"
        )
        self.seconds = seconds


class _CappedRetry(Retry):
    """urllib3 clamps a long Retry-After to retry_after_max and sleeps anyway (6 h by default);
    here a Retry-After beyond the cap is an error, so a run never sleeps for hours unseen."""

    def parse_retry_after(self, retry_after: str) -> float:
        if re.match(r"^\s*[0-9]+\s*$", retry_after):
            seconds = float(int(retry_after))
        else:
            from email.utils import mktime_tz, parsedate_tz

            parsed = parsedate_tz(retry_after)
            if parsed is None:
                return super().parse_retry_after(retry_after)  # raises InvalidHeader
            seconds = mktime_tz(parsed) - time.time()
        seconds = max(seconds, 0.0)
        if seconds > self.retry_after_max:
            raise RetryAfterTooLongError(seconds, self.retry_after_max)
        return seconds


def make_session(
    retries: int = DEFAULT_RETRIES,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX,
) -> requests.Session:
    """Session that retries 429/5xx and connection errors with backoff, honouring Retry-After
    up to `retry_after_max` seconds (beyond it: RetryAfterTooLongError, reported as a SourceError)."""
    retry = _CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        backoff_max=max_backoff,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        retry_after_max=retry_after_max,  # type: ignore[arg-type]
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session
