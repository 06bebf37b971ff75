"""Release notes that explain a published number from the tables themselves (worked examples)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import duckdb

# The example issue 3 asks every release to explain: Motor vehicles (NACE C29) in Stuttgart, 2014.
EU_LQ_EXAMPLE = {"region_code": "DE11", "nace_code": "C29", "year": 2014}


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> dict | None:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else None


def eu_lq_worked_example(
    con: duckdb.DuckDBPyConnection, region_code: str, nace_code: str, year: int
) -> str | None:
    """Markdown explaining the LQ of the cluster a NACE code mainly maps to, in one region and
    year: numerator, denominators and the reference scope, all read back from the tables."""
    link = _one(
        con,
        "SELECT c.cluster_code, c.weight, c.n_naics, c.us_emp, k.cluster_name FROM nace_cluster_concordance c "
        "LEFT JOIN clusters k USING (cluster_code) WHERE c.nace_code = $n ORDER BY c.weight DESC LIMIT 1",
        {"n": nace_code},
    )
    if link is None:
        return None
    p = {"r": region_code, "c": link["cluster_code"], "y": year, "n": nace_code}
    ind = _one(
        con,
        "SELECT * FROM eu_cluster_indicators WHERE region_code = $r AND cluster_code = $c AND year = $y",
        {k: p[k] for k in ("r", "c", "y")},
    )
    cell = _one(
        con,
        "SELECT emp, emp_reported, empflag, emp_imputed, nuts_version, nuts_code_original FROM eu_industry_employment "
        "WHERE region_code = $r AND industry_code = $n AND year = $y",
        {k: p[k] for k in ("r", "n", "y")},
    )
    if ind is None:
        return None
    scope = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT region_code FROM eu_cluster_indicators "
            "WHERE region_type = 'nuts0' AND in_scope AND year = $y ORDER BY 1",
            {"y": year},
        ).fetchall()
    ]
    base_kind = "traded" if ind["cluster_type"] == "traded" else "local"
    share_r = ind["emp"] / ind["region_base_emp"]
    share_e = ind["europe_cluster_emp"] / ind["europe_base_emp"]
    cell_line = (
        f"- {nace_code} in {region_code}, {year}: **{cell['emp']:,.0f}** persons employed"
        + (" (reported)" if cell["emp_reported"] is not None else " (filled from the parent region)")
        + (f", flags `{cell['empflag']}`" if cell["empflag"] else "")
        + f"; NUTS {cell['nuts_version']} code (published as {cell['nuts_code_original']}).\n"
        if cell
        else f"- {nace_code} has no row for {region_code} in {year}.\n"
    )
    return f"""# Worked example: the LQ of {link['cluster_name']} in {region_code}, {year}

Why this number: NACE {nace_code} maps mainly to cluster {link['cluster_code']}
({link['cluster_name']}) with weight **{link['weight']:.4f}** — the share of US national
employment of the {link['n_naics']} NAICS 2012 industries behind the link that sit in this
cluster (`nace_cluster_concordance`; the rest of {nace_code} goes to other clusters).

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

**Reference scope**: the {len(scope)} countries in scope in {year} ({', '.join(scope)};
parameter `scope`, default all countries present), {ind['europe_n_countries']} of which report
employment in this cluster.

Stars: size {ind['star_size']}, specialisation (LQ ≥ 2) {ind['star_specialisation']},
focus {ind['star_focus']} → **{ind['stars']}** star(s).

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
            f"Growth figures (`cagr`, `job_creation`) whose window spans a break carry `vintage_break = true`"
            f" in `cluster_indicators` ({flagged:,} rows): they compare clusters built from two definitions.",
        ]
    else:
        lines.append("None: every year of this release uses the same definitions.")
    return "\n".join(lines) + "\n"
