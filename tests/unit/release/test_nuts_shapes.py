"""EU map shapes: each NUTS region from the geometry of its own version, unions of whole regions,
the rest listed with a reason; one frame for all EU maps with the Canary Islands in an inset."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from pipelines.config import PROJECT_ROOT
from pipelines.release.catalog import nuts_shapes
from pipelines.release.catalog.nuts_shapes import NutsGeometry, unshaped_reason
from pipelines.sources import geometry

pytestmark = pytest.mark.mirror


@pytest.fixture(scope="module")
def geo_dir(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    """A release's geometry/ folder: every Nuts2json file of the mirror under its release name."""
    out = tmp_path_factory.mktemp("geometry")
    for layer in geometry.NUTS_LAYERS.values():
        _, url, name = geometry.FILES[layer]
        shutil.copy(mirror_dir / url.split("://", 1)[1], out / name)
    return out


@pytest.fixture(scope="module")
def nuts(geo_dir: Path) -> NutsGeometry:
    return NutsGeometry(geo_dir)


def _area(rings: list[np.ndarray]) -> float:
    """Signed shoelace area summed over rings (holes wind the other way in GeoJSON)."""
    return sum(0.5 * float(np.dot(r[:-1, 0], r[1:, 1]) - np.dot(r[1:, 0], r[:-1, 1])) for r in rings)


def test_each_region_is_drawn_from_its_own_version(nuts: NutsGeometry) -> None:
    # NUTS 2013 codes the data keeps (split or discontinued later) come from the 2013 file
    for code in ("IE01", "IE02", "LT00", "PL12", "HU10", "HR04", "NO01", "NO03", "NO04", "UKM2"):
        assert nuts.members(code, "2013") == ([(code, 2, "2013")], "own"), code
    assert nuts.members("DE11", "2021") == ([("DE11", 2, "2021")], "own")
    # the 2013 and 2021 shapes of one code differ where the territory did (Ireland's regions were redrawn)
    assert nuts.members("IE01", "2021") is None


def test_unions_come_from_the_hierarchy_recodes_and_documented_splits(nuts: NutsGeometry) -> None:
    assert nuts.members("UKI1", "2010") == ([("UKI3", 2, "2013"), ("UKI4", 2, "2013")], "union")
    assert [m[0] for m in nuts.members("UKI2", "2010")[0]] == ["UKI5", "UKI6", "UKI7"]
    fr2, how = nuts.members("FR2", "2013")  # NUTS 1 of 2013: its NUTS 2 children of 2013
    assert how == "union" and sorted(m[0] for m in fr2) == ["FR21", "FR22", "FR23", "FR24", "FR25", "FR26"]
    el1, how = nuts.members("EL1", "2010")  # NUTS 2010 children, purely recoded in 2013
    assert how == "union" and sorted(m[0] for m in el1) == ["EL51", "EL52", "EL53", "EL61"]
    assert nuts.members("EL11", "2010") == ([("EL51", 2, "2013")], "recoded")
    # no geometry of NUTS 2006: boundary-changed or merged codes stay unshaped
    for code in ("DE41", "DE42", "DED1", "DED3", "FI13", "FI18", "FI1A", "UKD2", "UKD5"):
        assert nuts.members(code, "2006") is None, code
        assert unshaped_reason(code, "2006") == "no NUTS 2006 boundaries in the geometry"
    assert nuts.members("FR9", "2010") is None and unshaped_reason("FR9", "2010") == "outermost region outside the map frame"
    assert nuts.members("CZZZ", "2021") is None and unshaped_reason("CZZZ", "2021").startswith("extra-regio")


def test_the_london_splits_are_what_the_official_lists_say(nuts: NutsGeometry) -> None:
    """SPLITS_2010_2013 is transcribed (no change table in the mirror): the NUTS 2021 workbook
    names the parts Inner/Outer London, and UKI3–UKI7 tile London (NUTS 1 UKI) exactly."""
    wb = openpyxl.load_workbook(PROJECT_ROOT / "assets/reference/eurostat-classifications/nuts2021.xlsx", read_only=True)
    ws = next(s for s in wb.worksheets if s.title.startswith("NUTS & SR 2021"))
    names = {str(r[0]): next((str(v) for v in r[1:5] if v), "") for r in ws.iter_rows(min_row=2, values_only=True) if r and r[0]}
    wb.close()
    for old, parts in nuts_shapes.SPLITS_2010_2013.items():
        whole = {"UKI1": "Inner London", "UKI2": "Outer London"}[old]
        assert all(names[p].startswith(whole) for p in parts), [(p, names[p]) for p in parts]
    parts = [r for p in ("UKI3", "UKI4", "UKI5", "UKI6", "UKI7") for r in nuts.files[(2, "2013")][p][1]]
    london = nuts.files[(1, "2021")]["UKI"][1]
    # 1:20M outlines of two versions, generalised separately: equal within a few percent (2.4 % here;
    # a missing or foreign part would be ≥ 8 %: the smallest, Inner London — West, is 8 % of London)
    assert abs(_area(parts) - _area(london)) < 0.05 * abs(_area(london))


def test_one_frame_with_the_canaries_in_an_inset_clear_of_the_map(nuts: NutsGeometry) -> None:
    keys = [("ES70", "2021"), ("PT11", "2021"), ("ES61", "2021"), ("FI1D", "2021"), ("CY00", "2021"), ("DE11", "2021")]
    frame = nuts.frame(keys)
    assert frame is not None and frame.shift is not None and len(frame.inset) == 4
    x, y, w, h = frame.inset
    fit = frame.fit
    pts = [tuple(map(float, p.split(","))) for p in frame.d(nuts.rings("ES70", "2021")[0]).replace("M", " ").replace("Z", " ").split()]
    assert pts and all(x <= px <= x + w and y <= py <= y + h for px, py in pts)  # inside the inset box
    assert y + h <= fit[4]  # the box ends inside the frame, above the legend the page puts under it
    # and no mainland region reaches into the box (the inset has its own strip under the south-west corner)
    for code in ("PT11", "ES61"):
        other = [tuple(map(float, p.split(","))) for p in frame.d(nuts.rings(code, "2021")[0]).replace("M", " ").replace("Z", " ").split()]
        assert max(py for _, py in other) < y, code


def test_a_union_is_drawn_without_its_members_inner_borders(nuts: NutsGeometry) -> None:
    # two unit squares wound in opposite directions share one edge: one 2 × 1 outline remains
    a = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], float)
    b = np.array([[1, 0], [1, 1], [2, 1], [2, 0], [1, 0]], float)
    (ring,) = geometry.dissolve([a, b])
    edges = {frozenset((tuple(p), tuple(q))) for p, q in zip(ring[:-1].tolist(), ring[1:].tolist(), strict=True)}
    assert abs(_area([ring])) == 2.0 and frozenset(((1.0, 0.0), (1.0, 1.0))) not in edges and len(ring) == 7
    # Inner London (NUTS 2010) = UKI3 + UKI4 of 2013: one outline, the same area as its parts
    rings, how, members = nuts.rings("UKI1", "2010")
    parts = [r for c in members for r in nuts.files[(2, "2013")][c][1]]
    assert how == "union" and members == ["UKI3", "UKI4"] and len(rings) == 1 < len(parts)
    assert abs(abs(_area(rings)) - sum(abs(_area([r])) for r in parts)) < 1e-6 * abs(_area(rings))
    # Bassin Parisien (FR2, NUTS 2013) surrounds Ile-de-France: outline and hole, drawn even-odd
    fr2, _, _ = nuts.rings("FR2", "2013")
    hole = abs(_area(nuts.files[(2, "2013")]["FR10"][1]))
    areas = sorted(abs(_area([r])) for r in fr2)
    assert len(fr2) == 2 and abs(areas[0] - hole) < 1e-6 * hole
