"""Release notes that explain a published number from the tables themselves (worked examples)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import duckdb

from pipelines.release.coverage import partial_sources, percent
from pipelines.validation.suites import load_suite
from pipelines.warehouse.sql import fetch_one

# The example issue 3 asks every release to explain: Motor vehicles (NACE C29) in Stuttgart, 2014.
EU_LQ_EXAMPLE = {"region_code": "DE11", "nace_code": "C29", "year": 2014}


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"



def eu_lq_worked_example(
    con: duckdb.DuckDBPyConnection, region_code: str, nace_code: str, year: int
) -> str | None:
    """Markdown explaining the LQ of the cluster a NACE code mainly maps to, in one region and
    year: numerator, denominators and the reference scope, all read back from the tables."""
    link = fetch_one(
        con,
        "SELECT c.cluster_code, c.weight, c.n_naics, c.us_emp, c.method, k.cluster_name FROM nace_cluster_concordance c "
        "LEFT JOIN clusters k USING (cluster_code) WHERE c.nace_code = $n ORDER BY c.weight DESC LIMIT 1",
        {"n": nace_code},
    )
    if link is None:
        return None
    p = {"r": region_code, "c": link["cluster_code"], "y": year, "n": nace_code}
    ind = fetch_one(
        con,
        "SELECT * FROM eu_cluster_indicators WHERE region_code = $r AND cluster_code = $c AND year = $y",
        {k: p[k] for k in ("r", "c", "y")},
    )
    cell = fetch_one(
        con,
        "SELECT emp, emp_reported, empflag, emp_imputed, nuts_version, nuts_code_original FROM eu_industry_employment "
        "WHERE region_code = $r AND industry_code = $n AND year = $y",
        {k: p[k] for k in ("r", "n", "y")},
    )
    if ind is None:
        return None
    return _lq_markdown(link, ind, _cell_line(cell, region_code, nace_code, year), region_code, nace_code, year)


def _cell_line(cell: dict | None, region_code: str, nace_code: str, year: int) -> str:
    """The example's NACE cell in eu_industry_employment, as a Markdown list item."""
    return (
        f"- {nace_code} in {region_code}, {year}: **{cell['emp']:,.0f}** persons employed"
        + (" (reported)" if cell["emp_reported"] is not None else " (filled from the parent region)")
        + (f", flags `{cell['empflag']}`" if cell["empflag"] else "")
        + f"; NUTS {cell['nuts_version']} code (published as {cell['nuts_code_original']}).\n"
        if cell
        else f"- {nace_code} has no row for {region_code} in {year}.\n"
    )


def _lq_markdown(link: dict, ind: dict, cell_line: str, region_code: str, nace_code: str, year: int) -> str:
    """The worked example's text: the NACE → cluster link, numerator, denominator, scope, stars."""
    scope = list(ind["reference_countries"] or [])
    base_kind = "traded" if ind["cluster_type"] == "traded" else "local"
    share_r = ind["emp"] / ind["region_base_emp"]
    share_e = ind["europe_cluster_emp"] / ind["europe_base_emp"]
    return f"""# Worked example: the LQ of {link['cluster_name']} in {region_code}, {year}

Why this number: NACE {nace_code} maps mainly to cluster {link['cluster_code']}
({link['cluster_name']}) with weight **{link['weight']:.4f}** — the share of US national
employment of the {link['n_naics']} NAICS 2012 industries behind the link that sit in this
cluster (`nace_cluster_concordance`, method: {link['method']}; each NAICS industry's employment
is split across its ISIC links by the Census concordance's part-of notes; the rest of
{nace_code} goes to other clusters, see `nace_concordance_report`).

{cell_line}- Cluster {link['cluster_code']} employment in {region_code}: **{ind['emp']:,.1f}** (sum of
  the region's NACE rows × their weights to the cluster; `eu_cluster_indicators.emp`).

**Numerator** — the cluster's share of the region's {base_kind} employment:
{ind['emp']:,.1f} / {ind['region_base_emp']:,.1f} = **{share_r:.6f}**
(`region_emp_share`; the denominator `region_base_emp` is all {base_kind}-cluster employment of
{region_code}).

**Denominator** — the same share for the European reference:
{ind['europe_cluster_emp']:,.1f} / {ind['europe_base_emp']:,.1f} = **{share_e:.6f}**
(`europe_cluster_emp` / `europe_base_emp`: sums over the country rows in scope).

**LQ** = {share_r:.6f} / {share_e:.6f} = **{ind['lq']:.4f}** (`lq`).

**Reference scope**: the {len(scope)} countries of the European reference in {year}
({', '.join(scope)}; the same countries for the base and every cluster total; parameters
`scope` and `fixed_reference`), {ind['europe_cluster_n_countries']} of which report employment in
this cluster.

**Stars, two named systems** (traded clusters, NUTS regions of the same level ranked together;
specialisation uses the LQ on the region's *total* SBS employment,
{ind['emp']:,.1f} / {ind['region_total_emp']:,.1f} over {ind['europe_cluster_emp']:,.1f} /
{ind['europe_total_emp']:,.1f} = **{_fmt(ind['lq_total'])}**, `lq_total`):

- European Cluster Observatory (2011): size {ind['eco2011_size']}, specialisation (lq_total ≥ 2)
  {ind['eco2011_specialisation']}, focus {ind['eco2011_focus']} → **{ind['eco2011_stars']}** star(s).
- Panorama (European Observatory for Clusters and Industrial Change): size {ind['panorama_size']},
  specialisation {ind['panorama_specialisation']}, productivity (wage per person employed
  {_fmt(ind['relative_wage'])} × the cluster's European level) {ind['panorama_productivity']} →
  **{ind['panorama_stars']}** star(s).
- US rule on the traded-base LQ: strong = {ind['strong']}.

Caveat: the NACE → cluster link is an approximation derived from US definitions (see
`assets/eu/README.md` in the source repository); SBS covers the business economy only.
"""


def write_release_notes(con: duckdb.DuckDBPyConnection, dest: Path) -> Path | None:
    """The notes file a release carries (None when the example's data is not in the tables)."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if not {"eu_cluster_indicators", "eu_industry_employment", "nace_cluster_concordance"} <= tables:
        return None
    text = eu_lq_worked_example(con, **EU_LQ_EXAMPLE)
    if text is None:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    return dest


# --- coverage of the 6-digit detail (region_indicators.coverage) -----------------------------


def coverage_threshold() -> float:
    """The coverage below which a region is flagged: the warning check's own parameter
    (assets/expectations/region_indicators.yaml), so notes and check cannot disagree."""
    spec = next(e for e in load_suite("region_indicators").expectations if e.id == "coverage_below_min")
    return float(spec.params["min_coverage"])


def coverage_by_year(con: duckdb.DuckDBPyConnection, threshold: float | None = None) -> list[dict]:
    """Per year × region type: how much of the source files' total employment the 6-digit rows
    cover — pooled over the regions (sum of 6-digit / sum of totals, what the source notes state),
    the range over regions, reported-only coverage, and the regions below the threshold. Regions
    without a total row are counted apart, never as zero."""
    threshold = coverage_threshold() if threshold is None else threshold
    cur = con.execute(
        """
        SELECT year, region_type,
               count(*) AS regions,
               count(coverage) AS regions_with_total,
               round(sum(six_digit_emp) FILTER (WHERE coverage IS NOT NULL)
                     / nullif(sum(total_emp) FILTER (WHERE coverage IS NOT NULL), 0), 6) AS coverage,
               round(sum(coverage_reported * total_emp)
                     / nullif(sum(total_emp) FILTER (WHERE coverage IS NOT NULL), 0), 6) AS coverage_reported,
               round(min(coverage), 6) AS coverage_min,
               round(max(coverage), 6) AS coverage_max,
               count(*) FILTER (WHERE coverage < $t) AS regions_below
        FROM region_indicators
        GROUP BY ALL
        ORDER BY year, region_type
        """,
        {"t": threshold},
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def years_present(con: duckdb.DuckDBPyConnection, europe: bool = True) -> dict[str, dict[str, list[int]]]:
    """The years each region type actually has in the published indicator tables (not the
    configured ones): {"United States": {"state": [...]}, "Europe": {"nuts2": [...]}}.
    europe=False: the EU tables are not released (a warehouse may still hold older ones)."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    out: dict[str, dict[str, list[int]]] = {}
    for side, table in (("United States", "region_indicators"), ("Europe", "eu_cluster_indicators")):
        if table not in tables or (side == "Europe" and not europe):
            continue
        rows = con.execute(
            f"SELECT region_type, list(DISTINCT year ORDER BY year) FROM {table} GROUP BY 1 ORDER BY 1"
        ).fetchall()
        if rows:
            out[side] = {str(t): [int(y) for y in years] for t, years in rows}
    return out



def coverage_markdown(by_year: list[dict], threshold: float, partial: list[dict]) -> str:
    """notes/coverage.md: the per-year coverage table and what the partial sources lack."""
    lines = [
        "# Coverage of the industry detail",
        "",
        "Cluster employment is built from the 6-digit industry rows of the source files. `coverage` "
        "(in `region_indicators`, per region × year) is their employment — reported cells plus the "
        "EMPFLAG range midpoints of suppressed ones — divided by the employment of the file's total "
        "row (all industries). Below 100 % industries are missing from the inputs; midpoints can "
        "push it slightly above 100 %. `coverage_reported` counts reported cells only. Regions "
        f"below {100 * threshold:.0f} % are flagged by the warning check `coverage_below_min`.",
        "",
        "| year | region type | regions | with a total row | coverage (pooled) | reported only | lowest region | highest region | regions below |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in by_year:
        lines.append(
            f"| {r['year']} | {r['region_type']} | {r['regions']} | {r['regions_with_total']} | {percent(r['coverage'])} "
            f"| {percent(r['coverage_reported'])} | {percent(r['coverage_min'])} | {percent(r['coverage_max'])} | {r['regions_below']} |"
        )
    if partial:
        lines += ["", "## Partial source files", ""]
        lines.append(
            "These inputs are partial reconstructions of the upstream files (source kind "
            "`partial-reconstruction`): their figures are real but incomplete. What each lacks:"
        )
        lines.append("")
        for group in partial:
            lines.append(f"- **{group['sources']}**: {group['note']}")
    return "\n".join(lines) + "\n"


def write_coverage_notes(
    con: duckdb.DuckDBPyConnection, sources: list[dict], dest: Path
) -> tuple[Path, dict]:
    """notes/coverage.md and the datapackage `coverage.six_digit` entry, both from the tables."""
    threshold = coverage_threshold()
    by_year = coverage_by_year(con, threshold)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(coverage_markdown(by_year, threshold, partial_sources(sources)))
    entry = {
        "definition": "6-digit industry employment (reported + EMPFLAG midpoints), all legal forms, over the "
        "employment of the source file's total row; per region × year in region_indicators.coverage",
        "threshold": threshold,
        "by_year": by_year,
    }
    return dest, entry


def naics_vintage_notes(con: duckdb.DuckDBPyConnection, sources: list[dict]) -> str | None:
    """Markdown for the release: the NAICS vintage found in each CBP file (and whether the year
    rule agreed), and the breaks in the cluster definitions between years, so a reader knows
    which growth figures (`vintage_break`) compare two definitions. None without CBP files."""
    files = sorted(
        (s for s in sources if s.get("naics_vintage")), key=lambda s: (s["source_id"].rsplit("/", 1)[-1], s["source_id"])
    )
    if not files:
        return None
    years = con.execute(
        "SELECT year, any_value(definition_vintage) FROM cluster_indicators "
        "WHERE definition_vintage IS NOT NULL GROUP BY year ORDER BY year"
    ).fetchall()
    breaks = [(a, va, b, vb) for (a, va), (b, vb) in pairwise(years) if va != vb]
    flagged = con.execute("SELECT count(*) FROM cluster_indicators WHERE vintage_break").fetchall()[0][0]
    lines = [
        "# NAICS vintages and definition breaks",
        "",
        "Each CBP file is mapped to clusters with the definitions of the NAICS vintage its codes are in,",
        "decided from the share of its 6-digit codes valid in each vintage (the year rule — 1998–2002",
        "NAICS 1997, 2003–2007 2002, 2008–2011 2007, 2012–2016 2012, 2017–2023 2017, later 2022 — is the",
        "prior). The 2017 and 2022 definitions are derived from 2012 through the NAICS concordance",
        "(`cluster_naics.weight`, `derived_from`; splits in `naics_cluster_splits`).",
        "",
        "| file | NAICS vintage found | year rule | share of 6-digit codes valid | next best vintage |",
        "|---|---|---|---|---|",
    ]
    for s in files:
        ev = s.get("naics_vintage_evidence") or {}
        shares = ev.get("shares") or {}
        share = shares.get(s["naics_vintage"])
        rivals = sorted(((v, x) for v, x in shares.items() if v != s["naics_vintage"]), key=lambda r: -r[1])
        rule = ev.get("year_rule", "")
        lines.append(
            f"| {s['source_id']} | {s['naics_vintage']} | {rule}{'' if rule in ('', s['naics_vintage']) else ' (disagrees)'} "
            f"| {'' if share is None else f'{share:.4f}'} | {f'{rivals[0][0]} ({rivals[0][1]:.4f})' if rivals else ''} |"
        )
    lines += ["", "## Breaks in the cluster definitions", ""]
    if breaks:
        lines += [f"- {a} → {b}: NAICS {va} → NAICS {vb} definitions" for a, va, b, vb in breaks]
        lines += [
            "",
            f"Growth figures (`cagr`, `job_creation`) whose window spans a break where the cluster's national"
            f" definition effect is material carry `vintage_break = true` in `cluster_indicators` ({flagged:,} rows):"
            " they compare clusters built from two definitions that differ materially (notes/definition_effect.md)."
            " The constant-definition series `cluster_timeseries` puts every bridgeable year on the 2012 definitions.",
        ]
    else:
        lines.append("None: every year of this release uses the same definitions.")
    return "\n".join(lines) + "\n"
