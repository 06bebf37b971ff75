"""The data layer of the release page's profiles: one DuckDB connection over the release's Parquet
files, the region names, and the `cells` table (one row per side × region × cluster × year, US and
EU alike) that the region and cluster profiles read. Views prepare their JSON here in SQL; the page
embeds one small index plus one JSON block per region and per cluster, parsed only when shown.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import duckdb

from pipelines.sources import geometry

NEEDED = ("cluster_indicators", "clusters", "regions")
# packed blocks per region type: <script type="application/octet-stream" id="obs-r:state"> (profiles),
# id="obs-i:state" (the industry drill-down)
REGION_PREFIX, INDUSTRY_PREFIX = "obs-r:", "obs-i:"


def _parquet(folder: Path, table: str) -> str:
    return "read_parquet('" + str(folder / "data" / f"{table}.parquet").replace("'", "''") + "')"


def has(folder: Path, table: str) -> bool:
    """Whether the release carries `table`."""
    return (folder / "data" / f"{table}.parquet").exists()


def _geometry_names(folder: Path) -> list[tuple[str, str, str]]:
    """(region_type, code, name) of the NUTS regions named in the release's NUTS 2 geometry: the
    fallback for releases without the nuts_regions table."""
    _, _, name = geometry.FILES["nuts2"]
    path = folder / "geometry" / name
    if not path.exists():
        return []
    props = [f.get("properties") or {} for f in json.loads(path.read_text(encoding="utf-8")).get("features", [])]
    return [(f"nuts{len(str(p['id'])) - 2}", str(p["id"]), str(p["na"])) for p in props if p.get("id") and p.get("na")]


def _names(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """The view names(region_type, region_code, region_name): US regions, NUTS regions (the
    nuts_regions table, newest version first, else the map geometry) and custom groups."""
    con.execute("CREATE TABLE geo_names (region_type VARCHAR, region_code VARCHAR, region_name VARCHAR)")
    if has(folder, "nuts_regions"):
        con.execute(
            f"""INSERT INTO geo_names SELECT region_type, region_code, region_name FROM {_parquet(folder, "nuts_regions")}
                QUALIFY row_number() OVER (PARTITION BY region_type, region_code ORDER BY nuts_version DESC) = 1"""
        )
    else:
        rows = _geometry_names(folder)
        if rows:
            con.executemany("INSERT INTO geo_names VALUES (?, ?, ?)", rows)
    parts = [
        "SELECT region_type, region_code, region_name FROM regions",
        # the regions table calls BEA economic areas 'economic' (clustermapping.us), the indicators 'economic_area'
        "SELECT 'economic_area', region_code, region_name FROM regions WHERE region_type = 'economic'",
        "SELECT * FROM geo_names",
    ]
    if has(folder, "custom_regions"):
        parts.append(f"SELECT region_type, region_code, region_name FROM {_parquet(folder, 'custom_regions')}")
    con.execute(
        "CREATE TABLE names AS SELECT region_type, region_code, any_value(region_name) AS region_name FROM ("
        + " UNION ALL ".join(parts) + ") GROUP BY ALL"
    )  # fmt: skip


# the US national wage of a cluster-year: the sum over the first of these levels the year has
# (custom groups would double-count their members; a county run has no state rows)
NATIONAL_WAGE_LEVELS = ("state", "county", "msa")


def _cells(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """cells: side, region, cluster, year, emp, LQ, wage against the national / European level
    (US: the cluster's wage over all states, else all counties, else all MSAs — the most complete
    level of the year; EU: relative_wage), strong, stars (EU, Panorama), rank by LQ among the
    ranked regions of the same type (EU: `ranked`, so extra-regio rows are no peers; US:
    `ranked_among`, so a CBP statewide code is no peer) and the number of them ranked."""
    national = ", ".join(
        f"1000 * sum(payroll) FILTER (WHERE region_type = '{t}' AND wage IS NOT NULL) OVER w"
        f" / sum(emp_reported) FILTER (WHERE region_type = '{t}' AND wage IS NOT NULL) OVER w"
        for t in NATIONAL_WAGE_LEVELS
    )
    us = f"""SELECT 'us' AS side, region_type, region_code, cluster_code, cluster_type, year, emp, lq,
                   wage / coalesce({national}) AS wage_ratio,
                   strong, NULL::INTEGER AS stars, lq IS NOT NULL AND ranked_among IS NOT NULL AS ranked
            FROM cluster_indicators WINDOW w AS (PARTITION BY cluster_code, year)"""
    union = us
    if has(folder, "eu_cluster_indicators"):
        union += f""" UNION ALL SELECT 'eu', region_type, region_code, cluster_code, cluster_type, year, emp, lq,
                   relative_wage, strong, panorama_stars, coalesce(ranked, false) AND lq IS NOT NULL
            FROM {_parquet(folder, "eu_cluster_indicators")}
            QUALIFY row_number() OVER (PARTITION BY region_type, region_code, cluster_code, year ORDER BY ranked DESC NULLS LAST, nuts_version DESC) = 1"""
    con.execute(
        f"""CREATE TABLE cells AS SELECT *,
               CASE WHEN region_type <> 'custom' AND ranked
                    THEN rank() OVER (PARTITION BY side, region_type, cluster_code, year, ranked ORDER BY lq DESC) END AS lq_rank,
               CASE WHEN region_type <> 'custom'
                    THEN count(*) FILTER (WHERE ranked) OVER (PARTITION BY side, region_type, cluster_code, year) END AS peers
            FROM ({union})"""
    )


def _constant(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """constant: employment on one definition in every year (the release's cluster_timeseries,
    issue 19), the basis of growth rates that do not mix definition vintages; empty without it."""
    if has(folder, "cluster_timeseries"):
        con.execute(
            f"""CREATE TABLE constant AS SELECT side, region_type, region_code, cluster_code, year, emp
                FROM {_parquet(folder, "cluster_timeseries")}
                QUALIFY row_number() OVER (PARTITION BY side, region_type, region_code, cluster_code, year ORDER BY nuts_version DESC NULLS LAST) = 1"""
        )
    else:
        con.execute(
            "CREATE TABLE constant (side VARCHAR, region_type VARCHAR, region_code VARCHAR, cluster_code VARCHAR, year INTEGER, emp DOUBLE)"
        )


def connect(folder: Path) -> duckdb.DuckDBPyConnection | None:
    """A connection with views of the needed tables, `names`, `cells` and `constant`; None when the release
    lacks the tables the profiles need."""
    if not all(has(folder, t) for t in NEEDED):
        return None
    con = duckdb.connect()
    for t in NEEDED:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM {_parquet(folder, t)}")
    _names(con, folder)
    _cells(con, folder)
    _constant(con, folder)
    if con.execute("SELECT count(*) FROM cells").fetchall()[0][0] == 0:
        con.close()
        return None
    return con


def table(folder: Path, name: str) -> str:
    """SQL source of one release table (for views that read more than the common tables)."""
    return _parquet(folder, name)


def both_sides(folder: Path, name: str, columns: str = "*") -> str | None:
    """SQL source of a family table of both sides (`name` and eu_`name`, those the release carries)
    as one UNION ALL, or None when it carries neither."""
    parts = [f"SELECT {columns} FROM {table(folder, t)}" for t in (name, f"eu_{name}") if has(folder, t)]
    return " UNION ALL ".join(parts) if parts else None


def keyed_json(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> dict[str, str]:
    """{key: JSON text} from a query whose rows are (key, value): the value serialised by DuckDB."""
    return dict(con.execute(f"SELECT k, to_json(v)::VARCHAR FROM ({sql}) AS t(k, v) WHERE k IS NOT NULL", params or {}).fetchall())


def index(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The page index (parsed at load): regions with names, side and years with data; clusters
    with names and type; the default region and cluster (largest US traded employment)."""
    regions = con.execute(
        """SELECT c.region_type || '/' || c.region_code, coalesce(any_value(n.region_name), c.region_code), c.side,
                  list(DISTINCT c.year ORDER BY c.year) FILTER (WHERE c.emp IS NOT NULL)
           FROM cells c LEFT JOIN names n USING (region_type, region_code)
           GROUP BY c.side, c.region_type, c.region_code ORDER BY c.side DESC, c.region_type = 'custom', c.region_type, 2, 1"""
    ).fetchall()
    clusters = con.execute(
        """SELECT k.cluster_code, k.cluster_name, k.cluster_type FROM clusters k
           WHERE k.cluster_code IN (SELECT cluster_code FROM cells) ORDER BY k.cluster_type DESC, k.cluster_name"""
    ).fetchall()
    default = con.execute(
        """WITH t AS (SELECT region_type, region_code, cluster_code, emp FROM cells
                      WHERE side = 'us' AND cluster_type = 'traded' AND year = (SELECT max(year) FROM cells WHERE side = 'us'))
           SELECT (SELECT region_type || '/' || region_code FROM t WHERE region_type <> 'custom' GROUP BY ALL ORDER BY sum(emp) DESC LIMIT 1),
                  (SELECT cluster_code FROM t GROUP BY ALL ORDER BY sum(emp) DESC LIMIT 1)"""
    ).fetchall()[0]
    # peers: how many regions of a type were ranked by LQ per cluster and year ({type: [first year, {cluster: [n, ...]}]})
    peers = con.execute(
        """WITH p AS (SELECT region_type, cluster_code, year, any_value(peers) AS n FROM cells WHERE peers IS NOT NULL GROUP BY ALL),
                s AS (SELECT region_type, min(year) AS y0, max(year) AS y1 FROM p GROUP BY 1),
                g AS (SELECT k.region_type, k.cluster_code, s.y0, unnest(range(s.y0, s.y1 + 1)) AS year
                      FROM (SELECT DISTINCT region_type, cluster_code FROM p) k JOIN s USING (region_type)),
                c AS (SELECT g.region_type, g.cluster_code, any_value(g.y0) AS y0, list(p.n ORDER BY g.year) AS n
                      FROM g LEFT JOIN p USING (region_type, cluster_code, year) GROUP BY ALL)
           SELECT region_type, to_json([any_value(y0)::VARCHAR, to_json(map_from_entries(list((cluster_code, n) ORDER BY cluster_code))) ])::VARCHAR FROM c GROUP BY 1"""
    ).fetchall()
    return {
        "peers": {t: json.loads(v) for t, v in sorted(peers)},
        "regions": [list(r) for r in regions],
        "clusters": [list(c) for c in clusters],
        "defaultRegion": default[0] or (regions[0][0] if regions else None),
        "defaultCluster": default[1] or (clusters[0][0] if clusters else None),
    }


# zlib level of the page's embedded data: 6, not 9. On a 10-county-year release (88 MB of JSON)
# level 9 took 14.1 s for a 4 % smaller page (20.4 vs 21.2 MB); level 6 takes 4.4 s.
PAGE_GZIP_LEVEL = 6


def packed(text: str) -> str:
    """JSON text gzip-compressed (fixed mtime: the page is reproducible) and base64-encoded: about
    a third of the size; the browser inflates it with DecompressionStream, offline."""
    return base64.b64encode(gzip.compress(text.encode(), compresslevel=PAGE_GZIP_LEVEL, mtime=0)).decode()


def blocks_html(prefix: str, blocks: dict[str, dict[str, str]]) -> str:
    """One packed block per group (a region type): {key: part JSON text}; the browser inflates a
    block only when a region of its type (or a cluster profile) is shown."""
    out = []
    for group in sorted(blocks):
        body = "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in sorted(blocks[group].items())) + "}"
        out.append(f'<script type="application/octet-stream" id="{prefix}{group}" data-encoding="gzip+base64">{packed(body)}</script>')
    return "\n".join(out)


def json_script(element_id: str, data: Any) -> str:
    """A JSON block for the page (compact, safe inside <script>)."""
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'
