"""Static, self-contained catalog pages (no network at view time): inline CSS, inline JS that
draws SVG charts from compact JSON extracted from the release with DuckDB."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from pipelines.raw.archive import sha256_file
from pipelines.release.catalog.maps import maps_html
from pipelines.release.catalog.markup import esc, human_size

HERE = Path(__file__).resolve().parent
CHART_TABLES = ("cluster_indicators", "clusters", "regions")


def _nuts_names(folder: Path) -> list[tuple[str, str, str]]:
    """(region_type, code, name) of the NUTS regions named in the release's map geometry (NUTS 2021
    GeoJSON, properties id / na): the names of the NUTS 2 regions the EU charts show."""
    from pipelines.sources import geometry

    _, _, name = geometry.FILES["nuts2"]
    path = folder / "geometry" / name
    if not path.exists():
        return []
    feats = json.loads(path.read_text(encoding="utf-8")).get("features", [])
    props = [f.get("properties") or {} for f in feats]
    return [(f"nuts{len(str(p['id'])) - 2}", str(p["id"]), str(p["na"])) for p in props if p.get("id") and p.get("na")]


def chart_data(folder: Path) -> dict[str, Any] | None:
    """Compact JSON for the charts: regions (US, EU NUTS and custom, with names and side), traded
    clusters (with names), years, and LQ and employment per region × cluster × year (index arrays,
    null where absent). Clusters are the US benchmark definitions on both sides."""
    data = folder / "data"
    if not all((data / f"{t}.parquet").exists() for t in CHART_TABLES):
        return None

    def src(t: str) -> str:
        return "read_parquet('" + str(data / f"{t}.parquet").replace("'", "''") + "')"

    con = duckdb.connect()
    try:
        for t in CHART_TABLES:
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM {src(t)}")
        con.execute("CREATE TABLE nuts_names (region_type VARCHAR, region_code VARCHAR, region_name VARCHAR)")
        nuts = _nuts_names(folder)
        if nuts:
            con.executemany("INSERT INTO nuts_names VALUES (?, ?, ?)", nuts)
        names = "SELECT region_type, region_code, region_name FROM regions UNION ALL SELECT * FROM nuts_names"
        if (data / "custom_regions.parquet").exists():  # user-defined groups carry their own names
            names += f" UNION ALL SELECT region_type, region_code, region_name FROM {src('custom_regions')}"
        con.execute(f"CREATE VIEW region_names AS {names}")
        cols = "region_type, region_code, cluster_code, year, emp, lq"
        union = f"SELECT 'us' AS side, {cols} FROM cluster_indicators WHERE cluster_type = 'traded'"
        if (data / "eu_cluster_indicators.parquet").exists():
            # one row per region × cluster × year (the primary key adds nuts_version: keep the newest)
            union += (
                f" UNION ALL SELECT 'eu', {cols} FROM {src('eu_cluster_indicators')} WHERE cluster_type = 'traded'"
                " QUALIFY row_number() OVER (PARTITION BY region_type, region_code, cluster_code, year ORDER BY nuts_version DESC) = 1"
            )
        con.execute(f"CREATE TABLE traded AS {union}")
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
        for side, rt, rc, cc, y, e, q in con.execute(f"SELECT side, {cols} FROM traded").fetchall():
            ri, ci = rix[(side, rt, rc)], cix[cc]
            if emp[ri][ci] is None:
                n = yix[span[(side, rt, rc)][1]] - first[ri] + 1
                emp[ri][ci] = [None] * n
                lq[ri][ci] = [None] * n
            k = yix[y] - first[ri]
            emp[ri][ci][k] = None if e is None else round(e)  # type: ignore[index]
            # 4 dp: the 2-dp labels are not double-rounded (3.1249 → 3.125 → 3.13)
            lq[ri][ci][k] = None if q is None else round(q, 4)  # type: ignore[index]
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


def release_files(folder: Path, package: Mapping[str, Any]) -> list[tuple[str, int, str]]:
    """(path, bytes, sha256) of every file of a release (from SHA256SUMS when written)."""
    sums = folder / "SHA256SUMS"
    if sums.exists():
        out = []
        for line in sums.read_text().splitlines():
            if line.strip():
                digest, rel = line.split("  ", 1)
                out.append((rel, (folder / rel).stat().st_size if (folder / rel).exists() else 0, digest))
        return out
    known = {r["path"]: r["hash"].removeprefix("sha256:") for r in package.get("resources", []) if "hash" in r}
    return [
        (p.relative_to(folder).as_posix(), p.stat().st_size, known.get(p.relative_to(folder).as_posix()) or sha256_file(p))
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in {"index.html", "SHA256SUMS"} and not p.name.startswith(".")
    ]


def howto_html(base: str, example: tuple[str, str]) -> str:
    """The "How to read" section: reading one region of cluster_indicators with DuckDB, Polars, pandas and R."""
    rt, rc = example
    path = f"{base}data/cluster_indicators.parquet"
    return f"""
<p>Files are plain Parquet sorted by region, cluster and year, with small row groups: a filter on one region
reads a small part of a file, also over HTTP. Replace the path by the file's URL to read it remotely; the
<code>latest/</code> folder always points at the newest release.</p>
<h3>DuckDB</h3>
<pre>SELECT cluster_code, year, emp, lq
FROM read_parquet('{esc(path)}')
WHERE region_type = '{esc(rt)}' AND region_code = '{esc(rc)}'
ORDER BY lq DESC;
-- remote: INSTALL httpfs; LOAD httpfs; then read_parquet('https://…/releases/latest/data/cluster_indicators.parquet')</pre>
<h3>Polars</h3>
<pre>import polars as pl
df = (pl.scan_parquet("{esc(path)}")
        .filter((pl.col("region_type") == "{esc(rt)}") &amp; (pl.col("region_code") == "{esc(rc)}"))
        .collect())</pre>
<h3>pandas</h3>
<pre>import pandas as pd
df = pd.read_parquet("{esc(path)}",
                     filters=[("region_type", "==", "{esc(rt)}"), ("region_code", "==", "{esc(rc)}")])</pre>
<h3>R (arrow)</h3>
<pre>library(arrow); library(dplyr)
df &lt;- open_dataset("{esc(path)}") |&gt;
  filter(region_type == "{esc(rt)}", region_code == "{esc(rc)}") |&gt;
  collect()</pre>
<p class="muted">Check a download: <code>sha256sum -c SHA256SUMS</code> in the release folder, or
<code>observatory releases verify VERSION</code>.</p>"""


def tables_html(package: Mapping[str, Any], base: str) -> str:
    """The "Tables" section: one collapsible entry per Parquet table (columns, key, downloads, hash)."""
    out = []
    csv = {r["name"].removesuffix("-csv"): r for r in package["resources"] if r.get("format") == "csv" and r.get("type") == "table"}
    for r in package["resources"]:
        if r.get("format") != "parquet":
            continue
        sch = r["schema"]
        rows = "".join(
            f"<tr><td><code>{esc(f['name'])}</code></td><td>{esc(f.get('type'))}</td><td>{esc(f.get('unit', ''))}</td><td>{esc(f.get('description', ''))}</td></tr>"
            for f in sch["fields"]
        )
        dl = f'<a href="{esc(base + r["path"])}">Parquet</a> ({human_size(r.get("bytes"))})'
        if r["name"] in csv:
            c = csv[r["name"]]
            dl += f' · <a href="{esc(base + c["path"])}">CSV</a> ({human_size(c.get("bytes"))})'
        out.append(
            f"""<details class="table" id="table-{esc(r['name'])}"><summary><strong>{esc(r['name'])}</strong> — {esc(r.get('title', ''))}
<span class="muted">({r.get('rows', 0):,} rows; {dl})</span></summary>
<p>{esc(r.get('description', ''))}</p>
<p>Primary key: <code>{esc(', '.join(sch.get('primaryKey', [])))}</code> · sorted by <code>{esc(', '.join(r.get('sortedBy', [])))}</code>
· sha256 <code class="hash">{esc(r.get('hash', '').removeprefix('sha256:'))}</code></p>
<table><thead><tr><th>column</th><th>type</th><th>unit</th><th>description</th></tr></thead><tbody>{rows}</tbody></table></details>"""
        )
    return "\n".join(out)


def downloads_html(folder: Path, package: Mapping[str, Any], base: str) -> str:
    """The "Downloads" section: every file of the release with its size and sha256."""
    rows = "".join(
        f'<tr><td><a href="{esc(base + rel)}">{esc(rel)}</a></td><td class="num">{human_size(n)}</td><td><code class="hash">{esc(d)}</code></td></tr>'
        for rel, n, d in release_files(folder, package)
    )
    return f'<table><thead><tr><th>file</th><th class="num">size</th><th>sha256</th></tr></thead><tbody>{rows}</tbody></table>'


def changes_html(folder: Path, base: str) -> str:
    """The "Changes" section: what changed since the previous release (from diff.json)."""
    p = folder / "diff.json"
    if not p.exists():
        return "<p class='muted'>No change record.</p>"
    diff = json.loads(p.read_text())
    if not diff.get("from"):
        return f'<p>Initial release. <a href="{esc(base)}CHANGELOG.md">CHANGELOG.md</a></p>'
    rows = []
    for name, t in diff.get("tables", {}).items():
        if t.get("status") == "unchanged":
            continue
        top = ", ".join(f"{c} ({v['rows']:,})" for c, v in sorted((t.get("values_changed") or {}).items(), key=lambda kv: -kv[1]["rows"])[:4])
        rows.append(
            f"<tr><td>{esc(name)}</td><td>{esc(t.get('status'))}</td><td class='num'>{t.get('rows_added', {}).get('count', 0):,}</td>"
            f"<td class='num'>{t.get('rows_removed', {}).get('count', 0):,}</td><td class='num'>{t.get('rows_changed', 0):,}</td><td>{esc(top)}</td></tr>"
        )
    body = (
        "<table><thead><tr><th>table</th><th>status</th><th class='num'>rows added</th><th class='num'>removed</th>"
        "<th class='num'>rows with changed values</th><th>columns changed most</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        if rows else "<p>No table changed.</p>"
    )  # fmt: skip
    return f'<p>Compared with {esc(diff["from"])}: <a href="{esc(base)}CHANGELOG.md">CHANGELOG.md</a>, <a href="{esc(base)}diff.json">diff.json</a>.</p>{body}'


def sources_html(package: Mapping[str, Any]) -> str:
    """The "Sources" section: the raw files with URL, retrieval time, licence and sha256."""
    rows = "".join(
        f"<tr><td>{esc(s['title'])}</td><td><a href=\"{esc(s['path'])}\">{esc(s['path'])}</a></td><td>{esc(s.get('retrieved_at', ''))}</td>"
        f"<td>{esc('; '.join(x.get('title', x.get('name', '')) for x in s.get('licenses', [])))}<br><span class='muted'>{esc(s.get('attribution', ''))}</span></td>"
        f"<td><code class='hash'>{esc(s.get('sha256', ''))}</code></td></tr>"
        for s in package.get("sources", [])
    )
    return f"<table><thead><tr><th>source</th><th>URL</th><th>retrieved</th><th>licence / attribution</th><th>sha256 of raw file</th></tr></thead><tbody>{rows}</tbody></table>"


def coverage_html(package: Mapping[str, Any], base: str) -> str:
    """What the release covers, and — in a box a reader cannot miss — whether it rests on partial
    inputs, with the per-year coverage of the 6-digit detail (datapackage `coverage`)."""
    from pipelines.release.releases import (
        coverage_by_type,
        partial_sources,
        partial_statement,
        years_sentence,
    )

    parts = []
    caveat = partial_statement(package)
    if caveat:
        parts.append(f'<div class="notice"><strong>Partial data.</strong> {esc(caveat.removeprefix("PARTIAL DATA. "))}</div>')
    years = years_sentence(package)
    if years:
        parts.append(f"<p>Region types and years present — {esc(years)}.</p>")
    rows = "".join(
        f"<tr><td>{esc(r['year'])}</td><td>{esc(rtype)}</td><td class='num'>{esc(r['regions'])}</td>"
        + "".join(
            f"<td class='num'>{'n/a' if r.get(k) is None else f'{100 * r[k]:.1f} %'}</td>"
            for k in ("coverage", "coverage_reported", "coverage_min", "coverage_max")
        )
        + f"<td class='num'>{esc(r.get('regions_below'))}</td></tr>"
        for rtype, rs in coverage_by_type(package).items()
        for r in rs
    )
    if rows:
        parts.append(
            "<p>Share of the source files' total employment the 6-digit industry rows account for "
            "(reported cells plus midpoints of suppressed ones); per region and year in "
            "<code>region_indicators.coverage</code>"
            + (f', notes in <a href="{esc(base)}notes/coverage.md">notes/coverage.md</a>' if (package.get("notes") and "notes/coverage.md" in package["notes"]) else "")
            + ".</p><table><thead><tr><th>year</th><th>region type</th><th class='num'>regions</th><th class='num'>coverage (pooled)</th>"
            "<th class='num'>reported only</th><th class='num'>lowest region</th><th class='num'>highest region</th>"
            f"<th class='num'>regions below threshold</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    partial = partial_sources(package.get("sources", []))
    if partial:
        items = "".join(f"<li><strong>{esc(g['sources'])}</strong>: {esc(g['note'])}</li>" for g in partial)
        parts.append(f"<p>Partial source files (kind <code>partial-reconstruction</code>):</p><ul>{items}</ul>")
    return "".join(parts) or "<p class='muted'>No coverage information in this release.</p>"


def _json_script(data: Any) -> str:
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def _body(folder: Path, package: Mapping[str, Any], base: str) -> str:
    from pipelines.release.catalog.families_section import (
        release_page_html,  # issue 12: the indicator families' section
    )

    data = chart_data(folder)
    validation = [r for r in package.get("resources", []) if str(r.get("path", "")).startswith("validation/")]
    val_html = (
        "Validation report: " + ", ".join(f'<a href="{esc(base + r["path"])}">{esc(r["path"])}</a>' for r in validation)
        if validation else "<span class='muted'>No validation report in this release.</span>"
    )  # fmt: skip
    bundle = next((p for p in folder.glob("*.zip")), None)
    bundle_html = f'<a href="{esc(base + bundle.name)}">{esc(bundle.name)}</a> ({human_size(bundle.stat().st_size)})' if bundle else ""
    example = ("state", "06")
    if data and data["regions"]:
        example = tuple(data["regions"][data["defaultRegion"]][:2])  # type: ignore[assignment]
    charts = (
        '<p class="muted">The charts need the cluster_indicators, clusters and regions tables.</p>'
        if data is None
        else f"""<div class="controls"><label>Region <select id="region-select"></select></label>
<label>Cluster <select id="cluster-select"></select></label>
<label>Year <select id="year-select"></select></label></div>
<div class="charts"><div id="chart-lq"></div><div id="chart-composition"></div><div id="chart-trend"></div></div>
<script type="application/json" id="chart-data">{_json_script(data)}</script>"""
    )
    code = package.get("code", {})
    return f"""
<section id="overview"><h2>Release {esc(package['version'])}</h2>
<p>{esc(package.get('description', ''))}</p>
<p>Created {esc(package.get('created'))} · code {esc(code.get('git_commit', code.get('package_version', '')))} ·
licence <a href="{esc(package['licenses'][0].get('path', ''))}">{esc(package['licenses'][0].get('name'))}</a> ·
national reference: {esc(package.get('national_reference', 'n/a'))}</p>
<p>Download everything: {bundle_html} · <a href="{esc(base)}datapackage.json">datapackage.json</a> ·
<a href="{esc(base)}dataset.jsonld">dataset.jsonld</a> · <a href="{esc(base)}CITATION.cff">CITATION.cff</a> ·
<a href="{esc(base)}SHA256SUMS">SHA256SUMS</a></p>
<p>{val_html}</p></section>
<section id="coverage"><h2>Coverage</h2>{coverage_html(package, base)}</section>
<section id="charts"><h2>Charts</h2>{charts}</section>
<section id="maps"><h2>Maps</h2>{maps_html(folder)}</section>
{release_page_html(folder)}
<section id="changes"><h2>Changes</h2>{changes_html(folder, base)}</section>
<section id="tables"><h2>Tables</h2>{tables_html(package, base)}</section>
<section id="howto"><h2>How to read</h2>{howto_html(base, example)}</section>
<section id="downloads"><h2>Downloads</h2>{downloads_html(folder, package, base)}</section>
<section id="sources"><h2>Sources</h2>{sources_html(package)}</section>
"""


def _page(title: str, header: str, body: str, with_js: bool) -> str:
    css = (HERE / "catalog.css").read_text()
    js = (HERE / "catalog.js").read_text() if with_js else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<link rel="icon" href="data:,">
<style>{css}</style></head>
<body><header>{header}</header>
<main><nav><a href="#coverage">Coverage</a><a href="#charts">Charts</a><a href="#maps">Maps</a><a href="#changes">Changes</a><a href="#tables">Tables</a><a href="#howto">How to read</a><a href="#downloads">Downloads</a><a href="#sources">Sources</a></nav>
{body}</main>
<script>{js}</script>
</body></html>
"""


def render_release_page(folder: Path, package: Mapping[str, Any]) -> str:
    header = (
        f"<h1>Cluster Observatory — {esc(package['version'])}</h1>"
        f"<p>{esc(package['title'])} · <a href=\"../index.html\">all releases</a></p>"
    )
    return _page(f"Cluster Observatory {package['version']}", header, _body(folder, package, ""), True)


def render_catalog_index(releases_dir: Path) -> str:
    from pipelines.layout import read_latest
    from pipelines.release.publish import list_versions

    versions = list_versions(releases_dir)
    latest = (read_latest(releases_dir) or {}).get("version")
    rows = []
    for v in reversed(versions):
        pkg = json.loads((releases_dir / v / "datapackage.json").read_text())
        tables = [r for r in pkg["resources"] if r.get("format") == "parquet"]
        diff_p = releases_dir / v / "diff.json"
        changed = ""
        if diff_p.exists():
            d = json.loads(diff_p.read_text())
            changed = "initial release" if not d.get("from") else f"vs {d['from']}: {', '.join(d['summary']['tables_changed']) or 'no table changed'}"
        tag = ' <span class="tag latest">latest</span>' if v == latest else ""
        if any((s.get("mirror_kind") == "partial-reconstruction") for s in pkg.get("sources", [])):
            tag += ' <span class="tag partial">partial inputs</span>'
        rows.append(
            f'<tr><td><a href="{esc(v)}/index.html">{esc(v)}</a>{tag}</td><td>{esc(pkg.get("created"))}</td>'
            f'<td class="num">{len(tables)}</td><td class="num">{human_size(sum(r.get("bytes", 0) for r in tables))}</td>'
            f'<td>{esc(changed)}</td><td><a href="{esc(v)}/datapackage.json">datapackage</a> · <a href="{esc(v)}/SHA256SUMS">SHA256SUMS</a></td></tr>'
        )
    releases_html = (
        '<section id="releases"><h2>Releases</h2><table><thead><tr><th>version</th><th>created</th><th class="num">tables</th>'
        '<th class="num">Parquet size</th><th>changes</th><th>metadata</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></section>"
        if rows else '<section id="releases"><h2>Releases</h2><p>No release published yet.</p></section>'
    )  # fmt: skip
    header = "<h1>Cluster Observatory — data releases</h1><p>Regional cluster indicators (clustermapping.us method), versioned and immutable.</p>"
    if latest and latest in versions:
        folder = releases_dir / latest
        pkg = json.loads((folder / "datapackage.json").read_text())
        return _page("Cluster Observatory releases", header, releases_html + _body(folder, pkg, f"{latest}/"), True)
    return _page("Cluster Observatory releases", header, releases_html, False)
