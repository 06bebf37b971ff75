"""The release page's region and cluster profiles in real headless Chromium (issue 21): a deep link
opens a region's profile whose figures match the Parquet, the search box finds a NUTS region by its
published name, compare shows two regions side by side, the cluster profile ranks regions by name,
tables download as CSV, the data sit in per-region-type blocks parsed on demand, all offline."""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest

from pipelines.release.pages import rebuild_release_page
from tests.helpers.browser import BROWSER, Page, open_page, wait_for
from tests.helpers.release_samples import complete_table, publish_sample, sample_tables

pytestmark = pytest.mark.skipif(BROWSER is None, reason="Chromium not installed (apt-get install chromium; .ci/run does this)")
EU = [("DE11", "Stuttgart"), ("FR10", "Ile-de-France"), ("ITC4", "Lombardia")]


def _eu_tables(rng: random.Random) -> dict[str, pl.DataFrame]:
    """EU indicators for three NUTS 2 regions (2013–2015, four clusters) and their names as published
    in nuts_regions; DE11 is named only there (no geometry in this release)."""
    keys = [(y, code, cc) for code, _ in EU for cc in ("1", "5", "10", "14") for y in (2013, 2014, 2015)]
    base = {"year": [k[0] for k in keys], "region_type": ["nuts2"] * len(keys), "region_code": [k[1] for k in keys],
            "cluster_code": [k[2] for k in keys], "cluster_type": ["traded"] * len(keys),
            "emp": [float(rng.randint(10, 50_000)) for _ in keys], "lq": [round(rng.uniform(0.1, 4), 4) for _ in keys],
            "panorama_stars": [rng.randint(0, 3) for _ in keys], "nuts_version": ["2021"] * len(keys)}  # fmt: skip
    names = {"region_code": [c for c, _ in EU], "nuts_version": ["2021"] * len(EU), "region_name": [n for _, n in EU],
             "region_type": ["nuts2"] * len(EU), "level": [2] * len(EU)}  # fmt: skip
    return {"eu_cluster_indicators": complete_table("eu_cluster_indicators", base, rng), "nuts_regions": complete_table("nuts_regions", names, rng)}


@pytest.fixture
def release(tmp_path: Path):
    tables = {**sample_tables(years=(2009, 2010, 2011)), **_eu_tables(random.Random(3))}
    return publish_sample(tmp_path / "releases", tables=tables), tables


def _cells(page: Page, selector: str) -> list[list[str]]:
    return page.eval(f"[...document.querySelectorAll({json.dumps(selector)})].map(r => [...r.cells].map(c => c.textContent))")


def test_deep_link_opens_the_region_profile_with_the_parquet_figures(release, browser: Page) -> None:
    r, tables = release
    html = (r.path / "index.html").read_text()
    assert "Region profile" in html and "Cluster profile" in html and "<script src" not in html
    assert "Delgado, M., Porter, M. E., &amp; Stern, S. (2016)" in html and "European Cluster Panorama 2021" in html  # the methods cited
    # per-region-type blocks, not one blob: the state rows are in their own packed block
    assert 'id="obs-r:state"' in html and 'id="obs-r:nuts2"' in html
    open_page(browser, r.path / "index.html", "#region=state/48&year=2010")
    assert browser.errors() == []
    assert browser.eval("document.body.getAttribute('data-region-profile')") == "state/48"
    assert browser.eval("document.querySelector('#rp-body h3').textContent") == "Texas (US state 48)"
    ci = tables["cluster_indicators"]
    tx = ci.filter((pl.col("region_code") == "48") & (pl.col("year") == 2010) & (pl.col("cluster_type") == "traded")).sort("emp", descending=True)
    rows = _cells(browser, "#rp-body .profile table:first-of-type tbody tr")
    # the table follows the Parquet: names, employment, LQ (2 dp), rank by LQ among the states
    top = tx.row(0, named=True)
    peers = ci.filter((pl.col("year") == 2010) & (pl.col("cluster_code") == top["cluster_code"]) & pl.col("lq").is_not_null())
    rank = 1 + peers.filter(pl.col("lq") > top["lq"]).height
    name = dict(zip(tables["clusters"]["cluster_code"], tables["clusters"]["cluster_name"], strict=True))[top["cluster_code"]]
    same = ci.filter((pl.col("year") == 2010) & (pl.col("cluster_code") == top["cluster_code"]) & pl.col("wage").is_not_null())
    ratio = top["wage"] / (1000 * same["payroll"].sum() / same["emp_reported"].sum())  # wage against the national level
    assert rows[0][:5] == [name, f"{round(top['emp']):,}", f"{top['lq']:.2f}", f"{ratio:.2f}×", f"{rank} of {peers.height}"]
    assert len(rows) == tx.height
    # traded and local employment and the region-year's coverage (region_indicators)
    local = ci.filter((pl.col("region_code") == "48") & (pl.col("year") == 2010) & (pl.col("cluster_type") == "local"))["emp"].sum()
    cov = tables["region_indicators"].filter((pl.col("region_code") == "48") & (pl.col("year") == 2010))["coverage"][0]
    summary = browser.eval("document.querySelector('#rp-body .summary').textContent")
    assert summary.startswith(f"Traded employment {round(tx['emp'].sum()):,}, local {round(local):,}"), summary
    assert f"cover {100 * round(cov, 4):.1f} % of the source files' employment" in summary, summary
    # the year picker lists the region's years only; the portfolio draws one bubble per traded cluster
    assert browser.eval("[...document.querySelectorAll('#rp-year option')].map(o => o.text)") == ["2009", "2010", "2011"]
    assert browser.eval("document.querySelectorAll('#rp-body circle.bubble').length") == tx.height
    # the CSV download carries every traded cluster with its figures
    browser.eval("Obs.download = (n, t) => { window.__dl = [n, t]; }; document.querySelector('#rp-body button.csv').click(); 1")
    name, text = browser.eval("window.__dl")
    lines = text.strip().split("\n")
    assert name == "clusters-state-48-2010.csv" and lines[0].startswith("cluster,employment,LQ") and len(lines) == 1 + tx.height
    assert f'"{round(top["emp"]):,}"' in lines[1]
    # ...and the portfolio chart as a standalone SVG file
    browser.eval("document.querySelector('#rp-body .chartbox button').click(); 1")
    name, text = browser.eval("window.__dl")
    assert name == "portfolio-state-48-2009-2010.svg" and text.startswith("<svg ") and 'xmlns="http://www.w3.org/2000/svg"' in text and "circle" in text
    assert all(u.startswith(("file:", "data:", "about:", "blob:")) for u in browser.requests()), browser.requests()


def test_search_finds_a_nuts_region_by_name_and_compare_shows_two(release, browser: Page) -> None:
    r, tables = release
    open_page(browser, r.path / "index.html")
    browser.eval("(() => { const s = document.getElementById('obs-search'); s.value = 'Stuttgart'; s.dispatchEvent(new Event('change')); })()")
    assert wait_for(browser, "document.body.getAttribute('data-region-profile') === 'nuts2/DE11' && location.hash")
    assert "region=nuts2/DE11" in browser.eval("location.hash")
    assert browser.eval("document.querySelector('#rp-body h3').textContent") == "Stuttgart (NUTS 2 region DE11)"
    eu = tables["eu_cluster_indicators"].filter((pl.col("region_code") == "DE11") & (pl.col("year") == 2015)).sort("emp", descending=True)
    rows = _cells(browser, "#rp-body .profile table:first-of-type tbody tr")
    want = eu.row(0, named=True)
    assert rows[0][1:3] == [f"{round(want['emp']):,}", f"{want['lq']:.2f}"] and rows[0][5].startswith(f"{want['panorama_stars']} ★")
    assert browser.eval("[...document.querySelectorAll('#rp-year option')].map(o => o.text)") == ["2013", "2014", "2015"]
    # compare: a second region beside the first, each with its own name and table
    browser.eval("(() => { const s = document.getElementById('rp-compare'); s.value = 'Lombardia'; s.dispatchEvent(new Event('change')); })()")
    assert wait_for(browser, "document.body.getAttribute('data-region-profile') === 'nuts2/DE11|nuts2/ITC4'")
    assert browser.eval("[...document.querySelectorAll('#rp-body .profile h3')].map(h => h.textContent)") == [
        "Stuttgart (NUTS 2 region DE11)", "Lombardia (NUTS 2 region ITC4)"]  # fmt: skip
    assert "compare=nuts2/ITC4" in browser.eval("location.hash")
    assert browser.errors() == []


def test_cluster_profile_ranks_regions_by_name(release, browser: Page) -> None:
    r, tables = release
    open_page(browser, r.path / "index.html", "#view=cluster&cluster=5&year=2011")
    assert wait_for(browser, "document.body.getAttribute('data-cluster-profile')") == "5/us/2011"
    assert browser.eval("document.querySelector('#cp-body h3').textContent").startswith("Biopharmaceuticals")
    ci = tables["cluster_indicators"].filter((pl.col("cluster_code") == "5") & (pl.col("year") == 2011))
    names = dict(zip(tables["regions"]["region_code"], tables["regions"]["region_name"], strict=True))
    by_emp = _cells(browser, "#cp-body .pair > div:first-child tbody tr")
    by_lq = _cells(browser, "#cp-body .pair > div:last-child tbody tr")
    want_emp = ci.sort("emp", descending=True)["region_code"].to_list()
    want_lq = ci.sort("lq", descending=True)["region_code"].to_list()
    assert [row[0] for row in by_emp] == [f"{names[c]} ({c})" for c in want_emp]
    assert [row[0] for row in by_lq] == [f"{names[c]} ({c})" for c in want_lq]
    assert browser.errors() == []


def test_the_page_is_rebuilt_from_the_release_folder(release) -> None:
    r, _ = release
    page = r.path / "index.html"
    page.write_text("stale")
    assert rebuild_release_page(r.path) == page and "Region profile" in page.read_text()


def test_us_drill_down_shows_the_region_industries_weighted_as_the_cluster_figures(tmp_path: Path, browser: Page) -> None:
    rng = random.Random(4)
    tables = sample_tables(years=(2010, 2011))
    tables["cluster_indicators"] = tables["cluster_indicators"].with_columns(definition_vintage=pl.lit("2007"))
    naics = {"naics_vintage": ["2007", "2007", "2007"], "naics": ["325411", "325412", "325412"], "cluster_code": ["5", "5", "14"],
             "naics_title": ["Medicinal and Botanical Manufacturing", "Pharmaceutical Preparation Manufacturing", "Pharmaceutical Preparation Manufacturing"],
             "weight": [1.0, 0.5, 0.5]}  # fmt: skip
    ind = {"year": [2011, 2011, 2010], "region_type": ["state"] * 3, "region_code": ["48"] * 3, "classification": ["NAICS2007"] * 3,
           "industry_code": ["325411", "325412", "325411"], "industry_level": [6, 6, 6], "lfo": ["-"] * 3, "emp": [1000.0, 3001.0, 7.0]}  # fmt: skip
    tables["cluster_naics"] = complete_table("cluster_naics", naics, rng)
    tables["industry_employment"] = complete_table("industry_employment", ind, rng)
    r = publish_sample(tmp_path / "releases", tables=tables)
    open_page(browser, r.path / "index.html", "#region=state/48&cluster=5")
    text = wait_for(browser, "[...document.querySelectorAll('.profile p')].map(p => p.textContent).find(t => t.includes('six-digit industries ('))")
    # the region's latest year; the split industry counts with its weight (3001 × 0.5 → 1,501)
    assert text.startswith("Biopharmaceuticals in Texas, 2011: 2,501 jobs in 2 six-digit industries (NAICS 2007"), text
    rows = browser.eval("[...document.querySelectorAll('.profile table')].map(t => [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent))).find(t => t.length && t[0][1] === '325412')")
    assert rows == [["Pharmaceutical Preparation Manufacturing", "325412", "", "1,501"], ["Medicinal and Botanical Manufacturing", "325411", "", "1,000"]]
    assert browser.errors() == []


def test_portfolio_growth_uses_the_constant_definition_series_when_the_release_has_it(release, browser: Page) -> None:
    r, tables = release
    tx = tables["cluster_indicators"].filter((pl.col("region_code") == "48") & (pl.col("cluster_type") == "traded"))
    # a constant-definition series that differs from the native one: 2009 doubled for cluster 5
    series = tx.select(
        pl.lit("us").alias("side"), "year", "region_type", "region_code", pl.lit(None, pl.String).alias("nuts_version"), "cluster_code",
        pl.when((pl.col("cluster_code") == "5") & (pl.col("year") == 2009)).then(pl.col("emp") * 2).otherwise(pl.col("emp")).alias("emp"),
    )  # fmt: skip
    series.write_parquet(r.path / "data" / "cluster_timeseries.parquet")
    rebuild_release_page(r.path)
    open_page(browser, r.path / "index.html", "#region=state/48&year=2011&from=2009")
    tip = browser.eval("[...document.querySelectorAll('#rp-body circle.bubble title')].map(t => t.textContent).find(t => t.startsWith('Biopharmaceuticals'))")
    e = {y: v for y, v in tx.filter(pl.col("cluster_code") == "5").select("year", "emp").iter_rows()}
    assert f"growth {100 * (e[2011] / (2 * e[2009]) - 1):.1f} %" in tip, tip
    assert "constant-definition series" in browser.eval("document.querySelector('#rp-body p.note').textContent")
    # the cluster profile's trend sums the same series (here only Texas has one)
    cp = wait_for(browser, "(document.querySelector('#cp-body .summary') || {}).textContent")
    assert "the sum over the 1 US states" in cp and "constant-definition series (cluster_timeseries)" in cp, cp
    # a year the constant series does not reach (as NAICS 1997 years) is not offered as a window start
    assert browser.eval("[...document.querySelectorAll('#rp-from option')].map(o => o.text)") == ["2009", "2010"]
    series.filter(pl.col("year") > 2009).write_parquet(r.path / "data" / "cluster_timeseries.parquet")
    rebuild_release_page(r.path)
    browser.send("Page.navigate", {"url": "about:blank"})  # a new document, not a fragment change
    browser.drain(0.3)
    open_page(browser, r.path / "index.html", "#region=state/48&year=2011")
    assert browser.eval("[...document.querySelectorAll('#rp-from option')].map(o => o.text)") == ["2010"]
    assert browser.eval("document.querySelectorAll('#rp-body circle.bubble').length") == 4
    assert browser.errors() == []


@pytest.mark.mirror
def test_cluster_deep_link_points_the_map_at_the_cluster_and_measure(tmp_path: Path, mirror_dir: Path, browser: Page) -> None:
    tables = sample_tables(years=(2009, 2010, 2011))
    geo = {"geometry/states-albers-10m.json": mirror_dir / "cdn.jsdelivr.net/npm/us-atlas@3.0.1/states-albers-10m.json"}
    r = publish_sample(tmp_path / "releases", tables=tables, extra_files=geo)
    open_page(browser, r.path / "index.html", "#view=cluster&cluster=5&year=2010&measure=emp")
    assert wait_for(browser, "document.body.getAttribute('data-cluster-profile')") == "5/us/2010"
    title = wait_for(browser, "(document.querySelector('#map svg text.ctitle') || {}).textContent")
    assert title == "Employment — Biopharmaceuticals, US states, 2010", title
    want = tables["cluster_indicators"].filter((pl.col("cluster_code") == "5") & (pl.col("year") == 2010) & (pl.col("region_code") == "48"))["emp"][0]
    assert float(browser.eval("document.querySelector('#map path.region[data-code=\"48\"]').getAttribute('data-value')")) == want
    # choosing another measure on the map writes it into the address
    browser.eval("(() => { const m = document.getElementById('map-measure'); m.value = [...m.options].find(o => o.text.startsWith('Location')).value; m.dispatchEvent(new Event('change')); })()")
    assert "measure=lq" in browser.eval("location.hash")
    assert browser.errors() == []


def test_strong_cluster_network_joins_related_strong_clusters_once(tmp_path: Path, browser: Page) -> None:
    rng = random.Random(6)
    tables = sample_tables(years=(2010, 2011))
    links = {"region_type": ["state"] * 4, "region_code": ["48"] * 4, "cluster_code": ["1", "5", "14", "10"], "year": [2011] * 4,
             "lq": [2.0, 1.5, 1.2, 0.5], "strong": [True, True, True, False], "n_related": [3, 2, 1, 2], "n_related_strong": [1, 1, 0, 1],
             "strong_related_clusters": ["5", "1", None, "1"]}  # fmt: skip
    tables["cluster_links"] = complete_table("cluster_links", links, rng)
    r = publish_sample(tmp_path / "releases", tables=tables)
    open_page(browser, r.path / "index.html", "#region=state/48")
    nodes = wait_for(browser, "[...document.querySelectorAll('#rp-body circle.node title')].map(t => t.textContent)")
    # the strong clusters are the nodes (not cluster 10); 1–5 is one line although both list it
    assert nodes == ["Aerospace Vehicles and Defense", "Biopharmaceuticals", "Financial Services"]
    assert browser.eval("[...document.querySelectorAll('#rp-body line.edge title')].map(t => t.textContent)") == ["Aerospace Vehicles and Defense – Biopharmaceuticals"]
    assert browser.errors() == []
