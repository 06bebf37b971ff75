"""The "Cluster profile" view and the industry drill-down of the region profile: per cluster its
definition (subclusters, the 6-digit NAICS industries of the definition vintage with titles, the
NACE codes apportioned to it with their weights) and its related clusters, as one packed block.
Its regional values come from the region blocks (region_profile.py), inflated when shown."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.release.catalog.data import has, keyed_json, packed, table

DEFINITIONS_ID = "obs-definitions"


def _vintage(con: duckdb.DuckDBPyConnection, folder: Path) -> str | None:
    """The NAICS vintage of the definition in the newest US year (cluster_indicators.definition_vintage)."""
    if not has(folder, "cluster_naics"):
        return None
    row = con.execute(
        "SELECT definition_vintage FROM cluster_indicators WHERE definition_vintage IS NOT NULL ORDER BY year DESC LIMIT 1"
    ).fetchall()
    return str(row[0][0]) if row else None


def definitions(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, dict[str, str]]:
    """{part: {cluster code: JSON}}: subclusters, NAICS industries (code, title, subcluster,
    weight), NACE codes (code, weight, method, share of EU employment apportioned) and related
    clusters (code, percentage related)."""
    out: dict[str, dict[str, str]] = {}
    vintage = _vintage(con, folder)
    if vintage and has(folder, "subclusters"):
        out["subclusters"] = keyed_json(
            con, f"SELECT cluster_code, list([sub_code, sub_name] ORDER BY sub_code) FROM {table(folder, 'subclusters')} GROUP BY 1"
        )
    if vintage:
        sub = (
            f"LEFT JOIN (SELECT naics, cluster_code, any_value(sub_code) AS sub_code FROM {table(folder, 'naics_subclusters')} GROUP BY ALL) s USING (naics, cluster_code)"
            if has(folder, "naics_subclusters") else "LEFT JOIN (SELECT NULL AS naics, NULL AS cluster_code, NULL AS sub_code) s USING (naics, cluster_code)"
        )  # fmt: skip
        out["naics"] = keyed_json(
            con,
            f"""SELECT cluster_code, {{vintage: $v, rows: list([naics, naics_title, coalesce(s.sub_code, ''), round(weight, 3)::VARCHAR] ORDER BY naics)}}
                FROM {table(folder, 'cluster_naics')} n {sub} WHERE n.naics_vintage = $v GROUP BY cluster_code""",
            {"v": vintage},
        )
    if has(folder, "nace_concordance_report"):
        out["nace"] = keyed_json(
            con,
            f"""SELECT cluster_code, {{year: any_value(year), rows: list([nace_code, round(weight, 3)::VARCHAR, method,
                       round(eu_emp)::BIGINT::VARCHAR] ORDER BY eu_emp DESC NULLS LAST, nace_code)}}
                FROM {table(folder, 'nace_concordance_report')}
                WHERE year = (SELECT max(year) FROM {table(folder, 'nace_concordance_report')}) GROUP BY cluster_code""",
        )
    if has(folder, "related_clusters"):
        out["related"] = keyed_json(
            con,
            f"""SELECT cluster_code, list([related_cluster_code, round(related_percentage, 1)::VARCHAR] ORDER BY related_percentage DESC, related_cluster_code)
                FROM {table(folder, 'related_clusters')} WHERE related_90 = 1 GROUP BY 1""",
        )
    return out


def definitions_html(con: duckdb.DuckDBPyConnection, folder: Path) -> str:
    """The packed definitions block: {part: {cluster code: value}}."""
    parts = definitions(con, folder)
    body = "{" + ",".join(f'"{p}":{{' + ",".join(f'"{k}":{v}' for k, v in sorted(rows.items())) + "}" for p, rows in parts.items()) + "}"
    return f'<script type="application/octet-stream" id="{DEFINITIONS_ID}" data-encoding="gzip+base64">{packed(body)}</script>'


def cluster_section() -> str:
    """The section's controls and holders; cluster_profile.js fills them."""
    return """<div class="controls"><label>Cluster <input id="cp-search" class="search" list="cp-names" placeholder="type a cluster name" autocomplete="off"></label>
<label>Year <select id="cp-year"></select></label>
<label>Side <select id="cp-side"><option value="us">United States</option><option value="eu">Europe</option></select></label></div>
<datalist id="cp-names"></datalist>
<div id="cp-body" class="profiles"></div>"""
