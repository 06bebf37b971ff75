"""The data behind the release page's charts: compact JSON extracted from the release with DuckDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from pipelines.sources import geometry

CHART_TABLES = ("cluster_indicators", "clusters", "regions")
TRADED_COLUMNS = "region_type, region_code, cluster_code, year, emp, lq"


def _nuts_names(folder: Path) -> list[tuple[str, str, str]]:
    """(region_type, code, name) of the NUTS regions named in the release's map geometry (NUTS 2021
    GeoJSON, properties id / na): the names of the NUTS 2 regions the EU charts show."""
    _, _, name = geometry.FILES["nuts2"]
    path = folder / "geometry" / name
    if not path.exists():
        return []
    feats = json.loads(path.read_text(encoding="utf-8")).get("features", [])
    props = [f.get("properties") or {} for f in feats]
    return [(f"nuts{len(str(p['id'])) - 2}", str(p["id"]), str(p["na"])) for p in props if p.get("id") and p.get("na")]


def _parquet(data: Path, table: str) -> str:
    """SQL reading one table of the release's data/ folder."""
    return "read_parquet('" + str(data / f"{table}.parquet").replace("'", "''") + "')"


def _load_traded(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Views of the chart tables, region_names (US regions, NUTS names from the map geometry,
    custom groups) and the table traded: side × traded-cluster rows of both indicator tables."""
    data = folder / "data"
    for t in CHART_TABLES:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM {_parquet(data, t)}")
    con.execute("CREATE TABLE nuts_names (region_type VARCHAR, region_code VARCHAR, region_name VARCHAR)")
    nuts = _nuts_names(folder)
    if nuts:
        con.executemany("INSERT INTO nuts_names VALUES (?, ?, ?)", nuts)
    names = "SELECT region_type, region_code, region_name FROM regions UNION ALL SELECT * FROM nuts_names"
    if (data / "custom_regions.parquet").exists():  # user-defined groups carry their own names
        names += f" UNION ALL SELECT region_type, region_code, region_name FROM {_parquet(data, 'custom_regions')}"
    con.execute(f"CREATE VIEW region_names AS {names}")
    cols = TRADED_COLUMNS
    union = f"SELECT 'us' AS side, {cols} FROM cluster_indicators WHERE cluster_type = 'traded'"
    if (data / "eu_cluster_indicators.parquet").exists():
        # one row per region × cluster × year (the primary key adds nuts_version: keep the newest)
        union += (
            f" UNION ALL SELECT 'eu', {cols} FROM {_parquet(data, 'eu_cluster_indicators')} WHERE cluster_type = 'traded'"
            " QUALIFY row_number() OVER (PARTITION BY region_type, region_code, cluster_code, year ORDER BY nuts_version DESC) = 1"
        )
    con.execute(f"CREATE TABLE traded AS {union}")


def _series(
    con: duckdb.DuckDBPyConnection, regions: list[tuple], clusters: list[tuple], years: list[int]
) -> tuple[list[int], list, list]:
    """(index in years of each region's first year, LQ, employment): region × cluster series from
    the region's first to its last year, None where absent."""
    span = {
        (side, rt, rc): (yix0, yix1)
        for side, rt, rc, yix0, yix1 in con.execute(
            "SELECT side, region_type, region_code, min(year), max(year) FROM traded GROUP BY 1, 2, 3"
        ).fetchall()
    }
    rix = {(r[0], r[1], r[2]): i for i, r in enumerate(regions)}
    cix = {c[0]: i for i, c in enumerate(clusters)}
    yix = {y: i for i, y in enumerate(years)}
    first = [yix[span[(r[0], r[1], r[2])][0]] for r in regions]  # series start at the region's first year
    lq: list[list[list[float | None] | None]] = [[None] * len(clusters) for _ in regions]
    emp: list[list[list[int | None] | None]] = [[None] * len(clusters) for _ in regions]
    for side, rt, rc, cc, y, e, q in con.execute(f"SELECT side, {TRADED_COLUMNS} FROM traded").fetchall():
        ri, ci = rix[(side, rt, rc)], cix[cc]
        if emp[ri][ci] is None:
            n = yix[span[(side, rt, rc)][1]] - first[ri] + 1
            emp[ri][ci] = [None] * n
            lq[ri][ci] = [None] * n
        k = yix[y] - first[ri]
        emp[ri][ci][k] = None if e is None else round(e)  # type: ignore[index]
        # 4 dp: the 2-dp labels are not double-rounded (3.1249 → 3.125 → 3.13)
        lq[ri][ci][k] = None if q is None else round(q, 4)  # type: ignore[index]
    return first, lq, emp


def chart_data(folder: Path) -> dict[str, Any] | None:
    """Compact JSON for the charts: regions (US, EU NUTS and custom, with names and side), traded
    clusters (with names), years, and LQ and employment per region × cluster × year (index arrays,
    null where absent). Clusters are the US benchmark definitions on both sides."""
    data = folder / "data"
    if not all((data / f"{t}.parquet").exists() for t in CHART_TABLES):
        return None
    con = duckdb.connect()
    try:
        _load_traded(con, folder)
        years = [r[0] for r in con.execute("SELECT DISTINCT year FROM traded ORDER BY 1").fetchall()]
        if not years:
            return None
        us_latest = con.execute("SELECT max(year) FROM traded WHERE side = 'us'").fetchall()[0][0] or years[-1]
        regions = con.execute(
            """SELECT t.side, t.region_type, t.region_code, coalesce(any_value(r.region_name), t.region_code) AS name,
                      sum(t.emp) FILTER (WHERE t.year = $y) AS traded
               FROM traded t LEFT JOIN region_names r USING (region_type, region_code)
               GROUP BY 1, 2, 3 ORDER BY t.side DESC, t.region_type = 'custom', 2, name, 3""",
            {"y": us_latest},
        ).fetchall()
        clusters = con.execute(
            """SELECT t.cluster_code, coalesce(any_value(k.cluster_name), t.cluster_code) AS name,
                      sum(t.emp) FILTER (WHERE t.year = $y AND t.side = 'us')
               FROM traded t LEFT JOIN clusters k USING (cluster_code) GROUP BY 1 ORDER BY name""",
            {"y": us_latest},
        ).fetchall()
        first, lq, emp = _series(con, regions, clusters, years)
    finally:
        con.close()
    us = [i for i, r in enumerate(regions) if r[0] == "us"] or list(range(len(regions)))
    biggest_region = max(us, key=lambda i: regions[i][4] or 0) if regions else 0
    biggest_cluster = max(range(len(clusters)), key=lambda i: clusters[i][2] or 0) if clusters else 0
    return {
        "years": years,
        # type, code, name, side (us / eu), index in years of the first value of its series
        "regions": [[r[1], r[2], r[3], r[0], first[i]] for i, r in enumerate(regions)],
        "clusters": [[c[0], c[1]] for c in clusters],
        "lq": lq,
        "emp": emp,
        "defaultRegion": biggest_region,
        "defaultCluster": biggest_cluster,
        "defaultYear": years.index(us_latest),
    }
