"""Years written as runs, the one rule for every message and note that lists years:
[2000, 2001, 2002, 2005] → (2000, 2002), (2005, 2005) → "2000–2002, 2005"."""

from __future__ import annotations

from collections.abc import Iterable


def year_runs(years: Iterable[int]) -> list[tuple[int, int]]:
    """Distinct years, sorted, as (first, last) runs of consecutive years."""
    out: list[list[int]] = []
    for y in sorted({int(y) for y in years}):
        if out and y == out[-1][1] + 1:
            out[-1][1] = y
        else:
            out.append([y, y])
    return [(a, b) for a, b in out]


def year_ranges(years: Iterable[int], dash: str = "–") -> str:
    """The runs joined by ", ": a run of one year as the year, a longer one as first{dash}last."""
    return ", ".join(str(a) if a == b else f"{a}{dash}{b}" for a, b in year_runs(years))
