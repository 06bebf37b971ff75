"""What a release covers against the latest one: a release that covers fewer CBP years, CBP
geographies or statistical sources than the latest must not replace it silently (a targeted
`refresh --years 2010-2011 --sources publish` on a 2000–2011 warehouse once made a two-year
release latest). Without an explicit --allow-narrower it is not published at all: the latest
release stays latest and nothing is lost."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pipelines.years import year_ranges

CBP_FILE = re.compile(r"^census/cbp/[a-z]+/\d{4}$")  # one CBP file: covered by the years and geographies
DATA_SOURCES = ("eurostat/", "census/")  # statistical sources (not reference files, which follow the code)


class NarrowerReleaseError(RuntimeError):
    """The release would drop years, geographies or sources the latest release has."""


def dropped_scope(latest: Mapping[str, Any], coverage: Mapping[str, Any], source_ids: Iterable[str]) -> list[str]:
    """What the new release (its `coverage` metadata and source ids) would drop against the latest
    release's datapackage: CBP years, CBP geographies, Eurostat, other statistical sources."""
    old = latest.get("coverage") or {}
    drops = []
    years = set(old.get("cbp_years") or []) - set(coverage.get("cbp_years") or [])
    if years:
        drops.append(f"CBP years {year_ranges(years)}")
    geos = [g for g in old.get("cbp_geographies") or [] if g not in set(coverage.get("cbp_geographies") or [])]
    if geos:
        drops.append(f"CBP geographies {', '.join(geos)}")
    if old.get("eurostat") and not coverage.get("eurostat"):
        drops.append("Eurostat (every EU table)")
    new_ids = set(source_ids)
    gone = sorted(
        s["title"] for s in latest.get("sources") or []
        if s.get("title", "").startswith(DATA_SOURCES) and not CBP_FILE.match(s["title"]) and s["title"] not in new_ids
    )  # fmt: skip
    if gone:
        drops.append(f"sources {', '.join(gone)}")
    return drops


def refuse_narrower(latest_version: str, drops: list[str]) -> NarrowerReleaseError:
    """The one-line error: what would be dropped, that nothing was published, and the flag."""
    return NarrowerReleaseError(
        f"not published: this release covers less than the latest release {latest_version} "
        f"(it would drop {'; '.join(drops)}); {latest_version} stays latest. To publish the narrower "
        "release as latest anyway, run again with --allow-narrower"
    )
