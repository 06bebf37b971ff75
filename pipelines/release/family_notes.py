"""Worked examples of the indicator families (issue 12), written to the release's notes/: one
US state row of each family, its numbers read back from the warehouse tables."""

from __future__ import annotations

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


def emerging_example(con: duckdb.DuckDBPyConnection) -> str | None:
    """One flagged emerging US state cluster, the rule checked step by step, and the backtest."""
    r = fetch_one(
        con,
        "SELECT * FROM emerging_clusters WHERE emerging AND region_type = 'state' "
        "AND emp_start >= $m ORDER BY window_end DESC, emp_end DESC, region_code, cluster_code LIMIT 1",
        {"m": FAMILY_PARAMS["em_min_emp"]},
    )
    bt = con.execute(
        "SELECT horizon_years, sum(n_flagged), sum(n_flagged_became_strong), sum(n_unflagged), "
        "sum(n_unflagged_became_strong), sum(n_unflagged_below), sum(n_unflagged_below_became_strong) "
        "FROM emerging_backtest WHERE region_type = 'state' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    if r is None:
        return None
    p = FAMILY_PARAMS
    lines = "\n".join(
        f"| {k} | {nf:,} | {nfs / nf:.1%} | {nu:,} | {nus / nu:.1%} | {nub:,} | {nubs / nub:.1%} |"
        for k, nf, nfs, nu, nus, nub, nubs in bt
        if nf and nu and nub
    )
    return f"""# Worked example: an emerging cluster — state {r["region_code"]}, {_name(con, r["cluster_code"])}, {r["window_start"]}→{r["window_end"]}

From `emerging_clusters` (sql/families/emerging.sql), default parameters:

- not strong in {r["window_end"]}: strong_end = {r["strong_end"]}
- LQ {r["lq_start"]:.3f} → {r["lq_end"]:.3f}: below em_max_lq = {p["em_max_lq"]} and rising by
  {r["lq_end"] / r["lq_start"] - 1:.1%} ≥ em_min_lq_rise = {p["em_min_lq_rise"]:.0%} → quadrant **{r["quadrant"]}**
- employment {r["emp_start"]:,.0f} → {r["emp_end"]:,.0f} (≥ em_min_emp = {p["em_min_emp"]:,.0f}): growth
  {r["emp_growth"]:.1%} against the reference's {r["reference_growth"]:.1%} in the cluster → excess
  {r["growth_excess"]:+.1%} > {p["em_min_growth_excess"]}
- → **emerging**

Does the rule work? `emerging_backtest`, all US state windows pooled: of the region × clusters
not strong at the flag year, the share strong within k years —

| k | flagged | flagged → strong | unflagged | unflagged → strong | unflagged below LQ {p["em_max_lq"]} | → strong |
|---|---|---|---|---|---|---|
{lines}

The unflagged include clusters already above LQ 1 that only miss the size rule; the fair
comparison is with the unflagged below LQ {p["em_max_lq"]} (lift_below).
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


NOTE_WRITERS = {
    "notes/shift_share_worked_example.md": shift_share_example,
    "notes/emerging_worked_example.md": emerging_example,
    "notes/diversification_worked_example.md": diversification_example,
    "notes/links_worked_example.md": links_example,
}


def write_family_notes(con: duckdb.DuckDBPyConnection, dest_dir: Path) -> dict[str, Path]:
    """The families' worked examples (US state rows, numbers read back from the tables); the
    keys are paths inside the release."""
    out: dict[str, Path] = {}
    for rel, writer in NOTE_WRITERS.items():
        text = writer(con)
        if text is None:
            continue
        path = dest_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        out[rel] = path
    return out
