"""Release notes of the evaluation over time (issue 19): the definition effect per year × cluster
(native vs constant-definition national totals) and the growth figures the sound-base rules
change, each read back from the warehouse tables and measured both ways (without and with the
rule), so a reader sees what the published growth figures rest on."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.release.coverage import percent
from pipelines.release.family_notes import write_notes
from pipelines.warehouse.indicators import DEFAULT_PARAMS
from pipelines.warehouse.sql import fetch_frame, fetch_one

DISTRIBUTION = "Distribution and Electronic Commerce"


def _present(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _signed(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{100 * v:+.{digits}f} %"


def _change(a: float | None, b: float | None) -> str:
    """b − a in persons; "n/a" when either is unknown (a year without total rows, e.g. API pulls)."""
    return "n/a" if a is None or b is None else f"{b - a:+,.0f}"


def _growth(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or a == 0 else b / a - 1


def definition_effect_note(con: duckdb.DuckDBPyConnection) -> str | None:
    """Markdown: per year × cluster, the national native total against the constant-definition
    total (table definition_effect, sql/us/definition_effect.sql)."""
    if "definition_effect" not in _present(con):
        return None
    eff = fetch_frame(
        con,
        "SELECT d.*, c.cluster_name FROM definition_effect AS d LEFT JOIN clusters AS c USING (cluster_code) "
        "ORDER BY CAST(d.cluster_code AS INTEGER), d.year",
    )
    if eff.height == 0:
        return None
    limit = DEFAULT_PARAMS["max_definition_effect"]
    years = sorted(set(eff["year"].to_list()))
    by_year = (
        eff.group_by("year", "naics_vintage", "reference_type")
        .agg(
            pl.col("constant_emp").is_null().all().alias("left_out"),
            (pl.col("native_emp") > 50_000).sum().alias("big"),
            pl.col("definition_effect").filter(pl.col("native_emp") > 50_000).abs().max().alias("max_big"),
            (pl.col("definition_effect").abs() > limit).sum().alias("material"),
        )
        .sort("year")
    )
    lines = [
        "# Definition effect: native vs constant-definition cluster totals",
        "",
        "`cluster_indicators` maps each year's CBP rows with the cluster definitions of the year's own NAICS",
        "vintage (the clustermapping.us-comparable view). `cluster_timeseries` maps every year to ONE",
        "definition, the 2012-based benchmark definitions, through the NAICS year concordance. A NAICS",
        "2002 or 2007 code whose 2012 counterparts sit in several clusters is split by the employment that",
        "went from it to its successor codes (2002 → 2007 → 2012, chained): per cluster, its flow into its",
        "successors in that cluster over its flow into all of them. Only the two ends of a vintage change",
        "are observed, so the flows are fitted to both: each old code's national employment in the last",
        "year of its vintage and each successor's in the first year of the next (iterative proportional",
        "fitting on the concordance's links; an old code without a row in its last year takes what the",
        "others leave). A successor formed from several old codes is thus shared among them, never",
        "counted in full for each, and every code's weights sum to 1. Equally where the run has no",
        "successor year (method = equal; the weights are in `constant_definition_splits`). NAICS",
        "2017/2022 codes keep the equal split of the native definitions, so the series equals the",
        "native view there. The definition effect of a cluster in a year is its",
        "national native total over its constant-definition total − 1 (national: the country rows, else",
        "the sum of the states). NAICS 1997 years have no 6-digit bridge to NAICS 2002: they are not in the",
        "series (effect unknown), never guessed.",
        "",
        "A growth window is flagged (`vintage_break`) only where it crosses a NAICS vintage change and the",
        f"effect exceeds max_definition_effect = {limit:.0%} in absolute value, or is unknown, at either end.",
        "",
        "| year | data coded in NAICS | reference | in the series | clusters > 50,000 jobs | largest effect among them | clusters above the limit |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in by_year.iter_rows(named=True):
        lines.append(
            f"| {r['year']} | {r['naics_vintage']} | {r['reference_type']} | {'no (no bridge)' if r['left_out'] else 'yes'} "
            f"| {r['big']} | {'n/a' if r['max_big'] is None else percent(r['max_big'])} | {'n/a' if r['left_out'] else r['material']} |"
        )
    material = eff.filter(pl.col("definition_effect").abs() > limit)
    if material.height:
        lines += [
            "",
            f"## Cluster-years with an effect above {limit:.0%}",
            "",
            "Two causes: the native definitions of that vintage place codes differently from the 2012",
            "definitions (e.g. the part of NAICS 2002 334220 Communications Equipment that went to 334515",
            "Instruments is in Communications Equipment on the 2002 definitions and in Information",
            "Technology and Analytical Instruments on the 2012 ones), and the estimate of a split code's",
            "flows, which rests on two adjacent years only. The weights used are listed under Split",
            "codes. Growth across these years is flagged (vintage_break); read it with the totals below.",
            "",
            "| year | cluster | native | constant | effect |",
            "|---|---|---|---|---|",
        ]
        for r in material.sort("year", pl.col("definition_effect").abs(), descending=[False, True]).iter_rows(named=True):
            lines.append(
                f"| {r['year']} | {r['cluster_name']} ({r['cluster_code']}) | {r['native_emp']:,.0f} "
                f"| {r['constant_emp']:,.1f} | {_signed(r['definition_effect'])} |"
            )
    if "constant_definition_splits" in _present(con):
        splits = fetch_frame(
            con,
            "SELECT s.*, c.cluster_name FROM constant_definition_splits AS s LEFT JOIN clusters AS c USING (cluster_code) "
            "WHERE s.naics_vintage IN ('2002', '2007') ORDER BY s.naics_vintage, s.naics, CAST(s.cluster_code AS INTEGER)",
        )
        lines += ["", "## Split codes (NAICS 2002/2007, table constant_definition_splits)", ""]
        lines += ["| vintage | NAICS | cluster | weight | method | successor year |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {r['naics_vintage']} | {r['naics']} | {r['cluster_name']} ({r['cluster_code']}) | {r['weight']:.4f} "
            f"| {r['method']} | {r['successor_year'] or '–'} |"
            for r in splits.iter_rows(named=True)
        ]
    lines += ["", "## Every cluster and year (effect, %)", "", "| cluster | " + " | ".join(str(y) for y in years) + " |"]
    lines.append("|---|" + "---|" * len(years))
    wide = eff.pivot(on="year", index=["cluster_code", "cluster_name"], values="definition_effect", sort_columns=True)
    for r in wide.iter_rows(named=True):
        cells = ["–" if r.get(str(y)) is None else f"{100 * r[str(y)]:+.2f}" for y in years]
        lines.append(f"| {r['cluster_name']} ({r['cluster_code']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _us_figures(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The US growth figures of issue 19, without and with the rules (state rows, national sums)."""
    years = fetch_one(
        con,
        "SELECT min(year) AS y0, max(year) AS y1 FROM cluster_indicators WHERE region_type = 'state'",
    )
    series = fetch_one(
        con,
        "SELECT min(year) AS s0, max(year) AS s1 FROM cluster_timeseries WHERE side = 'us' AND region_type = 'state'",
    )
    if years is None or years["y0"] is None or series is None or series["s0"] is None:
        return None
    p = {**years, **series}
    totals = fetch_one(
        con,
        "SELECT sum(total_emp) FILTER (WHERE year = $y0) AS t0, sum(total_emp) FILTER (WHERE year = $y1) AS t1, "
        "sum(total_emp) FILTER (WHERE year = $s0) AS ts0, sum(total_emp) FILTER (WHERE year = $s1) AS ts1, "
        "sum(six_digit_emp) FILTER (WHERE year = $s0) / sum(total_emp) FILTER (WHERE year = $s0) AS c0, "
        "sum(six_digit_emp) FILTER (WHERE year = $s1) / sum(total_emp) FILTER (WHERE year = $s1) AS c1 "
        "FROM region_indicators WHERE region_type = 'state'",
        p,
    )
    naive = fetch_one(
        con,
        "SELECT sum(emp) FILTER (WHERE year = $y0) AS e0, sum(emp) FILTER (WHERE year = $y1) AS e1 "
        "FROM cluster_indicators WHERE region_type = 'state'",
        {"y0": p["y0"], "y1": p["y1"]},
    )
    constant = fetch_one(
        con,
        "SELECT sum(emp) FILTER (WHERE year = $s0) AS e0, sum(emp) FILTER (WHERE year = $s1) AS e1 "
        "FROM cluster_timeseries WHERE side = 'us' AND region_type = 'state'",
        {"s0": p["s0"], "s1": p["s1"]},
    )
    published = fetch_one(
        con,
        "SELECT sum(job_creation) AS jc, count(job_creation) AS n, count(*) AS rows FROM cluster_indicators "
        "WHERE region_type = 'state' AND year = $y1",
        {"y1": p["y1"]},
    )
    dist = fetch_frame(
        con,
        "SELECT i.year, sum(i.emp) AS emp, any_value(r.cov) AS coverage, "
        "count(i.cagr) AS rates "
        "FROM cluster_indicators AS i JOIN clusters AS c USING (cluster_code) "
        "LEFT JOIN (SELECT year, sum(six_digit_emp) / nullif(sum(total_emp), 0) AS cov FROM region_indicators "
        "WHERE region_type = 'state' GROUP BY year) AS r USING (year) "
        "WHERE i.region_type = 'state' AND c.cluster_name = $n GROUP BY i.year ORDER BY i.year",
        {"n": DISTRIBUTION},
    )
    ss = fetch_one(
        con,
        "SELECT window_start, window_end, any_value(national_growth) AS g, any_value(series) AS series, "
        "any_value(reference_regions) AS refs FROM shift_share WHERE window_kind = 'full' GROUP BY ALL",
    )
    over = fetch_one(
        con,
        "SELECT count(*) FILTER (WHERE abs(region_growth) > 10) AS over, "
        "count(*) FILTER (WHERE emp_start > 0 AND abs(emp_end / emp_start - 1) > 10) AS over_naive FROM shift_share",
    )
    if ss is not None and over is not None:
        ss = {**ss, **over}
    return {"p": p, "totals": totals, "naive": naive, "constant": constant, "published": published, "dist": dist, "ss": ss}


def _us_lines(f: dict[str, Any]) -> list[str]:
    p, t, naive, const, pub = f["p"], f["totals"], f["naive"], f["constant"], f["published"]
    lines = [
        "## United States (CBP state rows; national = the sum of the states)",
        "",
        f"- **Coverage.** The series runs {p['s0']}–{p['s1']}; the native view {p['y0']}–{p['y1']}. Years whose",
        "  6-digit rows cover less than min_coverage of the files' total employment are no growth endpoint.",
    ]
    d = f["dist"]
    if d.height >= 2:
        rows = d.to_dicts()
        jumps = list(pairwise(rows))
        worst = max(jumps, key=lambda ab: abs((ab[1]["emp"] or 0) / (ab[0]["emp"] or 1) - 1), default=None)
        if worst:
            a, b = worst
            lines.append(
                f"- **Partial-year growth.** {DISTRIBUTION}, national (native view): {a['emp']:,.0f} in {a['year']} "
                f"(coverage {percent(a['coverage'])}) → {b['emp']:,.0f} in {b['year']} (coverage {percent(b['coverage'])}), "
                f"{_signed(_growth(a['emp'], b['emp']))}: before issue 19 every CAGR and job_creation "
                f"started in {p['y0']}; now no published rate starts or ends in a partial year "
                f"(in {b['year']}: {b['rates']} state rate(s), each from a sound base)."
            )
    lines.append(
        f"- **Summed state job creation to {p['y1']}.** Without the rule (every series from {p['y0']}): "
        f"{_change(naive['e0'], naive['e1'])}, while the files' total employment changed by {_change(t['t0'], t['t1'])}. "
        f"Published now (cluster_indicators, from each row's first sound year): {pub['jc'] or 0:+,.0f} over "
        f"{pub['n']:,} of {pub['rows']:,} rows. On the constant-definition series {p['s0']}→{p['s1']}: "
        f"{_change(const['e0'], const['e1'])} against a file total change of {_change(t['ts0'], t['ts1'])} (the 6-digit "
        f"rows' coverage of the total rows moves from {percent(t['c0'])} to {percent(t['c1'])}: EMPFLAG midpoints of "
        "suppressed cells, not growth)."
    )
    ss = f["ss"]
    if ss:
        lines.append(
            f"- **Shift-share national growth.** Without the rule over {p['y0']}→{p['y1']} (native sum of states): "
            f"{_signed(_growth(naive['e0'], naive['e1']))} (file totals: {_signed(_growth(t['t0'], t['t1']))}). Published full "
            f"window {ss['window_start']}→{ss['window_end']} on the {ss['series']} series, reference = "
            f"{ss['refs']} states present and covered at both ends: {_signed(ss['g'], 2)} (file totals over the same "
            f"years: {_signed(_growth(t['ts0'], t['ts1']), 2) if ss['window_start'] == p['s0'] else 'n/a'})."
        )
        lines.append(
            f"- **Shift-share rows beyond ±1,000 %** (every window): {ss['over_naive']} from the levels without the "
            f"rule → {ss['over']} published."
        )
    return lines


def _eu_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    e = fetch_one(
        con,
        "WITH f AS (SELECT region_type, region_code, nuts_version, cluster_code, arg_min(emp, year) AS first_emp, "
        "min(year) AS first_year FROM eu_cluster_indicators WHERE emp IS NOT NULL GROUP BY ALL) "
        "SELECT count(*) FILTER (WHERE i.year > f.first_year AND f.first_emp > 0 AND f.first_emp < 1 AND i.emp IS NOT NULL) AS naive_tiny, "
        "count(*) FILTER (WHERE i.cagr IS NOT NULL AND i.base_emp < 1) AS tiny, "
        "count(*) FILTER (WHERE i.cagr IS NOT NULL AND i.base_emp < $m) AS small, "
        "count(i.cagr) AS rates, max(i.cagr) AS max_cagr, "
        "count(*) FILTER (WHERE i.growth_basis = 'partial_coverage') AS partial, "
        "count(*) FILTER (WHERE i.growth_basis = 'small_base') AS small_base, "
        "count(*) FILTER (WHERE i.growth_basis = 'imputed_base') AS imputed "
        "FROM eu_cluster_indicators AS i JOIN f USING (region_type, region_code, nuts_version, cluster_code)",
        {"m": DEFAULT_PARAMS["min_growth_base"]},
    )
    ss = fetch_one(
        con,
        "SELECT count(*) FILTER (WHERE abs(region_growth) > 10) AS over, "
        "count(*) FILTER (WHERE emp_start > 0 AND abs(emp_end / emp_start - 1) > 10) AS over_naive, "
        "min(reference_regions) AS ref_min, max(reference_regions) AS ref_max FROM eu_shift_share",
    )
    if e is None:
        return []
    lines = [
        "",
        "## Europe (Eurostat SBS, NACE Rev.2: one mapping, so the series is the EU indicator rows)",
        "",
        f"- **Tiny bases.** Rows that would carry a CAGR from a first year under one person: {e['naive_tiny']:,} without "
        f"the rule → {e['tiny']:,} published; CAGRs from a base under min_growth_base: {e['small']:,} "
        f"({e['rates']:,} CAGRs in all, largest {percent(e['max_cagr'])} a year). Not a growth start: "
        f"{e['partial']:,} rows whose cluster total misses NACE cells (partial_coverage), {e['small_base']:,} small, "
        f"{e['imputed']:,} wholly filled from the parent region.",
    ]
    if ss:
        lines.append(
            f"- **Shift-share rows beyond ±1,000 %:** {ss['over_naive']:,} from the levels without the rule → {ss['over']:,} "
            f"published. Window reference: the countries in the reference at BOTH ends ({ss['ref_min']}–{ss['ref_max']} "
            "per window and cluster); extra-regio, rank-excluded and no-data rows never enter a family table."
        )
    return lines


def evaluation_note(con: duckdb.DuckDBPyConnection) -> str | None:
    """Markdown: the growth figures of issue 19 measured without and with the sound-base rules."""
    present = _present(con)
    if not {"cluster_indicators", "cluster_timeseries", "shift_share"} <= present:
        return None
    us = _us_figures(con)
    lines = [
        "# Evaluation over time: what the growth figures rest on",
        "",
        "Growth is taken only from sound bases (release parameters): no rate starts or ends in a",
        f"region-year whose coverage is below min_coverage = {DEFAULT_PARAMS['min_coverage']:.2f}, none starts from a",
        f"base under min_growth_base = {DEFAULT_PARAMS['min_growth_base']:.0f} persons or a wholly imputed one",
        "(`growth_basis`). The families (shift-share, emerging, links, backtests) read the",
        "constant-definition series `cluster_timeseries`; `cluster_indicators` keeps the native year view.",
        "Each figure below names the series and reference it uses; 'without the rule' recomputes the same",
        "figure from the published levels as it was read before issue 19.",
        "",
    ]
    if us:
        lines += _us_lines(us)
    if "eu_cluster_indicators" in present and "eu_shift_share" in present:
        lines += _eu_lines(con)
    return "\n".join(lines) + "\n"


NOTE_WRITERS = {
    "notes/definition_effect.md": definition_effect_note,
    "notes/evaluation_over_time.md": evaluation_note,
}


def write_series_notes(con: duckdb.DuckDBPyConnection, dest_dir: Path) -> dict[str, Path]:
    """The notes of the evaluation over time; keys are paths inside the release."""
    return write_notes(con, dest_dir, NOTE_WRITERS)
