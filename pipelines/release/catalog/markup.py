"""Small text helpers of the release pages."""

from __future__ import annotations

from html import escape
from typing import Any


def esc(v: Any) -> str:
    """A value as HTML-escaped text; None as the empty string."""
    return escape("" if v is None else str(v))


def human_size(n: int | None) -> str:
    """A byte count for people (1,234 B, 12.3 KB, ...); empty for None."""
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""
