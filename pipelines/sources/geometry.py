"""Map geometry for the release page: us-atlas TopoJSON (already projected to Albers USA in a
975×610 pixel frame) and Eurostat GISCO Nuts2json GeoJSON (NUTS 2 of the 2013, 2016 and 2021
versions, NUTS 1 and NUTS 0 of 2021; all EPSG:3035 metres in one frame, so regions of different
versions can be drawn on one map).

URLs, content checks and parsing into SVG path strings only; fetching goes through
`pipelines.raw.http.fetch` (mirror, raw archive). No projection library is needed: us-atlas is
pre-projected, and EPSG:3035 is an equal-area plane already, so a linear fit of the bounding box
of the drawn regions into the SVG frame (y flipped) draws it faithfully.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import SourceError

US_ATLAS = "https://cdn.jsdelivr.net/npm/us-atlas@3.0.1/"
NUTS2JSON_ROOT = "https://raw.githubusercontent.com/eurostat/Nuts2json/master/pub/v2/"
NUTS2JSON = NUTS2JSON_ROOT + "2021/3035/20M/"


def _nuts2json(version: str, level: int, name: str) -> tuple[str, str, str]:
    return (f"geometry/nuts2json/{version}/nutsrg_{level}", f"{NUTS2JSON_ROOT}{version}/3035/20M/nutsrg_{level}.json", name)


# layer → (source id, upstream URL, file name in the release's geometry/ folder)
FILES: dict[str, tuple[str, str, str]] = {
    "us_states": ("geometry/us-atlas/states-albers-10m", US_ATLAS + "states-albers-10m.json", "states-albers-10m.json"),
    "us_counties": ("geometry/us-atlas/counties-albers-10m", US_ATLAS + "counties-albers-10m.json", "counties-albers-10m.json"),
    "nuts2": _nuts2json("2021", 2, "nutsrg_2.json"),
    "nuts2_2016": _nuts2json("2016", 2, "nutsrg_2_2016.json"),
    "nuts2_2013": _nuts2json("2013", 2, "nutsrg_2_2013.json"),
    "nuts1": _nuts2json("2021", 1, "nutsrg_1.json"),
    "nuts0": _nuts2json("2021", 0, "nutsrg_0.json"),
}
# (NUTS level, NUTS version) → FILES layer: the geometry of each version the mirror carries
NUTS_LAYERS: dict[tuple[int, str], str] = {
    (2, "2021"): "nuts2", (2, "2016"): "nuts2_2016", (2, "2013"): "nuts2_2013", (1, "2021"): "nuts1", (0, "2021"): "nuts0",
}  # fmt: skip
US_FRAME = (0.0, 0.0, 975.0, 610.0)  # us-atlas *-albers-10m: pixels (x, y, width, height)
EU_WIDTH = 800.0  # SVG width of the NUTS map; height follows the drawn regions' aspect


def _load(path: Path, source_id: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(source_id, str(path), f"not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SourceError(source_id, str(path), "top level is not a JSON object")
    return data


def validate_topojson(path: Path) -> None:
    """A TopoJSON Topology with arcs and objects (raises SourceError naming the file)."""
    data = _load(path, "geometry/us-atlas")
    if data.get("type") != "Topology" or not isinstance(data.get("arcs"), list) or not isinstance(data.get("objects"), dict):
        raise SourceError("geometry/us-atlas", str(path), f"not a TopoJSON Topology (type={data.get('type')!r}, keys={sorted(data)[:6]})")


def validate_geojson(path: Path) -> None:
    """A GeoJSON FeatureCollection whose features carry properties.id (raises SourceError)."""
    data = _load(path, "geometry/nuts2json")
    feats = data.get("features")
    if data.get("type") != "FeatureCollection" or not isinstance(feats, list) or not feats:
        raise SourceError("geometry/nuts2json", str(path), f"not a GeoJSON FeatureCollection (type={data.get('type')!r})")
    bad = [i for i, f in enumerate(feats) if not (f.get("properties") or {}).get("id") or not f.get("geometry")]
    if bad:
        raise SourceError("geometry/nuts2json", str(path), f"features without properties.id or geometry at positions {bad[:10]}")


VALIDATORS = {"us_states": validate_topojson, "us_counties": validate_topojson, **{layer: validate_geojson for layer in NUTS_LAYERS.values()}}


def _ring_d(points: np.ndarray) -> str:
    """'Mx,y x,y …Z' with one decimal (sub-pixel), consecutive duplicates dropped."""
    pts = np.round(points, 1)
    if len(pts) > 1:
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
        pts = pts[keep]
    if len(pts) < 3:
        return ""
    return "M" + " ".join(f"{x:g},{y:g}" for x, y in pts.tolist()) + "Z"


def _decode_arcs(topo: dict[str, Any]) -> list[np.ndarray]:
    """Absolute arc coordinates: delta-decoded and de-quantized when the topology has a transform."""
    tr = topo.get("transform")
    out = []
    for arc in topo["arcs"]:
        a = np.asarray(arc, dtype=float)[:, :2]
        if tr:
            a = np.cumsum(a, axis=0) * np.asarray(tr["scale"], dtype=float) + np.asarray(tr["translate"], dtype=float)
        out.append(a)
    return out


def _ring(arcs: list[np.ndarray], indices: list[int]) -> np.ndarray:
    parts = []
    for k, i in enumerate(indices):
        a = arcs[i] if i >= 0 else arcs[~i][::-1]  # negative index ~i: arc i reversed
        parts.append(a if k == 0 else a[1:])  # consecutive arcs share their end point
    return np.concatenate(parts) if parts else np.empty((0, 2))


def topojson_frame(path: Path, source_id: str = "geometry/us-atlas") -> tuple[float, float, float, float]:
    """(x, y, width, height) to draw a projected topology in: its bbox (Alaska's Aleutians reach
    west of the nominal 975×610 frame), else the nominal frame."""
    bbox = _load(path, source_id).get("bbox")
    if isinstance(bbox, list) and len(bbox) == 4:
        x0, y0, x1, y1 = (float(v) for v in bbox)
        return (x0, y0, x1 - x0, y1 - y0)
    return US_FRAME


def topojson_shapes(path: Path, object_name: str, source_id: str = "geometry/us-atlas") -> dict[str, tuple[str, str]]:
    """{id: (name, SVG path d)} for every Polygon/MultiPolygon geometry of one TopoJSON object,
    in the topology's own (already projected) frame."""
    topo = _load(path, source_id)
    obj = (topo.get("objects") or {}).get(object_name)
    if not obj or "arcs" not in topo:
        raise SourceError(source_id, str(path), f"no TopoJSON object {object_name!r} (objects: {sorted(topo.get('objects') or {})})")
    arcs = _decode_arcs(topo)
    shapes: dict[str, tuple[str, str]] = {}
    for g in obj.get("geometries", []):
        polys = g.get("arcs") or []
        if g.get("type") == "Polygon":
            polys = [polys]
        elif g.get("type") != "MultiPolygon":
            continue
        try:
            d = "".join(_ring_d(_ring(arcs, ring)) for poly in polys for ring in poly)
        except IndexError as exc:
            raise SourceError(source_id, str(path), f"geometry {g.get('id')!r} refers to a missing arc") from exc
        if g.get("id") is not None and d:
            shapes[str(g["id"])] = (str((g.get("properties") or {}).get("name") or g["id"]), d)
    return shapes


def _polygons(geom: dict[str, Any]) -> list[list[list[list[float]]]]:
    if geom.get("type") == "Polygon":
        return [geom["coordinates"]]
    if geom.get("type") == "MultiPolygon":
        return geom["coordinates"]
    return []


def geojson_rings(path: Path, codes: set[str] | None = None, source_id: str = "geometry/nuts2json") -> dict[str, tuple[str, list[np.ndarray]]]:
    """{id: (name, rings in the file's planar metres)} for the features whose properties.id is in
    `codes` (all when None); unprojected, so features of several files can share one frame."""
    data = _load(path, source_id)
    feats = [f for f in data.get("features", []) if codes is None or str((f.get("properties") or {}).get("id")) in codes]
    return {
        str(f["properties"]["id"]): (str(f["properties"].get("na") or f["properties"]["id"]), [np.asarray(r, dtype=float)[:, :2] for p in _polygons(f["geometry"]) for r in p])
        for f in feats
    }


def planar_fit(bbox: tuple[float, float, float, float], width: float = EU_WIDTH, pad: float = 4.0) -> tuple[float, float, float, float, float]:
    """(x0, y1, scale, pad, height) fitting a planar bbox (x0, y0, x1, y1) into a width-wide SVG, north up."""
    x0, y0, x1, y1 = bbox
    s = (width - 2 * pad) / max(x1 - x0, 1e-9)
    return x0, y1, s, pad, float(round((y1 - y0) * s + 2 * pad, 1))


def rings_d(rings: list[np.ndarray], fit: tuple[float, float, float, float, float]) -> str:
    """SVG path d of planar rings projected with a planar_fit."""
    x0, y1, s, pad, _ = fit
    return "".join(_ring_d(np.column_stack(((r[:, 0] - x0) * s + pad, (y1 - r[:, 1]) * s + pad))) for r in rings)


def geojson_shapes(
    path: Path, codes: set[str] | None = None, width: float = EU_WIDTH, source_id: str = "geometry/nuts2json"
) -> tuple[dict[str, tuple[str, str]], tuple[float, float, float, float]]:
    """({id: (name, SVG path d)}, (0, 0, width, height)) for the features whose properties.id is in
    `codes` (all when None), projected from planar metres (EPSG:3035) into a width-wide SVG frame
    by a linear fit of their bounding box, north up."""
    rings = geojson_rings(path, codes, source_id)
    pts = [r for _, rs in rings.values() for r in rs if len(r)]
    if not pts:
        return {}, (0.0, 0.0, width, 0.0)
    allp = np.concatenate(pts)
    (x0, y0), (x1, y1) = allp.min(axis=0), allp.max(axis=0)
    fit = planar_fit((x0, y0, x1, y1), width)
    shapes = {code: (name, rings_d(rs, fit)) for code, (name, rs) in rings.items()}
    return {k: v for k, v in shapes.items() if v[1]}, (0.0, 0.0, width, fit[4])


def dissolve(rings: list[np.ndarray]) -> list[np.ndarray]:
    """Rings of the union of polygons that share boundaries (Nuts2json regions of one file share
    their boundary vertices exactly): every segment used by two rings is an inner boundary and is
    dropped, the rest is walked back into closed rings. Drawn with the even-odd rule, the result
    has the union's outline only, without the members' inner borders."""
    counts: dict[frozenset, int] = {}
    for r in rings:
        pts = [tuple(p) for p in np.asarray(r)[:, :2].tolist()]
        if pts and pts[0] != pts[-1]:
            pts.append(pts[0])
        for a, b in itertools.pairwise(pts):
            if a != b:
                key = frozenset((a, b))
                counts[key] = counts.get(key, 0) + 1
    # the outline's segments, undirected (members may wind either way), walked into rings
    adj: dict[tuple[float, float], list[tuple[float, float]]] = {}
    for key, n in counts.items():
        if n == 1:
            a, b = tuple(key)
            adj.setdefault(a, []).append(b)
            adj.setdefault(b, []).append(a)
    out: list[np.ndarray] = []
    while adj:
        start = next(iter(adj))
        ring, cur = [start], start
        while adj.get(cur):
            nxt = adj[cur].pop()
            adj[nxt].remove(cur)
            for p in (cur, nxt):
                if not adj[p]:
                    del adj[p]
            ring.append(nxt)
            cur = nxt
            if cur == start:
                break
        if len(ring) >= 4:
            out.append(np.asarray(ring, dtype=float))
    return out
