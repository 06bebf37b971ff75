"""The EU maps on real data (issue 21): the mirror's Eurostat build published with every Nuts2json
file; every NUTS 2 region with data from 2011 on is drawn (with the geometry of its own NUTS
version), the 2006/2010 codes of 2008–2010 are listed by name, NUTS 0 and 1 maps exist, "0 stars"
is neither background nor "no data", and the Canary Islands inset stays clear of the legend."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.layout import eu_dir
from pipelines.release.catalog import maps
from pipelines.sources import geometry
from pipelines.staging.eu import stage_eu
from pipelines.warehouse.eu import eu_indicators
from tests.helpers.browser import BROWSER, Page
from tests.helpers.release_samples import publish_sample, sample_tables

pytestmark = pytest.mark.mirror
# Known facts: the NUTS 2006 codes Eurostat's SBS still carries for 2008–2010 (Brandenburg's two
# regions, Chemnitz and Leipzig, three Finnish regions, Cheshire and Merseyside), which were merged
# or had their boundaries changed in NUTS 2010/2013; no boundary file of NUTS 2006 exists here.
UNSHAPED_2008 = {"DE41", "DE42", "DED1", "DED3", "FI13", "FI18", "FI1A", "UKD2", "UKD5"}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("eu_maps")
    settings = Settings(warehouse=tmp / "w", mirror=mirror_dir, offline=True)
    stage_eu(settings)
    with duckdb.connect() as con:
        con.execute("CREATE TABLE eu_cluster_totals AS SELECT * FROM read_parquet($p)", {"p": str(eu_dir(settings) / "eu_cluster_totals.parquet")})
        eu = eu_indicators(con)
    us = sample_tables()
    # the sample's clusters only (the maps show the release's clusters): a small, fast page
    eu = eu.filter(pl.col("cluster_code").is_in(us["clusters"]["cluster_code"].to_list()))
    tables = {**us, "eu_cluster_indicators": eu, "nuts_regions": pl.read_parquet(eu_dir(settings) / "nuts_regions.parquet")}
    extra = {}
    for layer in ("us_states", *geometry.NUTS_LAYERS.values()):
        _, url, name = geometry.FILES[layer]
        extra[f"geometry/{name}"] = mirror_dir / url.split("://", 1)[1]
    r = publish_sample(tmp / "releases", tables=tables, extra_files=extra, csv=False, bundle=False)
    return r.path


def _with_data(folder: Path, region_type: str) -> pl.DataFrame:
    return (
        pl.scan_parquet(folder / "data" / "eu_cluster_indicators.parquet")
        .filter((pl.col("region_type") == region_type) & (pl.col("cluster_type") == "traded") & pl.col("emp").is_not_null())
        .select("year", "region_code", "nuts_version").unique().collect()
    )  # fmt: skip


def test_every_nuts2_region_with_data_from_2011_is_drawn(release: Path) -> None:
    data = maps.map_data(release)
    layers = {layer["id"]: layer for layer in data["layers"]}
    assert {"eu_nuts0", "eu_nuts1", "eu_nuts2"} <= set(layers)
    n2 = layers["eu_nuts2"]
    drawn = {(r[0], r[3]): {n2["years"][i] for i in n2["present"][k]} for k, r in enumerate(n2["regions"])}
    lost = {(u[0], u[2]): (u[3], {n2["years"][i] for i in u[4]}) for u in n2["unshaped"]}
    have = _with_data(release, "nuts2")
    for year in sorted(have["year"].unique()):
        keys = set(have.filter(pl.col("year") == year).select("region_code", "nuts_version").rows())
        shown = {k for k, ys in drawn.items() if year in ys}
        listed = {k for k, (_, ys) in lost.items() if year in ys}
        assert keys == shown | listed and not shown & listed, year
        reasons = {lost[k][0] for k in listed}
        if year >= 2011:  # only outermost regions outside the frame and extra-regio remain
            assert reasons <= {"outermost region outside the map frame", "extra-regio territory, no land area"}, (year, listed)
    # the undrawn regions: NUTS 2013 codes from the 2013 file, London as unions
    for key in (("HR04", "2013"), ("IE01", "2013"), ("IE02", "2013"), ("LT00", "2013"), ("PL12", "2013"), ("HU10", "2013"),
                ("NO01", "2013"), ("NO03", "2013"), ("NO04", "2013"), ("UKI1", "2010"), ("UKI2", "2010")):  # fmt: skip
        assert key in drawn, key
    assert drawn[("UKI1", "2010")] == {2008, 2009, 2010, 2011, 2012}
    no_file = {k[0] for k, (reason, ys) in lost.items() if 2008 in ys and reason.startswith("no NUTS")}
    assert no_file == UNSHAPED_2008
    # NUTS 1 of 2013/2010 (France's old regions, EL1) drawn as unions of their NUTS 2 of the same version
    n1 = {(r[0], r[3]) for r in layers["eu_nuts1"]["regions"]}
    assert {("FR2", "2013"), ("PL1", "2013"), ("EL1", "2010"), ("DE1", "2021")} <= n1


def _pick(page: Page, select: str, text: str) -> None:
    page.eval(
        f"(() => {{ const s = document.getElementById('{select}');"
        f" s.value = [...s.options].find(o => o.text.startsWith({json.dumps(text)})).value;"
        " s.dispatchEvent(new Event('change')); })()"
    )


@pytest.mark.skipif(BROWSER is None, reason="Chromium not installed (apt-get install chromium; .ci/run does this)")
def test_eu_maps_in_chromium(release: Path, browser: Page, tmp_path: Path) -> None:
    browser.send("Page.navigate", {"url": (release / "index.html").as_uri()})
    browser.wait_event("Page.loadEventFired")
    for _ in range(100):
        if browser.eval("document.body.getAttribute('data-map')"):
            break
        time.sleep(0.05)
    layers = browser.eval("[...document.querySelectorAll('#map-layer option')].map(o => o.text)")
    assert [t.split(" (")[0] for t in layers] == ["US states", "EU countries", "EU NUTS 1 regions", "EU NUTS 2 regions"]
    _pick(browser, "map-layer", "EU NUTS 2 regions")
    _pick(browser, "map-year", "2011")
    codes = set(browser.eval("[...document.querySelectorAll('#map path.region')].map(p => p.dataset.code)"))
    have = _with_data(release, "nuts2").filter(pl.col("year") == 2011)
    expect = {c for c in have["region_code"] if not c.startswith(("PT2", "PT3", "FRY")) and not c.endswith("ZZ")}
    assert codes == expect and {"IE01", "LT00", "PL12", "HU10", "NO01", "UKI1", "UKI2"} <= codes
    assert browser.eval("document.querySelector('#map path.region[data-code=\"UKI1\"] title').textContent").startswith("Inner London (UKI1, NUTS 2010)")
    _pick(browser, "map-year", "2008")
    listed = browser.eval("document.getElementById('map-unshaped').textContent")
    assert "Nordost (DE41, NUTS 2006" in listed and "Merseyside (UKD5, NUTS 2006" in listed
    _pick(browser, "map-year", "2013")
    assert browser.eval("document.getElementById('map-unshaped').textContent").count("NUTS 2006") == 0

    # "0 stars" is a colour of its own: not the page's white, not the "no data" ground
    _pick(browser, "map-measure", "Stars, European Cluster Observatory")
    legend = browser.eval("[...document.querySelectorAll('#map .legend rect')].map(r => r.getAttribute('fill'))")
    ground = browser.eval("document.querySelector('#map path.ground').getAttribute('fill')")
    zero = legend[0]
    assert zero not in {ground, "#fff", "#ffffff", "white"} and legend[-1] == ground
    assert browser.eval("[...document.querySelectorAll('#map path.region')].some(p => p.getAttribute('fill') === '" + zero + "')")

    # the Canary Islands sit in their inset box, which ends above the legend
    box = browser.eval("(() => { const b = document.querySelector('#map rect.inset').getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })()")
    canaries = browser.eval("(() => { const b = document.querySelector('#map path.region[data-code=\"ES70\"]').getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })()")
    legend_top = browser.eval("document.querySelector('#map .legend').getBoundingClientRect().top")
    assert box[0] <= canaries[0] and canaries[2] <= box[2] and box[1] <= canaries[1] and canaries[3] <= box[3]
    assert box[3] < legend_top
    _pick(browser, "map-layer", "EU countries")
    assert browser.eval("document.querySelectorAll('#map path.region').length") >= 25
    assert browser.errors() == []
    shutil.rmtree(tmp_path, ignore_errors=True)
