"""Indicator families beyond the anchors (issue 12): shift-share, emerging clusters and their
backtest, diversification, cluster-to-cluster links. One SQL file per family in sql/, run by
DuckDB on a common panel (sql/families/panel.sql) built from the published indicator table of
one side: US (cluster_indicators, with custom regions) or EU (eu_cluster_indicators, with custom
regions). The same rules run on both; EU tables carry the prefix ``eu_``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from pipelines.staging.eu_sbs import select_mapping_rows
from pipelines.warehouse.indicators import DEFAULT_PARAMS
from pipelines.warehouse.sql import SqlRunner, create_macros, fetch_frame, register_frame, row_count

Side = Literal["us", "eu"]
log = logging.getLogger(__name__)

# Named SQL parameters of the families, with their defaults; every release records the values.
FAMILY_PARAMS: dict[str, Any] = {
    # shift-share (sql/families/shift_share.sql)
    "ss_window_years": 5,
    # emerging clusters (sql/families/emerging.sql) and their backtest (sql/families/emerging_backtest.sql)
    "em_window_years": 5,
    "em_max_lq": 1.0,
    "em_min_lq_rise": 0.10,
    "em_min_growth_excess": 0.0,
    "em_min_emp": 250.0,
    "bt_max_horizon": 5,
    # co-location relatedness and density (sql/families/cluster_relatedness.sql, sql/families/relatedness_density.sql)
    "rel_min_lq": 1.0,
}

# The family statements (sql/families/): the indicator rules' parameters and the families' own.
FAMILY_SQL = SqlRunner({**DEFAULT_PARAMS, **FAMILY_PARAMS}, "indicator family")

# Stable columns of the source tables the families read (see sql/families/panel.sql).
SOURCE_COLUMNS = (
    "year",
    "region_type",
    "region_code",
    "cluster_code",
    "cluster_type",
    "emp",
    "lq",
    "strong",
    "est",
    "definition_vintage",
)
# Columns a source may lack: strong (EU before the US rule was applied, supplied totals) and
# definition_vintage (EU rows are NACE Rev.2 throughout; supplied totals may not say).
OPTIONAL_COLUMNS = {"strong": "BOOLEAN", "definition_vintage": "VARCHAR"}
SOURCE_TABLES: dict[Side, str] = {"us": "cluster_indicators", "eu": "eu_cluster_indicators"}
PREFIX: dict[Side, str] = {"us": "", "eu": "eu_"}
# family table (US name) → its SQL file in sql/
FAMILY_TABLES: dict[str, str] = {
    "shift_share": "families/shift_share",
    "emerging_clusters": "families/emerging",
    "emerging_backtest": "families/emerging_backtest",
    "diversification": "families/diversification",
    "cluster_links": "families/cluster_links",
    "cluster_relatedness": "families/cluster_relatedness",
    "relatedness_density": "families/relatedness_density",
    "relatedness_agreement": "families/relatedness_agreement",
}


def family_table_names(side: Side) -> list[str]:
    """Published names of the family tables of one side (e.g. shift_share, eu_shift_share)."""
    return [PREFIX[side] + t for t in FAMILY_TABLES]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }


def build_panel(
    con: duckdb.DuckDBPyConnection, side: Side, params: Mapping[str, Any] | None = None
) -> int:
    """TEMP table family_panel from the side's indicator table (stable columns only)."""
    source = SOURCE_TABLES[side]
    if source not in _tables(con):
        raise ValueError(f"indicator families ({side}): table {source} is not in the warehouse")
    cols = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $t", {"t": source}
    ).fetchall()
    present = {c[0] for c in cols}
    select = ", ".join(
        c if c in present else f"CAST(NULL AS {OPTIONAL_COLUMNS[c]}) AS {c}"
        for c in SOURCE_COLUMNS
        if c in present or c in OPTIONAL_COLUMNS
    )
    missing = [c for c in SOURCE_COLUMNS if c not in present and c not in OPTIONAL_COLUMNS]
    if missing:
        raise ValueError(f"indicator families ({side}): {source} lacks columns {missing}")
    create_macros(con)
    con.execute(f"CREATE OR REPLACE TEMP VIEW family_source AS SELECT {select} FROM {source}")
    return FAMILY_SQL.create_table(
        con, "family_panel", "families/panel", params, temp=True,
        computed={"side": side, "has_strong": "strong" in present},
    )


def build_industry_pieces(con: duckdb.DuckDBPyConnection, side: Side) -> int:
    """TEMP table family_industry (year, region_type, region_code, industry_code, cluster_code,
    emp): the industry pieces behind the cluster totals, for the diversification family.
    US: sql/families/industry_us.sql; EU: the NACE rows the EU cluster totals are apportioned from
    (pipelines.staging.eu_sbs.select_mapping_rows) × the NACE → cluster weights."""
    need = {
        "us": ["industry_employment", "cluster_naics", "custom_regions"],
        "eu": ["eu_industry_employment", "nace_cluster_concordance"],
    }[side]
    missing = [t for t in need if t not in _tables(con)]
    if missing:
        raise ValueError(f"indicator families ({side}): diversification needs tables {missing}")
    if side == "us":
        FAMILY_SQL.create_table(con, "family_industry", "families/industry_us", temp=True)
    else:
        ind = fetch_frame(
            con,
            "SELECT year, region_type, region_code, nuts_version, source_id, classification, industry_code, "
            "industry_level, emp FROM eu_industry_employment WHERE classification = 'NACE_R2' AND industry_level IN (2, 3)",
        )
        conc = fetch_frame(
            con,
            "SELECT nace_code AS industry_code, cluster_code, weight FROM nace_cluster_concordance",
        )
        pieces = (
            select_mapping_rows(ind.lazy())
            .join(conc.lazy(), on="industry_code", how="inner")
            .select(
                pl.col("year").cast(pl.Int32),
                "region_type",
                "region_code",
                "industry_code",
                "cluster_code",
                (pl.col("emp").cast(pl.Float64) * pl.col("weight")).alias("emp"),
            )
            .collect()
        )
        register_frame(con, "family_industry_src", pieces)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE family_industry AS SELECT * FROM family_industry_src"
        )
        con.execute("DROP TABLE family_industry_src")
    return row_count(con, "family_industry")


def build_families(
    con: duckdb.DuckDBPyConnection, side: Side, params: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Create every family table of one side in `con`; returns their row counts."""
    if "related_clusters" not in _tables(con):
        raise ValueError(
            f"indicator families ({side}): the reference table related_clusters is not in the warehouse"
        )
    build_panel(con, side, params)
    build_industry_pieces(con, side)
    counts: dict[str, int] = {}
    for table, sql_name in FAMILY_TABLES.items():
        started = time.perf_counter()
        name = PREFIX[side] + table
        counts[name] = FAMILY_SQL.create_table(con, name, sql_name, params)
        log.info("family %s: %s rows (%.1fs)", name, f"{counts[name]:,}", time.perf_counter() - started)
        # later families read earlier ones under a side-independent name (family_<table>)
        con.execute(f"CREATE OR REPLACE TEMP VIEW family_{table} AS SELECT * FROM {name}")
    return counts


def release_tables(con: duckdb.DuckDBPyConnection, *sides: Side | None) -> list[str]:
    """Family tables of the given sides to publish; an indicator table without its family
    tables (a warehouse built before issue 12) is an error, not a silently thinner release."""
    present = _tables(con)
    names: list[str] = []
    for side in sides:
        if side is None:
            continue
        wanted = family_table_names(side)
        missing = [n for n in wanted if n not in present]
        if missing:
            raise ValueError(
                f"indicator families ({side}): tables {missing} are not in the warehouse; "
                "rebuild the indicators (observatory refresh --sources publish)"
            )
        names += wanted
    return names


# --------------------------------------------------------------------------------------------
# worked examples (release notes/)


def _one(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None = None
) -> dict | None:
    cur = con.execute(sql, dict(params or {}))
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else None


def _name(con: duckdb.DuckDBPyConnection, code: str) -> str:
    row = _one(con, "SELECT cluster_name FROM clusters WHERE cluster_code = $c", {"c": code})
    return f"{row['cluster_name']} ({code})" if row else f"cluster {code}"


def shift_share_example(con: duckdb.DuckDBPyConnection) -> str | None:
    """The largest traded cluster of the largest US state over the full window, decomposed."""
    r = _one(
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
vintage_break = {r["vintage_break"]}: {"the window spans a change of the NAICS cluster definitions (2003, 2008, … in sql/common/macros.sql), so part of the change may be definitional — every US window of the 2000–2011 panel does" if r["vintage_break"] else "one definition vintage throughout"}.
"""


def emerging_example(con: duckdb.DuckDBPyConnection) -> str | None:
    """One flagged emerging US state cluster, the rule checked step by step, and the backtest."""
    r = _one(
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
    r = _one(
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
    r = _one(
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
        "ORDER BY x.proximity DESC LIMIT 8",
        k,
    ).fetchall()
    strong = _one(
        con,
        "SELECT count(*) AS n, count(strong_related_clusters) AS linked FROM cluster_links "
        "WHERE year = $y AND region_type = $t AND region_code = $r AND strong",
        {x: k[x] for x in ("y", "t", "r")},
    )
    agr = _one(
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


# --------------------------------------------------------------------------------------------
# release page (pipelines/release/catalog): small static tables and bars, read from the release's files


def _html(v: Any) -> str:
    import html

    return html.escape(str(v), quote=True)


def _bars(rows: list[tuple[str, float | None, float | None]], title: str) -> str:
    """Inline SVG: two bars per row (flagged rate, base rate below LQ 1)."""
    w, left, bar, gap = 520, 150, 9, 8
    vals = [v for _, a, b in rows for v in (a, b) if v is not None] or [1.0]
    top = max(vals) or 1.0
    h = 24 + len(rows) * (2 * bar + gap)
    out = [
        f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" class="chart" aria-label="{_html(title)}">',
        f'<text x="0" y="14" font-size="12">{_html(title)} — dark: flagged emerging, light: unflagged below LQ 1</text>',
    ]
    y = 24
    for label, a, b in rows:
        out.append(f'<text x="0" y="{y + bar + 3}" font-size="11">{_html(label)}</text>')
        for k, (v, color) in enumerate(((a, "#1f5f8b"), (b, "#9cc3de"))):
            width = 0 if v is None else (w - left - 60) * v / top
            yy = y + k * bar
            out.append(
                f'<rect x="{left}" y="{yy}" width="{width:.1f}" height="{bar - 1}" fill="{color}"><title>{"n/a" if v is None else f"{v:.1%}"}</title></rect>'
            )
            out.append(
                f'<text x="{left + width + 4:.1f}" y="{yy + bar - 1}" font-size="10">{"n/a" if v is None else f"{v:.1%}"}</text>'
            )
        y += 2 * bar + gap
    out.append("</svg>")
    return "".join(out)


def release_page_html(folder: Path) -> str:
    """The families section of a release page: the emerging backtest (bars per horizon, pooled
    over start years), the agreement of co-location and reference relatedness, and the
    shift-share of the largest region's largest clusters. Empty when the tables are absent."""
    data = folder / "data"
    parts: list[str] = []
    con = duckdb.connect()
    try:
        for prefix, side in (("", "US"), ("eu_", "EU")):
            bt = data / f"{prefix}emerging_backtest.parquet"
            if bt.exists():
                rows = con.execute(
                    "SELECT region_type, horizon_years, sum(n_flagged_became_strong) / nullif(sum(n_flagged), 0), "
                    "sum(n_unflagged_below_became_strong) / nullif(sum(n_unflagged_below), 0) "
                    "FROM read_parquet($p) WHERE region_type <> 'custom' GROUP BY ALL ORDER BY 1, 2",
                    {"p": str(bt)},
                ).fetchall()
                if rows:
                    parts.append(
                        _bars(
                            [(f"{t} k={k}", a, b) for t, k, a, b in rows],
                            f"{side}: became strong within k years",
                        )
                    )
            ag = data / f"{prefix}relatedness_agreement.parquet"
            if ag.exists():
                rows = con.execute(
                    "SELECT region_type, min(year), max(year), avg(auc), avg(precision_at_k) FROM read_parquet($p) "
                    "GROUP BY 1 ORDER BY 1",
                    {"p": str(ag)},
                ).fetchall()
                body = "".join(
                    f"<tr><td>{_html(t)}</td><td>{a}–{b}</td><td class='num'>{auc:.3f}</td><td class='num'>{pk:.3f}</td></tr>"
                    for t, a, b, auc, pk in rows
                    if auc is not None and pk is not None
                )
                parts.append(
                    f"<p>{side}: co-location relatedness against the reference related clusters (mean over years)</p>"
                    "<table><thead><tr><th>region type</th><th>years</th><th class='num'>AUC</th>"
                    f"<th class='num'>precision at k</th></tr></thead><tbody>{body}</tbody></table>"
                )
        ss = data / "shift_share.parquet"
        if ss.exists():
            rows = con.execute(
                "WITH f AS (SELECT * FROM read_parquet($p) WHERE window_kind = 'full' AND region_type <> 'custom'), "
                "r AS (SELECT region_type, region_code FROM f GROUP BY ALL ORDER BY sum(emp_start) DESC LIMIT 1) "
                "SELECT f.region_type, f.region_code, f.cluster_code, f.window_start, f.window_end, f.emp_change, "
                "f.national_effect, f.mix_effect, f.competitive_effect, f.vintage_break FROM f JOIN r USING (region_type, region_code) "
                "WHERE f.cluster_type = 'traded' ORDER BY f.emp_start DESC LIMIT 5",
                {"p": str(ss)},
            ).fetchall()
            body = "".join(
                f"<tr><td>{_html(c)}</td><td class='num'>{ch:+,.0f}</td><td class='num'>{n:+,.0f}</td>"
                f"<td class='num'>{m:+,.0f}</td><td class='num'>{k:+,.0f}</td><td>{'yes' if vb else 'no'}</td></tr>"
                for _, _, c, _, _, ch, n, m, k, vb in rows
            )
            if rows:
                t, r, _, a, b = rows[0][:5]
                parts.append(
                    f"<p>Shift-share, {_html(t)} {_html(r)} (largest), {a}→{b}, its five largest traded clusters</p>"
                    "<table><thead><tr><th>cluster</th><th class='num'>change</th><th class='num'>national</th>"
                    "<th class='num'>mix</th><th class='num'>competitive</th><th>vintage break</th></tr></thead>"
                    f"<tbody>{body}</tbody></table>"
                )
    finally:
        con.close()
    if not parts:
        return ""
    notes = "".join(
        f'<a href="{_html(n)}">{_html(n)}</a> ' for n in NOTE_WRITERS if (folder / n).exists()
    )
    return (
        "<section id='families'><h2>Indicator families</h2>"
        + "".join(parts)
        + (f"<p>Worked examples: {notes}</p>" if notes else "")
        + "</section>"
    )
