"""EU map shapes: every NUTS region drawn with the geometry of its own NUTS version.

The EU tables keep regions that split, merged or changed boundaries in their original NUTS
version (pipelines.staging.nuts), so one map year can hold NUTS 2013 codes (IE01, LT00, PL12 …)
beside NUTS 2021 ones. Eurostat GISCO's Nuts2json files of several versions share one projection
(EPSG:3035) and frame, so each region is drawn from the file of its own version:

1. its own feature in the file of its level and version;
2. a 2006/2010 code that was purely recoded (same territory, ``nuts.PURE_RECODES_PRE2016``) as
   the recoded code (EL11 of NUTS 2010 = EL51 of NUTS 2013);
3. a 2010 code that was split into whole new regions as their union (:data:`SPLITS_2010_2013`);
4. a NUTS 0/1 code without a file of its level and version as the union of its children of the
   same version (NUTS is a hierarchy: FR2 of NUTS 2013 = FR21 … FR26 of NUTS 2013).

Anything else has no shape and is listed by name under the map, with the reason: an outermost
region outside the geometry's frame, an extra-regio territory, or a version the geometry lacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.sources import geometry
from pipelines.staging.nuts import PURE_RECODES_PRE2016

# NUTS 2010 → 2013 splits into whole new NUTS 2 regions. The mirror has no 2010→2013 change table
# (its official change sheets cover 2016→2021 only), so these are transcribed from Commission
# Regulation (EU) No 1319/2013 (NUTS 2013), annex: Inner London UKI1 → UKI3 Inner London — West +
# UKI4 Inner London — East; Outer London UKI2 → UKI5 Outer London — East and North East + UKI6
# Outer London — South + UKI7 Outer London — West and North West (the NUTS 3 regions of UKI1/UKI2
# promoted to NUTS 2, unchanged). The tests check the names and that UKI3–UKI7 tile London (UKI).
SPLITS_2010_2013: dict[str, tuple[str, ...]] = {"UKI1": ("UKI3", "UKI4"), "UKI2": ("UKI5", "UKI6", "UKI7")}
# Outermost regions of the EU (Art. 349 TFEU: the French overseas regions, the Azores, Madeira and
# the Canary Islands) by NUTS code prefix of every version; the Nuts2json 20M files leave all but the
# Canaries out of their frame.
OUTERMOST = ("FR9", "FRA", "FRY", "PT2", "PT3", "ES7")
# Mainland frame in EPSG:3035 metres (Iceland to Cyprus and eastern Turkey); rings wholly outside
# it (the Canary Islands) are drawn in an inset in the map's south-west corner, never beside the legend.
EU_FRAME_3035 = (2_400_000.0, 1_300_000.0, 7_500_000.0, 5_900_000.0)
EXTRA_REGIO = re.compile(r"^[A-Z]{2}Z+$")  # NUTS extra-regio territories (FRZ, FRZZ): no land, no shape
Key = tuple[str, str]  # (region_code, nuts_version)


@dataclass
class Frame:
    """The planar frame of every EU map of a release: fit, and the shift of the inset's rings."""

    fit: tuple[float, float, float, float, float]
    shift: tuple[float, float] | None = None
    inset: list[float] = field(default_factory=list)  # [x, y, w, h] in SVG units, empty without inset

    def d(self, rings: list[np.ndarray]) -> str:
        return geometry.rings_d([self.place(r) for r in rings if self.shift is not None or _inside(r)], self.fit)

    def place(self, ring: np.ndarray) -> np.ndarray:
        return ring if _inside(ring) or self.shift is None else ring + np.asarray(self.shift)


def _inside(ring: np.ndarray) -> bool:
    x0, y0, x1, y1 = EU_FRAME_3035
    (a, b), (c, d) = ring.min(axis=0), ring.max(axis=0)
    return not (c < x0 or a > x1 or d < y0 or b > y1)


class NutsGeometry:
    """The Nuts2json files of a release folder, by (level, version), decoded once."""

    def __init__(self, geometry_dir: Path) -> None:
        self.files: dict[tuple[int, str], dict[str, tuple[str, list[np.ndarray]]]] = {}
        self._rings: dict[Key, tuple[list[np.ndarray], str, list[str]] | None] = {}
        for lv, layer in geometry.NUTS_LAYERS.items():
            path = geometry_dir / geometry.FILES[layer][2]
            if path.exists():
                self.files[lv] = geometry.geojson_rings(path, source_id=geometry.FILES[layer][0])

    def members(self, code: str, version: str, depth: int = 0) -> tuple[list[tuple[str, int, str]], str] | None:
        """The features (code, level, version) whose union is the region, and how it was found
        ("own", "recoded", "union"); None when the geometry cannot draw it."""
        level = len(code) - 2
        own = self.files.get((level, version))
        if own is not None and code in own:
            return [(code, level, version)], "own"
        if depth > 3 or EXTRA_REGIO.match(code):
            return None
        if version in ("2006", "2010") and code in PURE_RECODES_PRE2016:
            new, v = PURE_RECODES_PRE2016[code]
            got = self.members(new, v, depth + 1) if (new, v) != (code, version) else None
            return (got[0], "recoded") if got else None
        if version == "2010" and code in SPLITS_2010_2013:
            return self._union([(m, "2013") for m in SPLITS_2010_2013[code]], depth)
        if level < 2:
            below = self.files.get((level + 1, version))
            if below is not None:
                kids = [(c, version) for c in below if len(c) == len(code) + 1 and c.startswith(code)]
            else:  # an older version without a file: its children that the change lists name
                kids = [(c, version) for c in (*PURE_RECODES_PRE2016, *SPLITS_2010_2013) if len(c) == len(code) + 1 and c.startswith(code)]
            return self._union(kids, depth)
        return None

    def _union(self, kids: list[Key], depth: int) -> tuple[list[tuple[str, int, str]], str] | None:
        parts = [self.members(c, v, depth + 1) for c, v in kids]
        if not kids or any(p is None for p in parts):
            return None
        return [m for p in parts if p for m in p[0]], "union"

    def rings(self, code: str, version: str) -> tuple[list[np.ndarray], str, list[str]] | None:
        """(planar rings, how, member codes) of a region, or None (computed once per region)."""
        if (code, version) not in self._rings:
            self._rings[(code, version)] = self._resolve(code, version)
        return self._rings[(code, version)]

    def _resolve(self, code: str, version: str) -> tuple[list[np.ndarray], str, list[str]] | None:
        got = self.members(code, version)
        if got is None:
            return None
        mem, how = got
        rings = [r for c, lv, v in mem for r in self.files[(lv, v)][c][1]]
        # a union is drawn as one region: its members' shared borders dissolved
        return (geometry.dissolve(rings) if len(mem) > 1 else rings), how, [c for c, _, _ in mem]

    def frame(self, keys: list[Key], width: float = geometry.EU_WIDTH) -> Frame | None:
        """One frame for every EU map of a release: fitted to the regions `keys` (all EU regions
        of every level and version) within the mainland frame. Rings outside it (the Canary
        Islands) go to an inset in a strip added under the south-west corner, clear of every
        other region and of the legend below the map."""
        # NUTS 2 regions when there are any: a country's or NUTS 1 outline may carry remote
        # islands (Jan Mayen with Norway) that no NUTS 2 region with data has
        finest = [k for k in keys if len(k[0]) == 4] or keys
        rings = [r for c, v in finest if (got := self.rings(c, v)) for r in got[0] if len(r)]
        inside = [r for r in rings if _inside(r)]
        if not inside:
            return None
        allp = np.concatenate(inside)
        (x0, y0), (x1, y1) = allp.min(axis=0), allp.max(axis=0)
        out = [r for r in rings if not _inside(r)]
        if not out:
            return Frame(geometry.planar_fit((x0, y0, x1, y1), width))
        op = np.concatenate(out)
        (ox0, oy0), (ox1, oy1) = op.min(axis=0), op.max(axis=0)
        m = 0.01 * (x1 - x0)
        if ox1 - ox0 > 0.3 * (x1 - x0) or oy1 - oy0 > 0.3 * (y1 - y0):
            return Frame(geometry.planar_fit((x0, y0, x1, y1), width))  # too spread out for an inset: not drawn
        y0 -= oy1 - oy0 + 4 * m  # the strip for the inset, a margin under the mainland
        fit = geometry.planar_fit((x0, y0, x1, y1), width)
        shift = (x0 + 2 * m - ox0, y0 + 2 * m - oy0)
        _, top, s, pad, _ = fit
        box = [m * s + pad, (top - (y0 + 3 * m + oy1 - oy0)) * s + pad, (ox1 - ox0 + 2 * m) * s, (oy1 - oy0 + 2 * m) * s]
        return Frame(fit, shift, [round(float(v), 1) for v in box])

    def background(self, countries: set[str], frame: Frame) -> str:
        """SVG path of the countries' outlines (NUTS 0 2021): the "no data" ground under a year's regions."""
        src = self.files.get((0, "2021"))
        if not src:
            return ""
        return frame.d([r for c, (_, rs) in src.items() if c in countries for r in rs])


def unshaped_reason(code: str, version: str) -> str:
    """Why the geometry has no shape for a region (shown beside its name under the map)."""
    if EXTRA_REGIO.match(code):
        return "extra-regio territory, no land area"
    if code.startswith(OUTERMOST):
        return "outermost region outside the map frame"
    return f"no NUTS {version} boundaries in the geometry"
