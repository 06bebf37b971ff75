"""The HTTP session every download uses: User-Agent, retries with backoff, a cap on Retry-After,
a first-byte deadline over the retries of a server that does not answer (and a watchdog that cuts
a server dripping its response headers at that deadline), and one log line per retry naming the URL."""

from __future__ import annotations

import contextvars
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager
from urllib3.util.retry import Retry

from pipelines import __version__
from pipelines.config import DEFAULT_RETRY_AFTER_MAX
from pipelines.raw.redact import redact_text, redact_url

USER_AGENT = (
    f"cluster-observatory/{__version__} (+https://github.com/cluster-observatory; "
    "open-source cluster indicators pipeline)"
)
DEFAULT_RETRIES = 5  # attempts after the first, for 429/5xx, connection and read errors

log = logging.getLogger(__name__)


class RetryAfterTooLongError(Exception):
    """The server asked us to come back later than we are willing to sleep."""

    def __init__(self, seconds: float, cap: float) -> None:
        super().__init__(
            f"server asked to retry after {seconds:.0f} s, more than the cap of {cap:.0f} s "
            "(OBSERVATORY_HTTP_RETRY_AFTER_MAX): not sleeping that long; try again later"
        )
        self.seconds = seconds


class FirstByteTimeoutError(Exception):
    """No response (no status line, or headers not complete) within the first-byte deadline, retries included."""

    def __init__(self, seconds: float, attempts: int, reason: object) -> None:
        cut = reason if isinstance(reason, HeadersTimeoutError) else getattr(reason, "__cause__", None)
        if isinstance(cut, HeadersTimeoutError) and cut.got_status:
            what, how, reason = "no complete response headers", "the server answers but drips its headers", cut
        else:
            what, how = "no response", "the server takes the connection but does not answer"
        super().__init__(
            f"{what} within {seconds:g} s over {attempts} attempt(s) (OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT): "
            f"{how}; last error: {redact_text(str(reason))}"
        )


class HeadersTimeoutError(TimeoutError):
    """The watchdog cut the connection: the status line (`got_status` False) or the headers were not
    complete in time. A TimeoutError, so urllib3 takes it for a read timeout (the retry rule sees it)."""

    def __init__(self, seconds: float, got_status: bool) -> None:
        what = "response headers" if got_status else "status line"
        super().__init__(f"{what} not complete within {seconds:g} s of the request; connection cut")
        self.got_status = got_status


@dataclass
class _FirstByteClock:
    seconds: float
    give_up: float  # time.monotonic() by which some response must have come


_first_byte: contextvars.ContextVar[_FirstByteClock | None] = contextvars.ContextVar("first_byte", default=None)


@contextmanager
def first_byte_deadline(seconds: float) -> Iterator[None]:
    """Within the block, requests of a session from make_session stop retrying once `seconds`
    pass without any response (a server that accepts and never answers). A response, even a 503,
    restarts the clock: a busy server is governed by the retry count and the Retry-After cap."""
    token = _first_byte.set(_FirstByteClock(seconds, time.monotonic() + seconds))
    try:
        yield
    finally:
        _first_byte.reset(token)


class _HeadersWatchdog:
    """Shuts a connection's socket down (the blocked read returns at once) unless disarmed first.
    The per-read timeout restarts on every byte and http.client has no limit on the whole header
    block: without this a server sending a header byte a second holds a request for ever."""

    def __init__(self, sock: object, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._sock = sock
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def _cut(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            if isinstance(self._sock, socket.socket):  # a TLS socket too: cut the raw fd, not the TLS layer
                with suppress(OSError):
                    socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def disarm(self) -> bool:
        """Stop the timer; True if it had already cut the connection."""
        with self._lock:
            self._done = True
            self._timer.cancel()
            return self.fired


class _WatchedHeaders:
    """Mixin for urllib3 connections: inside a first_byte_deadline block the status line and all
    headers must arrive within its seconds of the request being sent (the body is body.py's)."""

    def getresponse(self):  # type: ignore[no-untyped-def]
        clock = _first_byte.get()
        if clock is None:
            return super().getresponse()  # type: ignore[misc]
        watchdog = _HeadersWatchdog(self.sock, clock.seconds)  # type: ignore[attr-defined]
        try:
            resp = super().getresponse()  # type: ignore[misc]
        except BaseException:
            if watchdog.disarm():  # http.client raises on a cut only while it reads the status line
                raise HeadersTimeoutError(clock.seconds, got_status=False) from None
            raise
        if watchdog.disarm():
            # http.client takes the cut as the end of the headers: never hand on such a response
            resp.close()
            raise HeadersTimeoutError(clock.seconds, got_status=True)
        return resp


class _WatchedHTTPConnection(_WatchedHeaders, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedHeaders, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """HTTPAdapter whose connections (direct or through an HTTP proxy) run the headers watchdog."""

    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs) -> PoolManager:  # type: ignore[no-untyped-def]
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if set(manager.pool_classes_by_scheme.values()) <= {HTTPConnectionPool, HTTPSConnectionPool}:
            manager.pool_classes_by_scheme = _WATCHED_POOLS  # not SOCKS: its own connection classes
        return manager


def _pool_url(pool: object, path: str | None) -> str:
    scheme, host, port = (getattr(pool, k, None) for k in ("scheme", "host", "port"))
    url = f"{scheme}://{host}{f':{port}' if port else ''}{path or ''}" if host else str(path)
    return redact_url(url) or url


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

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[no-untyped-def, override]
        """The next retry (urllib3's rules), after the first-byte deadline; logs one line naming the
        URL; the answer retried (a 429/5xx) is closed with its body unread."""
        clock = _first_byte.get()
        if clock is not None and response is None and time.monotonic() >= clock.give_up:
            raise FirstByteTimeoutError(clock.seconds, len(self.history) + 1, error)
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if response is not None:
            # urllib3 would read the refused answer's body to the end before retrying, each read
            # under the read timeout only: a 503 that drips or never ends would hold the request.
            response.close()
        if response is None or response.status in (self.status_forcelist or ()):
            reason = f"HTTP {response.status}" if response is not None else f"{type(error).__name__}: {error}"
            log.warning(
                "%s: %s; retry %d (%s left)", _pool_url(_pool, url), redact_text(reason), len(new.history), new.total
            )
        return new

    def sleep(self, response=None) -> None:  # type: ignore[no-untyped-def]
        """Back off (or honour Retry-After); after a response the first-byte clock starts again
        once the wait is over: the server answered, it is busy, not dead."""
        super().sleep(response)
        clock = _first_byte.get()
        if clock is not None and response is not None:
            clock.give_up = time.monotonic() + clock.seconds


def unread_redirect(resp: requests.Response, *args: object, **kwargs: object) -> requests.Response:
    """Response hook: close a redirect's body unread. requests reads it whole (into memory, each read
    only under the read timeout) before it follows the redirect, and even when it does not
    (allow_redirects=False): a redirect with an endless body would hold the request for ever."""
    if resp.is_redirect:
        resp.raw.close()
    return resp


def make_session(
    retries: int = DEFAULT_RETRIES,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX,
) -> requests.Session:
    """Session that retries 429/5xx and connection errors with backoff, honouring Retry-After
    up to `retry_after_max` seconds (beyond it: RetryAfterTooLongError, reported as a SourceError);
    redirect bodies are never read (unread_redirect); inside first_byte_deadline the response headers
are complete within its seconds of each request or the connection is cut (_HeadersWatchdog)."""
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
    adapter = _WatchedAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.hooks["response"].append(unread_redirect)
    return session
