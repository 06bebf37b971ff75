"""What a release covers: region types and years present, inputs that are partial reconstructions,
6-digit coverage, and the description / changelog sentences built from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.release.datapackage import table_resources
from pipelines.years import year_ranges

PARTIAL_KIND = "partial-reconstruction"


def id_ranges(ids: list[str]) -> str:
    """census/cbp/state/2000 … /2011 → 'census/cbp/state/2000–2011' (other ids listed as they are)."""
    by_prefix: dict[str, list[int]] = {}
    other: list[str] = []
    for sid in sorted(ids):
        head, _, tail = sid.rpartition("/")
        if head and tail.isdigit():
            by_prefix.setdefault(head, []).append(int(tail))
        else:
            other.append(sid)
    return "; ".join([*(f"{h}/{year_ranges(ys)}" for h, ys in by_prefix.items()), *other])


def partial_sources(sources: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Inputs the mirror marks as partial reconstructions (`mirror_kind`), grouped by their note:
    [{"sources": "census/cbp/state/2000–2002", "ids": [...], "note": "..."}]."""
    groups: dict[str, list[str]] = {}
    for s in sources:
        if (s.get("mirror_kind") or s.get("kind")) == PARTIAL_KIND:
            sid = s.get("source_id") or s.get("title") or "?"
            groups.setdefault(str(s.get("note") or "(no note)"), []).append(sid)
    return [
        {"sources": id_ranges(ids), "ids": sorted(ids), "note": note}
        for note, ids in sorted(groups.items(), key=lambda kv: sorted(kv[1])[0])
    ]


def coverage_of(package: Mapping[str, Any]) -> Mapping[str, Any]:
    """The package's `coverage` block (years present, 6-digit coverage), empty when it has none."""
    return package.get("coverage") or {}


def percent(v: float | None) -> str:
    """A share as "12.3 %", "n/a" when unknown."""
    return "n/a" if v is None else f"{100 * v:.1f} %"


def coverage_by_type(package: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """The per-year coverage rows of the release (notes.coverage_by_year), by region type;
    custom regions left out (they repeat their members)."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for r in (coverage_of(package).get("six_digit") or {}).get("by_year") or []:
        if r["region_type"] != "custom" and r.get("coverage") is not None:
            out.setdefault(r["region_type"], []).append(r)
    return out


def coverage_sentence(package: Mapping[str, Any]) -> str:
    """'state: 2000 86.6 %, 2001 …; by state 82.5–105.9 %' — the per-year pooled coverage."""
    parts = []
    for rtype, rows in coverage_by_type(package).items():
        per_year = ", ".join(f"{r['year']} {percent(r['coverage'])}" for r in rows)
        lo = min(r["coverage_min"] for r in rows if r.get("coverage_min") is not None)
        hi = max(r["coverage_max"] for r in rows if r.get("coverage_max") is not None)
        parts.append(f"{rtype} files, pooled: {per_year} (single regions {percent(lo)}–{percent(hi)})")
    return "; ".join(parts)


def partial_statement(package: Mapping[str, Any]) -> str | None:
    """The caveat a release built on partial inputs leads with (None when it has none)."""
    partial = [sid for g in partial_sources(package.get("sources", [])) for sid in g["ids"]]
    threshold = float((coverage_of(package).get("six_digit") or {}).get("threshold", 0.95))
    below = {
        rtype: (sum(r.get("regions_below", 0) for r in rows), sum(r["regions_with_total"] for r in rows))
        for rtype, rows in coverage_by_type(package).items()
    }
    below = {k: v for k, v in below.items() if v[0]}
    if not partial and not below:
        return None
    text = "PARTIAL DATA. "
    if partial:
        text += (
            f"{len(partial)} of the {len(package.get('sources', []))} input files are partial reconstructions of the "
            f"upstream files ({id_ranges(partial)}): some industries are missing, so employment, shares and "
            "location quotients built from them are real but partial. "
        )
    sentence = coverage_sentence(package)
    if sentence:
        text += f"6-digit industry employment as a share of the files' total employment — {sentence}."
    if below:
        text += " Below " + f"{100 * threshold:.0f} %: " + ", ".join(f"{n} of {of} {rtype}-years" for rtype, (n, of) in below.items()) + "."
    return text + " Per region and year: region_indicators.coverage; details: notes/coverage.md."


def types_years(types: Mapping[str, list[int]]) -> str:
    """{'state': [2000, 2001], 'custom': [2000, 2001]} → 'state, custom 2000–2001'."""
    by_years: dict[str, list[str]] = {}
    for rtype, years in types.items():
        by_years.setdefault(year_ranges(years), []).append(rtype)
    return "; ".join(f"{', '.join(ts)} {ys}" for ys, ts in by_years.items())


def years_sentence(package: Mapping[str, Any]) -> str:
    """'United States: state 2000–2011, custom 2000–2011; Europe: nuts0, nuts1, nuts2 2008–2015'."""
    present = coverage_of(package).get("years_present") or {}
    return "; ".join(f"{side}: {types_years(types)}" for side, types in present.items())


def describe_release(package: Mapping[str, Any]) -> str:
    """The release's description (datapackage, CITATION abstract, dataset.jsonld, release page):
    what it really covers — continents, region types and years present — and, first thing after
    the one-line summary, whether it rests on partial inputs."""
    names = set(table_resources(package))
    us, eu = "cluster_indicators" in names, "eu_cluster_indicators" in names
    what = []
    if us:
        what.append("reproducing clustermapping.us (US Cluster Mapping Project) from US County Business Patterns")
    if eu:
        what.append(
            ("and " if us else "") + "for European NUTS regions, on the same clusters, from Eurostat regional "
            "structural business statistics (stars of the European Cluster Observatory 2011 and of the European "
            "Observatory for Clusters and Industrial Change)"
        )
    text = (
        f"Regional cluster indicators {' '.join(what)}: employment, wages, location quotients and strong "
        "clusters by region, cluster and year."
    ).replace("indicators :", "indicators:")
    caveat = partial_statement(package)
    if caveat:
        text += " " + caveat
    years = years_sentence(package)
    if years:
        text += f" Region types and years present — {years}."
    return text


def coverage_changelog(package: Mapping[str, Any]) -> str:
    """The CHANGELOG paragraph on partial inputs and coverage (empty when there is nothing to say)."""
    caveat = partial_statement(package)
    return f"**{caveat.split('. ', 1)[0]}.** {caveat.split('. ', 1)[1]}\n" if caveat else ""
