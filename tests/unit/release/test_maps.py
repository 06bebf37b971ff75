"""Maps on the release page: TopoJSON/GeoJSON decoding into SVG paths, geometry fetched through
the mirror and recorded as release sources, and the choropleth in real headless Chromium (one
shape per region with data, values on hover that match the Parquet, pickers that redraw it)."""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.release.catalog import maps
from pipelines.sources import geometry
from tests.helpers.browser import BROWSER, Page
from tests.helpers.release_samples import complete_table, publish_sample, sample_tables

US = "cdn.jsdelivr.net/npm/us-atlas@3.0.1/"
NUTS = "raw.githubusercontent.com/eurostat/Nuts2json/master/pub/v2/2021/3035/20M/"


def _nums(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)]


def test_topojson_arcs_are_delta_decoded_dequantized_and_reversed(tmp_path: Path) -> None:
    # Two arcs in quantized, delta-encoded form; the polygon walks arc 0 then arc 1 reversed (~1).
    topo = {
        "type": "Topology",
        "transform": {"scale": [0.5, 2.0], "translate": [10.0, 100.0]},
        "arcs": [[[0, 0], [4, 0], [0, 3]], [[0, 0], [0, 3], [4, 0]]],
        "objects": {"things": {"type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "id": "A", "properties": {"name": "Alpha"}, "arcs": [[0, ~1]]},
            {"type": "LineString", "id": "L", "arcs": [0]},
        ]}},
    }  # fmt: skip
    p = tmp_path / "t.json"
    p.write_text(json.dumps(topo))
    geometry.validate_topojson(p)
    shapes = geometry.topojson_shapes(p, "things")
    assert list(shapes) == ["A"]  # lines are not regions
    name, d = shapes["A"]
    # arc 0: (0,0) (4,0) (4,3), arc 1: (0,0) (0,3) (4,3) walked backwards, the shared point once; x*0.5+10, y*2+100
    assert name == "Alpha" and d == "M10,100 12,100 12,106 10,106 10,100Z"
    # Without a transform the coordinates are absolute (no delta decoding).
    topo.pop("transform")
    topo["arcs"] = [[[1, 1], [5, 1], [5, 4]], [[1, 1], [1, 4], [5, 4]]]
    p.write_text(json.dumps(topo))
    assert geometry.topojson_shapes(p, "things")["A"][1] == "M1,1 5,1 5,4 1,4 1,1Z"
    with pytest.raises(SourceError, match="no TopoJSON object 'counties'"):
        geometry.topojson_shapes(p, "counties")
    p.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(SourceError, match=r"not a TopoJSON Topology.*t\.json"):
        geometry.validate_topojson(p)


def test_geojson_metres_fit_linearly_north_up(tmp_path: Path) -> None:
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "SW", "na": "South-west"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1000, 0], [1000, 1000], [0, 1000], [0, 0]]]}},
        {"type": "Feature", "properties": {"id": "NE", "na": "North-east"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[[[3000, 1000], [4000, 1000], [4000, 2000], [3000, 2000], [3000, 1000]]]]}},
        {"type": "Feature", "properties": {"id": "FAR", "na": "Far away"},
         "geometry": {"type": "Polygon", "coordinates": [[[90000, 0], [91000, 0], [91000, 1000], [90000, 0]]]}},
    ]}  # fmt: skip
    p = tmp_path / "g.json"
    p.write_text(json.dumps(fc))
    geometry.validate_geojson(p)
    shapes, (_, _, w, h) = geometry.geojson_shapes(p, {"SW", "NE"}, width=408)
    # bbox 4000 × 2000 m → (408 − 2·4 padding) px wide: 0.1 px per metre; y flipped (north up)
    assert set(shapes) == {"SW", "NE"} and (w, h) == (408, 208)
    assert _nums(shapes["SW"][1])[:3] == [(4, 204), (104, 204), (104, 104)]
    assert _nums(shapes["NE"][1])[0] == (304, 104) and shapes["NE"][0] == "North-east"


@pytest.mark.mirror
def test_mirror_geometry_is_what_its_index_says(mirror_dir: Path) -> None:
    states = geometry.topojson_shapes(mirror_dir / US / "states-albers-10m.json", "states")
    counties = geometry.topojson_shapes(mirror_dir / US / "counties-albers-10m.json", "counties")
    assert states["06"][0] == "California" and states["36"][0] == "New York"
    assert counties["36061"][0] == "New York" and counties["06037"][0] == "Los Angeles"
    pts = [pt for _, d in states.values() for pt in _nums(d)]
    x0, y0, w, h = geometry.topojson_frame(mirror_dir / US / "states-albers-10m.json")
    assert all(x0 - 0.1 <= x <= x0 + w + 0.1 and y0 - 0.1 <= y <= y0 + h + 0.1 for x, y in pts)
    # the nominal 975×610 Albers USA pixel frame (only Alaska's Aleutians reach west of x = 0)
    assert sum(0 <= x <= 975 and 0 <= y <= 610 for x, y in pts) > 0.99 * len(pts)
    # California lies west of New York, Florida south of Maine (SVG y grows downwards)
    cx = lambda d: sum(x for x, _ in _nums(d)) / len(_nums(d))  # noqa: E731
    cy = lambda d: sum(y for _, y in _nums(d)) / len(_nums(d))  # noqa: E731
    assert cx(states["06"][1]) < cx(states["36"][1]) and cy(states["12"][1]) > cy(states["23"][1])
    nuts, _ = geometry.geojson_shapes(mirror_dir / NUTS / "nutsrg_2.json")
    assert nuts["DE11"][0] == "Stuttgart" and nuts["FR10"][0] == "Ile-de-France"
    assert cx(nuts["DE11"][1]) > cx(nuts["FR10"][1]) and cy(nuts["ES51"][1]) > cy(nuts["FR10"][1])


@pytest.mark.mirror
def test_geometry_fetched_through_mirror_and_recorded(tmp_path: Path, mirror_dir: Path) -> None:
    s = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, offline=True, cbp_geos=("state", "msa"))
    sources, files = maps.fetch_geometry(s)
    assert sorted(files) == [
        "geometry/counties-albers-10m.json", "geometry/nutsrg_0.json", "geometry/nutsrg_1.json", "geometry/nutsrg_2.json",
        "geometry/nutsrg_2_2013.json", "geometry/nutsrg_2_2016.json", "geometry/states-albers-10m.json",
    ]  # fmt: skip
    assert {r["source_id"] for r in sources} >= {"geometry/nuts2json/2013/nutsrg_2", "geometry/nuts2json/2016/nutsrg_2", "geometry/nuts2json/2021/nutsrg_0"}
    index = {e["id"]: e for e in json.loads((mirror_dir / "index.json").read_text())["entries"]}
    for rec in sources:
        assert rec["sha256"] == index[rec["source_id"]]["sha256"] and rec["url"] == index[rec["source_id"]]["url"]
        assert Path(rec["path"]).is_relative_to(s.raw_dir)
    assert any("EuroGeographics" in (r["attribution"] or "") for r in sources)
    only_states = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, offline=True, eurostat=False)
    assert list(maps.fetch_geometry(only_states)[1]) == ["geometry/states-albers-10m.json"]


EU = [("DE11", "Stuttgart"), ("FR10", "Ile-de-France"), ("ITC4", "Lombardia"), ("ES51", "Cataluña"), ("FRY1", "Guadeloupe")]


def _eu_table(years=(2013, 2014, 2015), seed: int = 5) -> pl.DataFrame:
    rng = random.Random(seed)
    keys = [(y, code, cc) for code, _ in EU for cc in ("1", "5", "10", "14") for y in years]
    base = {"year": [k[0] for k in keys], "region_type": ["nuts2"] * len(keys), "region_code": [k[1] for k in keys],
            "cluster_code": [k[2] for k in keys], "cluster_type": ["traded"] * len(keys),
            "emp": [float(rng.randint(10, 50_000)) for _ in keys], "lq": [round(rng.uniform(0.1, 4), 4) for _ in keys]}  # fmt: skip
    stars = [rng.randint(0, 3) for _ in keys]
    return complete_table("eu_cluster_indicators", base, rng).with_columns(
        pl.Series("eco2011_stars", stars, dtype=pl.Int32), pl.lit("2021").alias("nuts_version"),
        pl.Series("eco2011_size", [s > 0 for s in stars]), pl.Series("eco2011_specialisation", [s > 1 for s in stars]),
        pl.Series("eco2011_focus", [s > 2 for s in stars]),
    )


def _publish_with_maps(rdir: Path, mirror_dir: Path):
    tables = {**sample_tables(years=(2009, 2010, 2011)), "eu_cluster_indicators": _eu_table()}
    # one state-year without LQ for cluster 1: drawn as "no data", not as zero
    tables["cluster_indicators"] = tables["cluster_indicators"].with_columns(
        lq=pl.when((pl.col("region_code") == "48") & (pl.col("cluster_code") == "1") & (pl.col("year") == 2011)).then(None).otherwise(pl.col("lq"))
    )
    extra = {"geometry/states-albers-10m.json": mirror_dir / US / "states-albers-10m.json", "geometry/nutsrg_2.json": mirror_dir / NUTS / "nutsrg_2.json"}
    return publish_sample(rdir, tables=tables, extra_files=extra), tables


def _wait(page: Page, expr: str, want, tries: int = 100):
    for _ in range(tries):
        got = page.eval(expr)
        if got == want:
            return got
        time.sleep(0.05)
    return got


def _pick(page: Page, select: str, text: str) -> None:
    page.eval(
        f"(() => {{ const s = document.getElementById('{select}');"
        f" s.value = [...s.options].find(o => o.text === {json.dumps(text)}).value;"
        " s.dispatchEvent(new Event('change')); })()"
    )


def _titles(page: Page) -> dict[str, str]:
    return page.eval("Object.fromEntries([...document.querySelectorAll('#map path.region')].map(p => [p.dataset.code, p.querySelector('title').textContent]))")


@pytest.mark.mirror
@pytest.mark.skipif(BROWSER is None, reason="Chromium not installed (apt-get install chromium; .ci/run does this)")
def test_maps_render_in_chromium_and_pickers_redraw(tmp_path: Path, mirror_dir: Path, browser: Page) -> None:
    rdir = tmp_path / "releases"
    r, tables = _publish_with_maps(rdir, mirror_dir)
    page_path = rdir / r.version / "index.html"
    html = page_path.read_text()
    assert "<script src" not in html and "https://cdn" not in html.split('id="map-data"')[0].split("<body>")[1]
    pkg = json.loads((r.path / "datapackage.json").read_text())
    assert {"geometry/states-albers-10m.json", "geometry/nutsrg_2.json"} <= {x["path"] for x in pkg["resources"]}

    browser.send("Page.navigate", {"url": page_path.as_uri()})
    browser.wait_event("Page.loadEventFired")
    assert _wait(browser, "document.body.getAttribute('data-map')", "0/0/2/0") == "0/0/2/0"
    browser.drain(0.2)
    assert browser.errors() == []
    assert all(u.startswith(("file:", "data:", "about:")) for u in browser.requests()), browser.requests()
    layers = browser.eval("[...document.querySelectorAll('#map-layer option')].map(o => o.text)")
    assert layers == ["US states (6)", "EU NUTS 2 regions (4)"]

    ci = tables["cluster_indicators"]
    cluster = browser.eval("document.getElementById('map-cluster').selectedOptions[0].text")
    code = tables["clusters"].filter(pl.col("cluster_name") == cluster)["cluster_code"][0]

    def want(year: int, col: str, frame: pl.DataFrame = ci) -> dict[str, float | None]:
        sel = frame.filter((pl.col("cluster_code") == code) & (pl.col("year") == year))
        return dict(zip(sel["region_code"].to_list(), sel[col].to_list(), strict=True))

    # One shape per region with data; each says its name and the Parquet value on hover.
    titles = _titles(browser)
    lq = want(2011, "lq")
    assert set(titles) == set(lq) == {"01", "06", "25", "36", "48", "53"}
    for rc, v in lq.items():
        assert titles[rc].endswith("no data" if v is None else f"LQ {v:.2f}"), (rc, titles[rc], v)
    assert titles["06"].startswith("California (06)")
    with_data = browser.eval("document.querySelectorAll('#map path.region[data-value]').length")
    assert with_data == sum(v is not None for v in lq.values()) == (5 if code == "1" else 6)
    assert browser.eval("document.querySelectorAll('#map .legend rect').length") == 7  # 6 LQ classes + no data
    assert browser.eval("document.querySelector('#map path.region[data-code=\"06\"]').getBBox().width") > 20
    # California is drawn west of New York.
    assert browser.eval("(() => { const b = c => document.querySelector(`#map path.region[data-code=\"${c}\"]`).getBBox();"
                        " return b('06').x + b('06').width < b('36').x; })()")  # fmt: skip

    # The year picker redraws the map with that year's values; so does the measure picker.
    _pick(browser, "map-year", "2009")
    titles = _titles(browser)
    assert all(titles[rc].endswith(f"LQ {v:.2f}") for rc, v in want(2009, "lq").items())
    _pick(browser, "map-measure", "Employment")
    titles = _titles(browser)
    assert all(titles[rc].endswith(f"{round(v):,} jobs / persons employed") for rc, v in want(2009, "emp").items())
    assert "Employment" in browser.eval("document.querySelector('#map text.ctitle').textContent")

    # The EU layer: NUTS 2 regions with data and a NUTS 2021 shape (Guadeloupe, FRY1, is outside the frame: counted, not drawn).
    _pick(browser, "map-layer", "EU NUTS 2 regions (4)")
    _pick(browser, "map-cluster", cluster)
    _pick(browser, "map-measure", "Stars, European Cluster Observatory 2011")
    _pick(browser, "map-year", "2014")
    titles = _titles(browser)
    assert set(titles) == {"DE11", "FR10", "ITC4", "ES51"}
    stars = want(2014, "eco2011_stars", tables["eu_cluster_indicators"])
    assert all(titles[rc].endswith(f": {s} star" + ("" if s == 1 else "s")) for rc, s in stars.items() if rc in titles)
    assert titles["DE11"].startswith("Stuttgart (DE11)")
    assert "1 region(s) with data have no shape" in browser.eval("document.getElementById('map-info').textContent")
    assert browser.errors() == []


def test_no_geometry_means_a_note_not_a_broken_page(tmp_path: Path) -> None:
    r = publish_sample(tmp_path / "releases")
    html = (r.path / "index.html").read_text()
    assert 'id="maps"' in html and "No map: the release has no map geometry" in html and 'id="map-data"' not in html
