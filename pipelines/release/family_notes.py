"""Worked examples of the indicator families (issue 12), written to the release's notes/: one
US state row of each family, its numbers read back from the warehouse tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb

from pipelines.warehouse.families import FAMILY_PARAMS
from pipelines.warehouse.sql import fetch_one


def _name(con: duckdb.DuckDBPyConnection, code: str) -> str:
    row = fetch_one(con, "SELECT cluster_name FROM clusters WHERE cluster_code = $c", {"c": code})
    return f"{row['cluster_name']} ({code})" if row else f"cluster {code}"


def shift_share_example(con: duckdb.DuckDBPyConnection) -> str | None:
    """The largest traded cluster of the largest US state over the full window, decomposed."""
    r = fetch_one(
        con,
        "SELECT * FROM shift_share WHERE window_kind = 'full' AND region_type = 'state' "
        "AND cluster_type = 'traded' AND homothetic_effect IS NOT NULL "
        "ORDER BY sum(emp_start) OVER (PARTITION BY region_code) DESC, emp_start DESC, region_code, cluster_code LIMIT 1",
    )
    if r is None:
        return None
    where = f"state {r['region_code']}, {_name(con, r['cluster_code'])}, {r['window_start']}→{r['window_end']}"
    return f"""# Worked example: shift-share of {where}

From `shift_share` (sql/families/shift_share.sql). Employment {r["emp_start"]:,.0f} → {r["emp_end"]:,.0f}:
change **{r["emp_change"]:+,.0f}**. The reference (national rows or the sum of the states, over the
cells present in both years) grew by G = **{r["national_growth"]:.4%}** overall and by
g = **{r["cluster_growth"]:.4%}** in this cluster; the region's cluster grew by
r = **{r["region_growth"]:.4%}**.

| part | formula | value |
|---|---|---|
| national | {r["emp_start"]:,.0f} × {r["national_growth"]:.6f} | {r["national_effect"]:+,.1f} |
| industry mix | {r["emp_start"]:,.0f} × ({r["cluster_growth"]:.6f} − {r["national_growth"]:.6f}) | {r["mix_effect"]:+,.1f} |
| competitive | {r["emp_start"]:,.0f} × ({r["region_growth"]:.6f} − {r["cluster_growth"]:.6f}) | {r["competitive_effect"]:+,.1f} |
| **sum** | | **{r["national_effect"] + r["mix_effect"] + r["competitive_effect"]:+,.1f}** = the change |

Esteban-Marquillas: had the state the reference's cluster structure, the cluster would have
employed {r["homothetic_emp_start"]:,.1f} (the state's total × the reference's cluster share):
homothetic effect {r["homothetic_emp_start"]:,.1f} × ({r["region_growth"]:.6f} − {r["cluster_growth"]:.6f})
= **{r["homothetic_effect"]:+,.1f}**; allocation effect ({r["emp_start"]:,.0f} − {r["homothetic_emp_start"]:,.1f})
× ({r["region_growth"]:.6f} − {r["cluster_growth"]:.6f}) = **{r["allocation_effect"]:+,.1f}**; together the
competitive effect.

Dynamic variant (the same parts year by year, summed): national {r["dynamic_national_effect"] or 0:+,.1f},
mix {r["dynamic_mix_effect"] or 0:+,.1f}, competitive {r["dynamic_competitive_effect"] or 0:+,.1f}.
Series: {"the constant-definition series cluster_timeseries (2012-based definitions; NAICS 1997 years left out)" if r.get("series") == "constant" else "the native indicator table"}; reference: {r.get("reference_regions") or "n/a"} reference regions present at both ends.
vintage_break = {r["vintage_break"]}: {"the window crosses a NAICS vintage change where the cluster's national definition effect is above max_definition_effect (notes/definition_effect.md), so part of the change may come from the concordance bridge" if r["vintage_break"] else "no material definition effect at either end"}.
"""


def _evaluation_table(con: duckdb.DuckDBPyConnection) -> str:
    """Out-of-sample AUC and lift of the stated rule and the score, per side × region type × horizon."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    lines = []
    for side, table in (("US", "emerging_backtest"), ("EU", "eu_emerging_backtest")):
        if table not in tables:
            continue
        rows = con.execute(
            f"SELECT region_type, horizon_years, any_value(n_oos), any_value(n_oos_became_strong), "
            f"any_value(auc_old_rule_oos), any_value(auc_score_oos), any_value(lift_old_rule_oos), "
            f"any_value(lift_score_oos) FROM {table} WHERE n_oos IS NOT NULL GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        lines += [
            f"| {side} | {t} | {k} | {n:,} | {pos:,} | {_num(ar)} | {_num(asc)} | {_num(lr)} | {_num(ls)} |"
            for t, k, n, pos, ar, asc, lr, ls in rows
        ]
    return "\n".join(lines)


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def emerging_example(con: duckdb.DuckDBPyConnection) -> str | None:
    """One US state cluster flagged by the stated rule, the rule checked step by step, and the
    out-of-sample evaluation of the rule against the emerging score that chose the default flag."""
    r = fetch_one(
        con,
        "SELECT * FROM emerging_clusters WHERE emerging_rule AND region_type = 'state' "
        "AND emp_start >= $m ORDER BY window_end DESC, emp_end DESC, region_code, cluster_code LIMIT 1",
        {"m": FAMILY_PARAMS["em_min_emp"]},
    )
    if r is None:
        return None
    p = FAMILY_PARAMS
    above = fetch_one(
        con,
        "SELECT count(*) FILTER (WHERE lq_end >= $q) AS a, count(*) AS n FROM emerging_clusters WHERE emerging_score",
        {"q": p["em_max_lq"]},
    )
    share = f"{above['a']:,} of {above['n']:,}" if above else "none"
    score = "no score (no earlier outcomes to fit on)" if r["score"] is None else f"score {r['score']:.4f}"
    return f"""# Worked example: an emerging cluster — state {r["region_code"]}, {_name(con, r["cluster_code"])}, {r["window_start"]}→{r["window_end"]}

From `emerging_clusters` (sql/families/emerging_features.sql, emerging.sql), default parameters:

- growth basis: {r["growth_basis"]} (growth and flags only from a sound start and a usable end)
- not strong in {r["window_end"]}: strong_end = {r["strong_end"]}
- LQ {r["lq_start"]:.3f} → {r["lq_end"]:.3f}: below em_max_lq = {p["em_max_lq"]} and rising by
  {r["lq_end"] / r["lq_start"] - 1:.1%} ≥ em_min_lq_rise = {p["em_min_lq_rise"]:.0%} → quadrant **{r["quadrant"]}**
- employment {r["emp_start"]:,.0f} → {r["emp_end"]:,.0f} (≥ em_min_emp = {p["em_min_emp"]:,.0f}): growth
  {r["emp_growth"]:.1%} against the reference's {r["reference_growth"]:.1%} in the cluster → excess
  {r["growth_excess"]:+.1%} > {p["em_min_growth_excess"]}
- → the stated rule flags it (**emerging_rule**); the emerging score gives it {score}
  (emerging_score = {r["emerging_score"]}).

## Does it predict? The stated rule against the emerging score

The **emerging score** is a logistic regression on what the literature finds predicts a region's
move into an activity (Hidalgo et al. 2007; Neffke, Henning & Boschma 2011): the percent ranks,
within region type × flag year, of the relatedness density of the flag year, the LQ trend over the
window, size, growth against the reference and the LQ already reached. Its weights for flag year
t are fitted only on earlier flag years whose outcome (strong within em_fit_horizon =
{p["em_fit_horizon"]} year) is observed by t; a flag year without such history has no score. The
score flags the top em_score_top_share = {p["em_score_top_share"]:.0%} of the region type × flag year.

Outcome: became strong within k years, among the region × traded clusters not strong at the flag
year. Pooled over the out-of-sample flag years (those with a score), the same rows for both; AUC by
the rank-sum formula (ties half; 0.5 = chance); lift = the flagged rows' rate over the rest's
(`emerging_backtest`, `eu_emerging_backtest`, columns *_oos):

| side | region type | k | rows | became strong | AUC rule | AUC score | lift rule | lift score |
|---|---|---|---|---|---|---|---|---|
{_evaluation_table(con)}

Published flag `emerging`: em_flag = '{p["em_flag"]}' — {p["em_flag_reason"]}. Of the score's
flags, {share} have an LQ at the flag year of at least em_max_lq = {p["em_max_lq"]}: they are clusters
near the strong line rather than rising from below it. The first flag year of each side has no
score and so no score flag. The stated rule stays published in `emerging_rule`.
"""


def diversification_example(con: duckdb.DuckDBPyConnection) -> str | None:
    """Related + unrelated variety of one US state, from its largest clusters' pieces."""
    r = fetch_one(
        con,
        "SELECT * FROM diversification WHERE region_type = 'state' AND total_entropy IS NOT NULL "
        "ORDER BY year DESC, region_emp DESC, region_code LIMIT 1",
    )
    if r is None:
        return None
    return f"""# Worked example: diversification of state {r["region_code"]}, {r["year"]}

From `diversification` (sql/families/diversification.sql). {r["n_industries"]:,} industry pieces (6-digit NAICS
× cluster) with employment, in {r["n_clusters"]} clusters, {r["region_emp"]:,.0f} jobs.

- total entropy −Σ p log2 p over the pieces: **{r["total_entropy"]:.4f}** bits
- unrelated variety −Σ P_c log2 P_c over the clusters: **{r["unrelated_variety"]:.4f}** bits
- related variety Σ P_c H_c (entropy within each cluster, weighted by its share): **{r["related_variety"]:.4f}** bits
- {r["unrelated_variety"]:.4f} + {r["related_variety"]:.4f} = {r["unrelated_variety"] + r["related_variety"]:.4f} = the total entropy
- Herfindahl Σ s_c² = **{r["herfindahl"]:.4f}** (1/67 ≈ 0.0149 would be an even spread)
- Krugman Σ |s_c − S_c| against the reference's structure = **{r["krugman_index"]:.4f}** (0 = same structure, 2 = disjoint)
"""


def links_example(con: duckdb.DuckDBPyConnection) -> str | None:
    """One US state's strong portfolio, its top diversification opportunity and the agreement."""
    r = fetch_one(
        con,
        "SELECT * FROM relatedness_density WHERE region_type = 'state' AND n_reference_related > 0 "
        "AND opportunity_rank IS NOT NULL "
        "ORDER BY year DESC, region_code, opportunity_rank, cluster_code LIMIT 1",
    )
    if r is None:
        return None
    k = {"y": r["year"], "r": r["region_code"], "t": r["region_type"], "c": r["cluster_code"]}
    phi = con.execute(
        "SELECT x.related_cluster_code, x.proximity, d.present FROM cluster_relatedness x "
        "JOIN relatedness_density d ON d.year = x.year AND d.region_type = $t AND d.region_code = $r "
        "AND d.cluster_code = x.related_cluster_code "
        "WHERE x.year = $y AND x.region_type = $t AND x.cluster_code = $c AND x.proximity > 0 "
        "ORDER BY x.proximity DESC, x.related_cluster_code LIMIT 8",  # ties in a fixed order
        k,
    ).fetchall()
    strong = fetch_one(
        con,
        "SELECT count(*) AS n, count(strong_related_clusters) AS linked FROM cluster_links "
        "WHERE year = $y AND region_type = $t AND region_code = $r AND strong",
        {x: k[x] for x in ("y", "t", "r")},
    )
    agr = fetch_one(
        con,
        "SELECT * FROM relatedness_agreement WHERE year = $y AND region_type = $t",
        {x: k[x] for x in ("y", "t")},
    )
    rows = "\n".join(f"| {_name(con, j)} | {p:.3f} | {'yes' if m else 'no'} |" for j, p, m in phi)
    auc = f"{agr['auc']:.3f}" if agr and agr["auc"] is not None else "n/a"
    prec = f"{agr['precision_at_k']:.3f}" if agr and agr["precision_at_k"] is not None else "n/a"
    return f"""# Worked example: relatedness density of {_name(con, r["cluster_code"])} in state {r["region_code"]}, {r["year"]}

State {r["region_code"]} has {strong["n"] if strong else 0} strong clusters in {r["year"]}, {strong["linked"] if strong else 0} of
them linked to another strong one by the reference relatedness (`cluster_links`).

{_name(con, r["cluster_code"])} is not strong there (LQ {r["lq"] if r["lq"] is not None else float("nan"):.3f}); among the
state's non-strong clusters the reference lists relations for, it has the highest relatedness
density: opportunity_rank {r["opportunity_rank"]} (`relatedness_density`). Density = Σ φ_ij M_j / Σ φ_ij, φ from the co-location of LQ ≥ 1 across the
states (`cluster_relatedness`); the most related clusters:

| related cluster j | φ_ij | held by the state (M_j) |
|---|---|---|
{rows}

Over all {r["n_related_present"]} held related clusters, density = **{r["density"]:.4f}**. By the
reference table it holds {r["n_reference_related_present"]} of {r["n_reference_related"]} related clusters
(reference_density {r["reference_density"] if r["reference_density"] is not None else float("nan"):.3f}).

Agreement of co-location relatedness with the reference among states in {r["year"]}
(`relatedness_agreement`): AUC {auc}, precision at k {prec}.
"""


def _has(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = $t AND column_name = $c",
        {"t": table, "c": column},
    ).fetchall()[0][0])


def ranking_note(con: duckdb.DuckDBPyConnection) -> str | None:
    """What each custom region (and EU country) is ranked among, its strong rows, and the EU cells
    the families leave out (issue 19)."""
    sides = [t for t in ("cluster_indicators", "eu_cluster_indicators") if _has(con, t, "ranked_among")]
    if not sides:
        return None
    rows, examples = [], []
    for t in sides:
        for r in con.execute(
            f"SELECT c.region_code, any_value(c.ranked_among) AS among, count(c.strong) AS flagged, "  # t: ours
            f"count(*) FILTER (WHERE c.strong) AS strong, min(c.year) AS y0, max(c.year) AS y1, "
            f"(SELECT count(DISTINCT p.region_code) FROM {t} AS p WHERE p.region_type = any_value(c.ranked_among) "
            f"AND p.year = max(c.year)) AS peers "
            f"FROM {t} AS c WHERE c.region_type = 'custom' GROUP BY c.region_code ORDER BY c.region_code"
        ).fetchall():
            rows.append((t, *r))
        if t == "eu_cluster_indicators":  # countries, one line: ranked among the reference countries
            r = con.execute(
                "SELECT 'all countries (nuts0)', 'nuts0', count(strong), count(*) FILTER (WHERE strong), "
                "min(year), max(year), count(DISTINCT region_code) FILTER (WHERE strong IS NOT NULL) "
                "FROM eu_cluster_indicators WHERE region_type = 'nuts0'"
            ).fetchall()[0]
            rows.append((t, *r))
        ex = fetch_one(
            con,
            f"SELECT region_code, cluster_code, year, lq, emp, ranked_among, emp_rank_col, lq_rank_col FROM ("
            f"SELECT *, {'emp_rank' if _has(con, t, 'emp_rank') else 'NULL'} AS emp_rank_col, "
            f"{'lq_rank' if _has(con, t, 'lq_rank') else 'NULL'} AS lq_rank_col FROM {t}) "
            f"WHERE region_type = 'custom' AND strong ORDER BY year DESC, emp DESC, region_code, cluster_code LIMIT 1",
        )
        if ex:
            ranks = f", emp_rank {ex['emp_rank_col']}, lq_rank {ex['lq_rank_col']}" if ex["emp_rank_col"] is not None else ""
            examples.append(
                f"- `{t}`: {ex['region_code']}, {_name(con, ex['cluster_code'])}, {ex['year']}: LQ {ex['lq']:.2f}, "
                f"{ex['emp']:,.0f} jobs{ranks} among the {ex['ranked_among']} regions → strong"
            )
    table = "\n".join(
        f"| `{t}` | {code} | {among or 'not ranked (unknown base type)'} | {peers:,} | {y0}–{y1} | {flagged:,} | {strong:,} |"
        for t, code, among, flagged, strong, y0, y1, peers in rows
    )
    left_out = ""
    if _has(con, "eu_cluster_indicators", "rank_exclusion"):
        excl = con.execute(
            "SELECT coalesce(rank_exclusion, 'no employment') AS why, count(*) FROM eu_cluster_indicators "
            "WHERE rank_exclusion IS NOT NULL OR emp IS NULL GROUP BY 1 ORDER BY 1"
        ).fetchall()
        left_out = (
            "\n\nThe EU family tables (diversification, links, φ, density, …) leave out the cells of "
            "`eu_cluster_indicators` that are not ranked (blocking check `eu_families`): "
            + "; ".join(f"{why}: {n:,} cells" for why, n in excl) + "."
        )
    return f"""# Ranking: what custom regions and countries are ranked among

A user-defined (custom) region is ranked among the regions of its members' type (`ranked_among`):
the strong rule's percentiles (LQ ≥ 75th, jobs and establishments > 25th) and, in the US, its
`emp_rank` / `lq_rank` come from their distribution in the same year and cluster; the peers'
own flags and ranks are theirs alone. EU countries (nuts0) are ranked among the reference countries.

| table | region | ranked among | peers (last year; countries: ranked ones, all years) | years | traded rows flagged | strong |
|---|---|---|---|---|---|---|
{table}

{chr(10).join(examples)}{left_out}
"""


NOTE_WRITERS = {
    "notes/shift_share_worked_example.md": shift_share_example,
    "notes/emerging_worked_example.md": emerging_example,
    "notes/diversification_worked_example.md": diversification_example,
    "notes/links_worked_example.md": links_example,
    "notes/ranking.md": ranking_note,
}


def write_family_notes(con: duckdb.DuckDBPyConnection, dest_dir: Path) -> dict[str, Path]:
    """The families' worked examples (US state rows, numbers read back from the tables); the
    keys are paths inside the release."""
    return write_notes(con, dest_dir, NOTE_WRITERS)


def write_notes(
    con: duckdb.DuckDBPyConnection, dest_dir: Path, writers: Mapping[str, Callable[[duckdb.DuckDBPyConnection], str | None]]
) -> dict[str, Path]:
    """Write each note whose writer returns text (None: the release has nothing for it); the keys
    are paths inside the release. Shared by the family and the series notes."""
    out: dict[str, Path] = {}
    for rel, writer in writers.items():
        text = writer(con)
        if text is None:
            continue
        path = dest_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        out[rel] = path
    return out
