"""Static, self-contained catalog pages (no network at view time): inline CSS, inline JS that
draws SVG charts from compact JSON extracted from the release with DuckDB."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.layout import read_latest
from pipelines.release.catalog.families_section import release_page_html
from pipelines.release.catalog.maps import maps_html
from pipelines.release.catalog.markup import esc, human_size
from pipelines.release.catalog.profiles import profile_scripts, profiles_html
from pipelines.release.catalog.sections import (
    changes_html,
    coverage_html,
    downloads_html,
    howto_html,
    sources_html,
    tables_html,
)
from pipelines.release.readme import METHOD_REFERENCES
from pipelines.release.versions import list_versions

HERE = Path(__file__).resolve().parent


# A publish renders the same release twice, as its own page and inside releases/index.html (first
# from the temporary folder, then from the published one). The heavy sections read only the
# release's data/ and geometry/ files, so they are rendered once for the same package and files.
_HEAVY: dict[str, tuple[str, str, str, str]] = {}


def _heavy_sections(folder: Path, package: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(profiles, example, maps, families) of a release, rendered once per package and file set."""
    files = sorted(
        (p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
        for sub in ("data", "geometry") if (folder / sub).is_dir()
        for p in (folder / sub).rglob("*") if p.is_file()
    )  # fmt: skip
    key = hashlib.sha256(json.dumps([package, files], sort_keys=True, default=str).encode()).hexdigest()
    if key not in _HEAVY:
        _HEAVY.clear()  # one release at a time: the pages are megabytes
        profiles, example = profiles_html(folder)
        _HEAVY[key] = (profiles, example, maps_html(folder), release_page_html(folder))
    return _HEAVY[key]


def _body(folder: Path, package: Mapping[str, Any], base: str) -> str:
    profiles, example, maps, families = _heavy_sections(folder, package)
    validation = [r for r in package.get("resources", []) if str(r.get("path", "")).startswith("validation/")]
    val_html = (
        "Validation report: " + ", ".join(f'<a href="{esc(base + r["path"])}">{esc(r["path"])}</a>' for r in validation)
        if validation else "<span class='muted'>No validation report in this release.</span>"
    )  # fmt: skip
    bundle = next((p for p in folder.glob("*.zip")), None)
    bundle_html = f'<a href="{esc(base + bundle.name)}">{esc(bundle.name)}</a> ({human_size(bundle.stat().st_size)})' if bundle else ""
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
{profiles}
<section id="maps"><h2>Maps</h2>{maps}</section>
<section id="coverage"><h2>Coverage</h2>{coverage_html(package, base)}</section>
{families}
<section id="changes"><h2>Changes</h2>{changes_html(folder, base)}</section>
<section id="tables"><h2>Tables</h2>{tables_html(package, base)}</section>
<section id="howto"><h2>How to read</h2>{howto_html(base, example)}</section>
<section id="cite"><h2>How to cite</h2><p>Cite the release with <a href="{esc(base)}CITATION.cff">CITATION.cff</a>
(what is in the release and how to read it: <a href="{esc(base)}README.md">README.md</a>). The methods:</p>
<ul>{"".join(f"<li>{esc(ref)}</li>" for ref in METHOD_REFERENCES)}</ul></section>
<section id="downloads"><h2>Downloads</h2>{downloads_html(folder, package, base)}</section>
<section id="sources"><h2>Sources</h2>{sources_html(package)}</section>
"""


def _page(title: str, header: str, body: str, with_js: bool) -> str:
    css = (HERE / "catalog.css").read_text()
    js = profile_scripts() if with_js else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<link rel="icon" href="data:,">
<style>{css}</style></head>
<body><header>{header}</header>
<main><nav><a href="#region-profile">Region profile</a><a href="#cluster-profile">Cluster profile</a><a href="#maps">Maps</a><a href="#coverage">Coverage</a><a href="#changes">Changes</a><a href="#tables">Tables</a><a href="#howto">How to read</a><a href="#cite">How to cite</a><a href="#downloads">Downloads</a><a href="#sources">Sources</a>
<label class="find">Find <input id="obs-search" class="search" list="obs-names" placeholder="a region or cluster, e.g. Stuttgart" autocomplete="off"></label><span id="obs-search-msg" class="muted"></span><datalist id="obs-names"></datalist></nav>
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
