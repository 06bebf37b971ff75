"""Choropleth maps on the release page: US states (counties, metro areas when the release has
them) and NUTS 2 regions, for a chosen cluster, year and measure, as static SVG.

The geometry travels with the release (`geometry/`, the upstream files byte for byte, listed in
the release's sources with their licences); at publish time it is decoded here into SVG path
strings for the regions that have data only, and embedded in the page with compact values, so the
page needs no network and no library to draw the maps.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.http import fetch
from pipelines.sources import geometry

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
GEOMETRY_DIR = "geometry"
# (id, label, table, region_type, geometry layer, measures: (column, label, divisor of the stored integers))
LAYERS: tuple[tuple[str, str, str, str, str, tuple[tuple[str, str, int], ...]], ...] = (
    ("us_state", "US states", "cluster_indicators", "state", "us_states",
     (("lq", "Location quotient", 100), ("emp", "Employment", 1), ("strong", "Strong clusters", 1))),
    ("us_county", "US counties", "cluster_indicators", "county", "us_counties",
     (("lq", "Location quotient", 100), ("emp", "Employment", 1), ("strong", "Strong clusters", 1))),
    ("us_msa", "US metro areas", "cluster_indicators", "msa", "us_counties",
     (("lq", "Location quotient", 100), ("emp", "Employment", 1), ("strong", "Strong clusters", 1))),
    ("eu_nuts2", "EU NUTS 2 regions", "eu_cluster_indicators", "nuts2", "nuts2",
     (("lq", "Location quotient", 100), ("emp", "Employment", 1), ("eco2011_stars", "Stars, European Cluster Observatory 2011", 1),
      ("panorama_stars", "Stars, European Observatory for Clusters (Panorama)", 1))),
)  # fmt: skip
UNITS = {"emp": "jobs / persons employed"}


def geometry_layers(settings: Settings) -> list[str]:
    """Geometry the release needs: states always, counties when county or MSA files are in the
    run, NUTS 2 with the European side."""
    out = ["us_states"]
    if {"county", "msa"} & set(settings.cbp_geos):
        out.append("us_counties")
    if settings.eurostat:
        out.append("nuts2")
    return out


def fetch_geometry(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    """Fetch the map geometry through the mirror/raw archive: (source records for the release's
    datapackage, {release path: archived file}). A missing file costs the maps, not the release:
    it is logged as a warning and the page says the map is unavailable."""

    sources: list[dict[str, Any]] = []
    files: dict[str, Path] = {}
    for layer in geometry_layers(settings):
        source_id, url, name = geometry.FILES[layer]
        try:
            raw = fetch(source_id, url, settings, validate=geometry.VALIDATORS[layer])
        except SourceError as exc:
            log.warning("map geometry %s unavailable, the release page will have no %s map: %s", source_id, layer, exc)
            continue
        sources.append(raw.source_record())
        files[f"{GEOMETRY_DIR}/{name}"] = raw.path
    return sources, files


def _shapes(
    folder: Path, layer: str, region_type: str, codes: set[str], con: duckdb.DuckDBPyConnection
) -> tuple[dict[str, tuple[str, str]], tuple[float, float, float, float]] | None:
    _, _, name = geometry.FILES[layer]
    path = folder / GEOMETRY_DIR / name
    if not path.exists():
        return None
    if layer == "nuts2":
        return geometry.geojson_shapes(path, codes)
    if layer == "us_states":
        return geometry.topojson_shapes(path, "states"), geometry.topojson_frame(path)
    counties = geometry.topojson_shapes(path, "counties")
    if region_type == "county":
        return counties, geometry.topojson_frame(path)
    members = folder / "data" / "region_members.parquet"
    if not members.exists():
        return None
    # a metro area is drawn as the union of its member counties' outlines (they tile it)
    rows = con.execute(
        "SELECT region_code, list(member_code ORDER BY member_code) FROM read_parquet($p) WHERE region_type = $t AND member_type = 'county' GROUP BY 1",
        {"p": str(members), "t": region_type},
    ).fetchall()
    names = _names(folder, con, region_type)
    out = {}
    for code, mem in rows:
        d = "".join(counties[m][1] for m in mem if m in counties)
        if d:
            out[code] = (names.get(code, code), d)
    return out, geometry.topojson_frame(path)


def _names(folder: Path, con: duckdb.DuckDBPyConnection, region_type: str) -> dict[str, str]:
    p = folder / "data" / "regions.parquet"
    if not p.exists():
        return {}
    return dict(con.execute("SELECT region_code, region_name FROM read_parquet($p) WHERE region_type = $t", {"p": str(p), "t": region_type}).fetchall())


def _dense(df: pl.DataFrame, col: str, div: int, n: tuple[int, int, int]) -> list:
    """cluster × year × region integers (value × div, rounded; None where null or absent)."""
    arr = np.full(n, np.nan)
    vals = df.get_column(col).cast(pl.Float64).to_numpy()
    arr[df["ci"].to_numpy(), df["yi"].to_numpy(), df["ri"].to_numpy()] = vals * div
    out = np.where(np.isnan(arr), None, np.rint(np.nan_to_num(arr)).astype(np.int64).astype(object))
    return out.tolist()


def _layer(
    folder: Path, spec: tuple, cix: dict[str, int], con: duckdb.DuckDBPyConnection
) -> dict[str, Any] | None:
    """One map layer of LAYERS with its regions' shapes and values; None without data or geometry."""
    lid, label, table, rtype, geo, measures = spec
    tp = folder / "data" / f"{table}.parquet"
    if not tp.exists():
        return None
    df = (
        pl.scan_parquet(tp)
        .filter((pl.col("region_type") == rtype) & (pl.col("cluster_type") == "traded"))
        .select("region_code", "cluster_code", "year", *(m[0] for m in measures))
        .collect()
    )
    if df.is_empty():
        return None
    codes = set(df["region_code"].unique().to_list())
    got = _shapes(folder, geo, rtype, codes, con)
    if not got:
        return None
    shapes, frame = got
    drawn = sorted(c for c in codes if c in shapes)
    if not drawn:
        return None
    years = sorted(df["year"].unique().to_list())
    lcl = sorted({cix[c] for c in df["cluster_code"].unique().to_list() if c in cix})
    lcix = {k: i for i, k in enumerate(lcl)}
    rix = {c: i for i, c in enumerate(drawn)}
    df = df.filter(pl.col("region_code").is_in(drawn) & pl.col("cluster_code").is_in(list(cix))).with_columns(
        ri=pl.col("region_code").replace_strict(rix, return_dtype=pl.Int64),
        ci=pl.col("cluster_code").replace_strict({c: lcix[cix[c]] for c in cix if cix[c] in lcix}, return_dtype=pl.Int64),
        yi=pl.col("year").replace_strict({y: i for i, y in enumerate(years)}, return_dtype=pl.Int64),
    )
    shape = (len(lcl), len(years), len(drawn))
    latest = df.filter(pl.col("yi") == len(years) - 1).group_by("ci").agg(pl.col("emp").sum()).sort("emp", descending=True)
    return {
        "id": lid,
        "label": label,
        "frame": [round(float(v), 1) for v in frame],
        "regions": [[c, shapes[c][0], shapes[c][1]] for c in drawn],
        "unmapped": len(codes) - len(drawn),
        "clusters": lcl,
        "defaultCluster": int(latest["ci"][0]) if latest.height else 0,
        "years": years,
        "measures": [list(m) for m in measures],
        "values": {m[0]: _dense(df, m[0], m[2], shape) for m in measures},
    }


def map_data(folder: Path) -> dict[str, Any] | None:
    """Compact JSON for the maps: clusters, and per layer with data and geometry: the regions'
    codes, names and SVG paths, years, measures and values per cluster × year × region."""
    data = folder / "data"
    clusters_p = data / "clusters.parquet"
    if not clusters_p.exists() or not (folder / GEOMETRY_DIR).is_dir():
        return None
    con = duckdb.connect()
    try:
        cl = pl.scan_parquet(clusters_p).select("cluster_code", "cluster_name").sort("cluster_name").collect()
        cix = {c: i for i, c in enumerate(cl["cluster_code"].to_list())}
        layers = [layer for spec in LAYERS if (layer := _layer(folder, spec, cix, con)) is not None]
    finally:
        con.close()
    if not layers:
        return None
    return {"clusters": cl.select("cluster_code", "cluster_name").rows(), "layers": layers, "units": UNITS}


def maps_html(folder: Path) -> str:
    """The page's Maps section body (controls, SVG holder, embedded data), or a note why not."""
    data = map_data(folder)
    if data is None:
        return '<p class="muted">No map: the release has no map geometry or no regional data to draw.</p>'
    # gzip (fixed mtime: the page is reproducible) + base64: ~3x smaller than the JSON; the
    # browser inflates it with DecompressionStream, offline.
    raw = json.dumps(data, separators=(",", ":")).encode()
    payload = base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode()
    return f"""<div class="controls"><label>Map <select id="map-layer"></select></label>
<label>Cluster <select id="map-cluster"></select></label><label>Year <select id="map-year"></select></label>
<label>Measure <select id="map-measure"></select></label></div>
<div id="map"></div><p id="map-info" class="muted"></p>
<p class="muted">Boundaries: U.S. Census Bureau (us-atlas, Albers USA); © EuroGeographics for the administrative
boundaries (Eurostat GISCO Nuts2json, NUTS 2021). Files in <code>{GEOMETRY_DIR}/</code>, listed under Sources.</p>
<script type="application/octet-stream" id="map-data" data-encoding="gzip+base64">{payload}</script>
<script>{(HERE / "maps.js").read_text()}</script>"""
