"""Sections of the release page built from the release's metadata: coverage, changes, tables,
how to read, downloads and sources."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.raw.archive import sha256_file
from pipelines.release.catalog.markup import esc, human_size
from pipelines.release.coverage import (
    coverage_by_type,
    partial_sources,
    partial_statement,
    years_sentence,
)


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
