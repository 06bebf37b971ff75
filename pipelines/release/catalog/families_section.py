"""The indicator families' section of a release page: small static tables and bars, read from
the release's files."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import duckdb

from pipelines.release.family_notes import NOTE_WRITERS

TYPE_WORDS = {"state": "US states", "county": "US counties", "msa": "US metro areas", "economic_area": "US economic areas",
              "nuts0": "countries (NUTS 0)", "nuts1": "NUTS 1 regions", "nuts2": "NUTS 2 regions", "custom": "custom regions"}  # fmt: skip


def _html(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _bars(rows: list[tuple[str, float | None, float | None]], title: str) -> str:
    """Inline SVG: two bars per row (flagged rate, base rate below LQ 1)."""
    w, left, bar, gap = 540, 175, 9, 8
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


def _query(con: duckdb.DuckDBPyConnection, path: Path, sql: str) -> list[tuple] | None:
    """The rows of `sql` over one Parquet file of the release ($p); None when the file is absent."""
    if not path.exists():
        return None
    return con.execute(sql, {"p": str(path)}).fetchall()


def _backtest_bars(con: duckdb.DuckDBPyConnection, data: Path, prefix: str, side: str) -> str | None:
    """Bars per region type × horizon from <prefix>emerging_backtest, pooled over start years."""
    rows = _query(
        con,
        data / f"{prefix}emerging_backtest.parquet",
        "SELECT region_type, horizon_years, sum(n_flagged_became_strong) / nullif(sum(n_flagged), 0), "
        "sum(n_unflagged_below_became_strong) / nullif(sum(n_unflagged_below), 0) "
        "FROM read_parquet($p) WHERE region_type <> 'custom' GROUP BY ALL ORDER BY 1, 2",
    )
    if not rows:
        return None
    return _bars(
        [(f"{TYPE_WORDS.get(t, t)}, {k} yr", a, b) for t, k, a, b in rows],
        f"{side}: became strong within k years",
    )


def _agreement_table(con: duckdb.DuckDBPyConnection, data: Path, prefix: str, side: str) -> str | None:
    """Mean AUC and precision at k per region type from <prefix>relatedness_agreement."""
    rows = _query(
        con,
        data / f"{prefix}relatedness_agreement.parquet",
        "SELECT region_type, min(year), max(year), avg(auc), avg(precision_at_k) FROM read_parquet($p) "
        "GROUP BY 1 ORDER BY 1",
    )
    if rows is None:
        return None
    body = "".join(
        f"<tr><td>{_html(TYPE_WORDS.get(t, t))}</td><td>{a}–{b}</td><td class='num'>{auc:.3f}</td><td class='num'>{pk:.3f}</td></tr>"
        for t, a, b, auc, pk in rows
        if auc is not None and pk is not None
    )
    return (
        f"<p>{side}: co-location relatedness against the reference related clusters (mean over years)</p>"
        "<table><thead><tr><th>region type</th><th>years</th><th class='num'>AUC</th>"
        f"<th class='num'>precision at k</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _shift_share_table(con: duckdb.DuckDBPyConnection, data: Path) -> str | None:
    """The US shift-share of the largest region's five largest traded clusters (full window), by
    name where the release has the clusters and regions tables."""
    names = {"k": ("clusters", "cluster_code", "cluster_name"), "n": ("regions", "region_type, region_code", "region_name")}
    joins, cols = "", {}
    for alias, (t, key, col) in names.items():
        if (data / f"{t}.parquet").exists():
            joins += f" LEFT JOIN read_parquet('{str(data / (t + '.parquet')).replace(chr(39), chr(39) * 2)}') {alias} USING ({key})"
            cols[alias] = f"{alias}.{col}"
    rows = _query(
        con,
        data / "shift_share.parquet",
        "WITH f AS (SELECT * FROM read_parquet($p) WHERE window_kind = 'full' AND region_type <> 'custom'), "
        "r AS (SELECT region_type, region_code FROM f GROUP BY ALL ORDER BY sum(emp_start) DESC LIMIT 1) "
        f"SELECT f.region_type, coalesce({cols.get('n', 'NULL')}, f.region_code), coalesce({cols.get('k', 'NULL')}, f.cluster_code), "
        "f.window_start, f.window_end, f.emp_change, f.national_effect, f.mix_effect, f.competitive_effect, f.vintage_break "
        f"FROM f JOIN r USING (region_type, region_code){joins} WHERE f.cluster_type = 'traded' ORDER BY f.emp_start DESC LIMIT 5",
    )
    if not rows:
        return None
    body = "".join(
        f"<tr><td>{_html(c)}</td><td class='num'>{ch:+,.0f}</td><td class='num'>{n:+,.0f}</td>"
        f"<td class='num'>{m:+,.0f}</td><td class='num'>{k:+,.0f}</td><td>{'yes' if vb else 'no'}</td></tr>"
        for _, _, c, _, _, ch, n, m, k, vb in rows
    )
    t, r, _, a, b = rows[0][:5]
    return (
        f"<p>Shift-share, {_html(t)} {_html(r)} (largest), {a}→{b}, its five largest traded clusters: "
        "change = national growth effect + industry mix effect + competitive (regional) effect</p>"
        "<table><thead><tr><th>cluster</th><th class='num'>change</th><th class='num'>national growth</th>"
        "<th class='num'>industry mix</th><th class='num'>competitive</th><th>definition vintage break</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def release_page_html(folder: Path) -> str:
    """The families section of a release page: the emerging backtest (bars per horizon, pooled
    over start years), the agreement of co-location and reference relatedness, and the
    shift-share of the largest region's largest clusters. Empty when the tables are absent."""
    data = folder / "data"
    parts: list[str | None] = []
    con = duckdb.connect()
    try:
        for prefix, side in (("", "US"), ("eu_", "EU")):
            parts.append(_backtest_bars(con, data, prefix, side))
            parts.append(_agreement_table(con, data, prefix, side))
        parts.append(_shift_share_table(con, data))
    finally:
        con.close()
    found = [p for p in parts if p is not None]
    if not found:
        return ""
    notes = "".join(
        f'<a href="{_html(n)}">{_html(n)}</a> ' for n in NOTE_WRITERS if (folder / n).exists()
    )
    return (
        "<section id='families'><h2>Indicator families</h2>"
        + "".join(found)
        + (f"<p>Worked examples: {notes}</p>" if notes else "")
        + "</section>"
    )
