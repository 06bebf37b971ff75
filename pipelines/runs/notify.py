"""Short failure notifications: always to the log, and to a webhook when one is configured.

OBSERVATORY_WEBHOOK_URL takes any endpoint that accepts a JSON POST (Slack/Mattermost/Teams
incoming webhooks read the "text" field). Delivery is best effort: a dead webhook never fails
a run, and the webhook URL itself (often a secret) is never logged. The answer's status is all
that counts: its body is never read (and redirects, whose bodies requests would read whole, are
not followed), so a webhook answering slowly or endlessly cannot hold the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import requests
from urllib3 import exceptions as urllib3_errors

from pipelines import config
from pipelines.raw.redact import redact_text
from pipelines.raw.session import USER_AGENT, make_session

WEBHOOK_ENV = config.WEBHOOK_ENV
MAX_CHARS = 600
ATTEMPTS = 3  # a webhook that cannot be reached is tried this often
RETRY_WAIT = 0.5  # seconds before the first retry, doubled before the next
log = logging.getLogger("observatory.notify")


def format_message(
    *,
    reason: str,
    assets: Iterable[str] = (),
    partition: str | None = None,
    job: str | None = None,
    run_id: str | None = None,
) -> str:
    """One short line: what failed (asset, partition), where (job, run) and why (first error line)."""
    names = sorted(set(assets))
    what = ", ".join(names) if names else (job or "run")
    parts = [f"[observatory] FAILED {what}"]
    if partition:
        parts.append(f"partition {partition}")
    if job:
        parts.append(f"job {job}")
    if run_id:
        parts.append(f"run {run_id[:8]}")
    first = next((ln.strip() for ln in reason.strip().splitlines() if ln.strip()), "no reason given")
    msg = redact_text(" | ".join(parts) + f": {first}")
    return msg if len(msg) <= MAX_CHARS else msg[: MAX_CHARS - 1] + "…"


def notify(message: str, *, webhook_url: str | None = None, timeout: float = 5.0) -> bool:
    """Log the message; POST {"text": message} to the webhook. True when the webhook accepted it
    (2xx); its reply body is left unread."""
    message = redact_text(message)
    log.error(message)
    url = webhook_url if webhook_url is not None else config.webhook_url()
    if not url:
        return False
    # No retries in the session: its retry lines name the URL, and a webhook's path is its secret.
    sess = make_session(retries=0)
    sess.headers["User-Agent"] = USER_AGENT
    try:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return _post(sess, url, message, timeout)
            except requests.RequestException as exc:
                if attempt == ATTEMPTS or not _never_sent(exc):
                    log.warning("notification webhook unreachable: %s", type(exc).__name__)
                    return False
                log.warning("notification webhook unreachable: %s; retry %d", type(exc).__name__, attempt)
                time.sleep(RETRY_WAIT * attempt)
        return False  # pragma: no cover (the loop returns)
    finally:
        sess.close()


def _post(sess: requests.Session, url: str, message: str, timeout: float) -> bool:
    """One POST; True on 2xx. The reply is closed unread and a redirect is not followed."""
    with sess.post(
        url, json={"text": message}, timeout=(timeout, timeout), stream=True, allow_redirects=False
    ) as resp:
        ok = resp.status_code < 300
        if resp.is_redirect:
            log.warning(
                "notification webhook answered HTTP %s: redirects are not followed; set %s to the final URL",
                resp.status_code, WEBHOOK_ENV,
            )  # fmt: skip
        elif not ok:
            log.warning("notification webhook answered HTTP %s", resp.status_code)
        return ok


def _never_sent(exc: requests.RequestException) -> bool:
    """No connection was made, so the message did not go out: safe to try again (a POST that
    reached the webhook is never sent twice)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectTimeout) or isinstance(reason, urllib3_errors.NewConnectionError)
