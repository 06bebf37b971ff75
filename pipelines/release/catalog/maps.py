"""Choropleth maps on the release page: US states (counties, metro areas and economic areas when
the release has them) and NUTS 0, 1 and 2 regions, for a chosen cluster, year and measure, as
static SVG. Each NUTS region is drawn with the geometry of its own NUTS version
(pipelines.release.catalog.nuts_shapes); regions the geometry cannot draw are listed by name.

The geometry travels with the release (`geometry/`, the upstream files byte for byte, listed in
the release's sources with their licences); at publish time it is decoded here into SVG path
strings for the regions that have data only, and embedded in the page with compact values, so the
page needs no network and no library to draw the maps.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.http import fetch
from pipelines.release.catalog.data import packed
from pipelines.release.catalog.nuts_shapes import Frame, NutsGeometry, unshaped_reason
from pipelines.sources import geometry

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
GEOMETRY_DIR = "geometry"
US_MEASURES = (("lq", "Location quotient", 100), ("emp", "Employment", 1), ("strong", "Strong clusters", 1))
EU_MEASURES = (
    ("lq", "Location quotient", 100), ("emp", "Employment", 1), ("eco2011_stars", "Stars, European Cluster Observatory 2011", 1),
    ("panorama_stars", "Stars, European Observatory for Clusters (Panorama)", 1),
)  # fmt: skip
# (id, label, table, region_type, geometry layer, measures: (column, label, divisor of the stored integers))
LAYERS: tuple[tuple[str, str, str, str, str, tuple[tuple[str, str, int], ...]], ...] = (
    ("us_state", "US states", "cluster_indicators", "state", "us_states", US_MEASURES),
    ("us_county", "US counties", "cluster_indicators", "county", "us_counties", US_MEASURES),
    ("us_msa", "US metro areas", "cluster_indicators", "msa", "us_counties", US_MEASURES),
    ("us_economic_area", "US economic areas", "cluster_indicators", "economic_area", "us_counties", US_MEASURES),
    ("eu_nuts0", "EU countries (NUTS 0)", "eu_cluster_indicators", "nuts0", "nuts", EU_MEASURES),
    ("eu_nuts1", "EU NUTS 1 regions", "eu_cluster_indicators", "nuts1", "nuts", EU_MEASURES),
    ("eu_nuts2", "EU NUTS 2 regions", "eu_cluster_indicators", "nuts2", "nuts", EU_MEASURES),
)
UNITS = {"emp": "jobs / persons employed"}


def geometry_layers(settings: Settings) -> list[str]:
    """Geometry the release needs: states always, counties when county or MSA files are in the
    run (counties also draw MSAs and economic areas), NUTS 0/1/2 of every version with the European side."""
    out = ["us_states"]
    if {"county", "msa"} & set(settings.cbp_geos):
        out.append("us_counties")
    if settings.eurostat:
        out.extend(geometry.NUTS_LAYERS.values())
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


# (region_code, nuts_version) → (name, SVG path d, how it was drawn); nuts_version "" for US regions
Shapes = dict[tuple[str, str], tuple[str, str, str]]


def _us_shapes(folder: Path, layer: str, region_type: str, con: duckdb.DuckDBPyConnection) -> tuple[Shapes, tuple[float, ...]] | None:
    _, _, name = geometry.FILES[layer]
    path = folder / GEOMETRY_DIR / name
    if not path.exists():
        return None
    if layer == "us_states":
        return {(c, ""): (n, d, "own") for c, (n, d) in geometry.topojson_shapes(path, "states").items()}, geometry.topojson_frame(path)
    counties = geometry.topojson_shapes(path, "counties")
    if region_type == "county":
        return {(c, ""): (n, d, "own") for c, (n, d) in counties.items()}, geometry.topojson_frame(path)
    members = folder / "data" / "region_members.parquet"
    if not members.exists():
        return None
    # a metro or economic area is drawn as the union of its member counties' outlines (they tile it)
    rows = con.execute(
        "SELECT region_code, list(member_code ORDER BY member_code) FROM read_parquet($p) WHERE region_type = $t AND member_type = 'county' GROUP BY 1",
        {"p": str(members), "t": region_type},
    ).fetchall()
    names = _us_names(folder, con, region_type)
    out: Shapes = {}
    for code, mem in rows:
        d = "".join(counties[m][1] for m in mem if m in counties)
        if d:
            out[(code, "")] = (names.get(code, code), d, "union")
    return out, geometry.topojson_frame(path)


def _us_names(folder: Path, con: duckdb.DuckDBPyConnection, region_type: str) -> dict[str, str]:
    p = folder / "data" / "regions.parquet"
    if not p.exists():
        return {}
    return dict(con.execute("SELECT region_code, region_name FROM read_parquet($p) WHERE region_type = $t", {"p": str(p), "t": region_type}).fetchall())


def nuts_names(folder: Path, con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """{(region_code, nuts_version): name} from the release's nuts_regions table."""
    p = folder / "data" / "nuts_regions.parquet"
    if not p.exists():
        return {}
    rows = con.execute("SELECT region_code, nuts_version, region_name FROM read_parquet($p) WHERE region_name IS NOT NULL", {"p": str(p)}).fetchall()
    return {(c, v): n for c, v, n in rows}


@dataclass
class EuMap:
    """What an EU map draws: shapes of the drawable regions, the unshaped ones with the reason,
    the shared frame (with the Canary Islands inset) and the countries' outlines as background."""

    shapes: Shapes
    unshaped: dict[tuple[str, str], str]
    frame: Frame
    background: str


def eu_shapes(nuts: NutsGeometry, keys: list[tuple[str, str]], names: dict[tuple[str, str], str], every: list[tuple[str, str]]) -> EuMap | None:
    """Each (region_code, nuts_version) drawn with the geometry of its own version (or as a union
    of whole regions, see nuts_shapes), in one frame fitted to `every` region of the release's EU
    tables (so all EU maps share it), over the outlines of their countries."""
    frame = nuts.frame(every)
    if frame is None:
        return None
    countries = {c[:2] for c, _ in every}
    shapes: Shapes = {}
    unshaped: dict[tuple[str, str], str] = {}
    for code, version in sorted(keys):  # a few hundred regions, never data rows
        got = nuts.rings(code, version)
        d = frame.d(got[0]) if got else ""
        if got and d:
            geo_name = nuts.files.get((len(code) - 2, version), {}).get(code, (code,))[0]
            shapes[(code, version)] = (names.get((code, version), geo_name), d, got[1])
        else:
            unshaped[(code, version)] = unshaped_reason(code, version)
    return EuMap(shapes, unshaped, frame, nuts.background(countries, frame))


def region_shapes(folder: Path, region_type: str, keys: list[tuple[str, str]] | None = None) -> dict[str, Any] | None:
    """SVG paths of one region type of a release, for a profile page or any other view.

    `region_type`: state, county, msa, economic_area (US; keys are (code, "")) or nuts0/nuts1/nuts2
    (EU; keys are (region_code, nuts_version) as in eu_cluster_indicators, default: all of that
    type in the table). Returns {"frame": [x, y, w, h], "regions": {code: {"name", "version", "d",
    "how"}}, "unshaped": {code: {"version", "name", "reason"}}, "background": d, "inset": [x, y, w, h]}
    — the same paths and frame as the page's maps (one SVG viewBox fits all regions of a side) —
    or None without geometry. For an EU code in two versions the key of "regions" is "code@version"."""
    con = duckdb.connect()
    try:
        if region_type.startswith("nuts"):
            got = _eu_for(folder, con, region_type, keys)
            if got is None:
                return None
            m, names = got
            frame = [0.0, 0.0, geometry.EU_WIDTH, m.frame.fit[4]]
            shapes, unshaped, background, inset = m.shapes, m.unshaped, m.background, m.frame.inset
        else:
            layer = "us_states" if region_type == "state" else "us_counties"
            us = _us_shapes(folder, layer, region_type, con)
            if us is None:
                return None
            shapes, frame = us[0], list(us[1])
            if keys is not None:
                shapes = {k: v for k, v in shapes.items() if k in set(keys)}
            unshaped, background, inset, names = {}, "", [], {}
    finally:
        con.close()
    codes = [c for c, _ in [*shapes, *unshaped]]

    def key(c: str, v: str) -> str:
        return c if codes.count(c) == 1 else f"{c}@{v}"

    return {
        "frame": [round(float(v), 1) for v in frame],
        "regions": {key(c, v): {"name": n, "version": v, "d": d, "how": how} for (c, v), (n, d, how) in shapes.items()},
        "unshaped": {key(c, v): {"version": v, "name": names.get((c, v), c), "reason": r} for (c, v), r in unshaped.items()},
        "background": background,
        "inset": inset,
    }


def _eu_for(folder: Path, con: duckdb.DuckDBPyConnection, region_type: str, keys: list[tuple[str, str]] | None) -> tuple[EuMap, dict] | None:
    tp = folder / "data" / "eu_cluster_indicators.parquet"
    if not (folder / GEOMETRY_DIR).is_dir() or not tp.exists():
        return None
    every = _eu_keys(tp)
    if keys is None:
        keys = [k for k in every if len(k[0]) - 2 == int(region_type[-1])]
    names = nuts_names(folder, con)
    m = eu_shapes(NutsGeometry(folder / GEOMETRY_DIR), list(keys), names, every)
    return (m, names) if m else None


def _eu_keys(table: Path) -> list[tuple[str, str]]:
    """(region_code, nuts_version) of every NUTS region of an EU indicator table."""
    df = pl.scan_parquet(table).filter(pl.col("region_type").str.starts_with("nuts")).select("region_code", "nuts_version").unique().collect()
    return sorted(df.rows())


def _dense(df: pl.DataFrame, col: str, div: int, n: tuple[int, int, int]) -> list:
    """cluster × year × region integers (value × div, rounded; None where null or absent)."""
    arr = np.full(n, np.nan)
    vals = df.get_column(col).cast(pl.Float64).to_numpy()
    arr[df["ci"].to_numpy(), df["yi"].to_numpy(), df["ri"].to_numpy()] = vals * div
    out = np.where(np.isnan(arr), None, np.rint(np.nan_to_num(arr)).astype(np.int64).astype(object))
    return out.tolist()


def _years_with_data(df: pl.DataFrame, index: str) -> dict[int, list[int]]:
    """{region index: year indices in which it has employment for some cluster}."""
    got = df.filter(pl.col("emp").is_not_null()).group_by(index).agg(pl.col("yi").unique().sort())
    return dict(zip(got[index].to_list(), got["yi"].to_list(), strict=True))


def _layer(folder: Path, spec: tuple, cix: dict[str, int], con: duckdb.DuckDBPyConnection, eu: tuple | None) -> dict[str, Any] | None:
    """One map layer of LAYERS with its regions' shapes and values; None without data or geometry."""
    lid, label, table, rtype, geo, measures = spec
    tp = folder / "data" / f"{table}.parquet"
    if not tp.exists() or (geo == "nuts" and eu is None):
        return None
    version = pl.col("nuts_version") if geo == "nuts" else pl.lit("")
    df = (
        pl.scan_parquet(tp)
        .filter((pl.col("region_type") == rtype) & (pl.col("cluster_type") == "traded"))
        .select("region_code", version.alias("version"), "cluster_code", "year", *(m[0] for m in measures))
        .collect()
    )
    if df.is_empty():
        return None
    keys = df.select("region_code", "version").unique().rows()
    if geo == "nuts":
        nuts, names, every = eu  # type: ignore[misc]
        m = eu_shapes(nuts, keys, names, every)
        if m is None:
            return None
        shapes, unshaped, frame = m.shapes, m.unshaped, (0.0, 0.0, geometry.EU_WIDTH, m.frame.fit[4])
        extra = {"ground": "eu", "byYear": True, "inset": m.frame.inset}
    else:
        got = _us_shapes(folder, geo, rtype, con)
        if not got:
            return None
        shapes, frame = got
        unshaped = {k: "no shape in the geometry" for k in keys if k not in shapes}
        # counties, metro and economic areas over the states' outlines (a base map, not "no data":
        # land outside every metro area is no region of the layer)
        extra = {"ground": "" if geo == "us_states" else "us", "byYear": False, "inset": []}
    drawn = sorted((k for k in keys if k in shapes), key=lambda k: (k[1], k[0]))  # older NUTS versions first
    if not drawn:
        return None
    years = sorted(df["year"].unique().to_list())
    lcl = sorted({cix[c] for c in df["cluster_code"].unique().to_list() if c in cix})
    lcix = {k: i for i, k in enumerate(lcl)}
    rix = {f"{c}|{v}": i for i, (c, v) in enumerate(drawn)}
    lost = sorted(unshaped)
    df = df.with_columns(rk=pl.concat_str("region_code", pl.lit("|"), "version"), yi=pl.col("year").replace_strict({y: i for i, y in enumerate(years)}, return_dtype=pl.Int64))
    present_lost = _years_with_data(df.filter(pl.col("rk").is_in([f"{c}|{v}" for c, v in lost])), "rk")
    df = df.filter(pl.col("rk").is_in(list(rix)) & pl.col("cluster_code").is_in(list(cix))).with_columns(
        ri=pl.col("rk").replace_strict(rix, return_dtype=pl.Int64),
        ci=pl.col("cluster_code").replace_strict({c: lcix[cix[c]] for c in cix if cix[c] in lcix}, return_dtype=pl.Int64),
    )
    shape = (len(lcl), len(years), len(drawn))
    present = _years_with_data(df, "ri")
    latest = df.filter(pl.col("yi") == len(years) - 1).group_by("ci").agg(pl.col("emp").sum()).sort("emp", descending=True)
    return {
        "id": lid,
        "label": label,
        "frame": [round(float(v), 1) for v in frame],
        "regions": [[c, shapes[(c, v)][0], shapes[(c, v)][1], v] for c, v in drawn],
        "present": [present.get(i, []) for i in range(len(drawn))],
        "unshaped": [[c, names_of(c, v, eu), v, unshaped[(c, v)], present_lost.get(f"{c}|{v}", [])] for c, v in lost],
        "unmapped": len(lost),
        **extra,
        "clusters": lcl,
        "defaultCluster": int(latest["ci"][0]) if latest.height else 0,
        "years": years,
        "measures": [list(m) for m in measures],
        "values": {m[0]: _dense(df, m[0], m[2], shape) for m in measures},
    }


def names_of(code: str, version: str, eu: tuple | None) -> str:
    return eu[1].get((code, version), code) if eu else code


def map_data(folder: Path) -> dict[str, Any] | None:
    """Compact JSON for the maps: clusters, and per layer with data and geometry: the regions'
    codes, names, SVG paths and NUTS versions, the years each has data, the regions without a
    shape (with the reason), years, measures and values per cluster × year × region; and the
    grounds the layers name: the EU countries' outlines ("no data" under the EU layers, which draw
    each year the regions with data in it) and the US states' outlines (a base map)."""
    data = folder / "data"
    clusters_p = data / "clusters.parquet"
    if not clusters_p.exists() or not (folder / GEOMETRY_DIR).is_dir():
        return None
    con = duckdb.connect()
    try:
        cl = pl.scan_parquet(clusters_p).select("cluster_code", "cluster_name").sort("cluster_name").collect()
        cix = {c: i for i, c in enumerate(cl["cluster_code"].to_list())}
        eu = None
        if (data / "eu_cluster_indicators.parquet").exists():
            eu = (NutsGeometry(folder / GEOMETRY_DIR), nuts_names(folder, con), _eu_keys(data / "eu_cluster_indicators.parquet"))
        layers = [layer for spec in LAYERS if (layer := _layer(folder, spec, cix, con, eu)) is not None]
        grounds: dict[str, dict[str, Any]] = {}
        if eu is not None and any(layer["ground"] == "eu" for layer in layers):
            # the countries' outlines, once for every EU layer (they share the frame): "no data"
            nuts, _, every = eu
            frame = nuts.frame(every)
            grounds["eu"] = {"d": nuts.background({c[:2] for c, _ in every}, frame) if frame else "", "nodata": True}
        counties = folder / GEOMETRY_DIR / geometry.FILES["us_counties"][2]
        if any(layer["ground"] == "us" for layer in layers) and counties.exists():
            # the states' outlines under county-based layers: a base map
            grounds["us"] = {"d": "".join(d for _, d in geometry.topojson_shapes(counties, "states").values()), "nodata": False}
    finally:
        con.close()
    if not layers:
        return None
    return {"clusters": cl.select("cluster_code", "cluster_name").rows(), "layers": layers, "grounds": grounds, "units": UNITS}


def maps_html(folder: Path) -> str:
    """The page's Maps section body (controls, SVG holder, embedded data), or a note why not."""
    data = map_data(folder)
    if data is None:
        return '<p class="muted">No map: the release has no map geometry or no regional data to draw.</p>'
    payload = packed(json.dumps(data, separators=(",", ":")))
    return f"""<div class="controls"><label>Map <select id="map-layer"></select></label>
<label>Cluster <select id="map-cluster"></select></label><label>Year <select id="map-year"></select></label>
<label>Measure <select id="map-measure"></select></label></div>
<div id="map"></div><p id="map-info" class="muted"></p><p id="map-unshaped" class="muted"></p>
<p class="muted">Boundaries: U.S. Census Bureau (us-atlas, Albers USA); © EuroGeographics for the administrative
boundaries (Eurostat GISCO Nuts2json 1:20M: NUTS 2 of 2013, 2016 and 2021, NUTS 1 and 0 of 2021). Each NUTS region
is drawn with the boundaries of its own NUTS version. Files in <code>{GEOMETRY_DIR}/</code>, listed under Sources.</p>
<script type="application/octet-stream" id="map-data" data-encoding="gzip+base64">{payload}</script>
<script>{(HERE / "maps.js").read_text()}</script>"""
