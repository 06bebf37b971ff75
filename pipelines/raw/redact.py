"""Credentials never recorded: URL and free-text redaction of key/token query parameters.

Importing this module also installs a filter on urllib3's and requests' loggers, which log
request lines and retry warnings with the full URL.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

# Query parameters that carry credentials: redacted wherever a URL is recorded or logged.
SECRET_PARAMS = frozenset({"key", "api_key", "apikey", "token", "access_token"})
REDACTED = "REDACTED"
_SECRET_IN_TEXT = re.compile(
    r"(?i)([?&](?:" + "|".join(sorted(SECRET_PARAMS)) + r")=)[^&#\s'\"]+"
)


def redact_url(url: str | None) -> str | None:
    """The URL with credential query parameters (key=, token=, ...) replaced by REDACTED."""
    if not url:
        return url
    parts = urlparse(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k.lower() in SECRET_PARAMS for k, _ in pairs):
        return url  # unchanged byte for byte, so mirror lookups by URL still match
    query = [(k, REDACTED if k.lower() in SECRET_PARAMS else v) for k, v in pairs]
    return urlunparse(parts._replace(query=urlencode(query, safe=",:*")))


def redact_text(text: str) -> str:
    """Redact credential query parameters inside free text (exception messages, log lines)."""
    return _SECRET_IN_TEXT.sub(rf"\1{REDACTED}", text)


class _RedactFilter(logging.Filter):
    """urllib3 logs request lines and retry warnings with the full URL: strip keys from them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # never break logging
            return True
        red = redact_text(msg)
        if red != msg:
            record.msg, record.args = red, None
        return True


for _name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
    logging.getLogger(_name).addFilter(_RedactFilter())
