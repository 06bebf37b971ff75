"""The validation report: results.json, report.md and report.html (the release publishes them),
the per-run report the Dagster checks add to, and the console's "release blocked" message."""

from __future__ import annotations

import html
import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipelines.layout import report_dir
from pipelines.validation.results import SAMPLE_ROWS, Outcome, SuiteResult
from pipelines.validation.suites import SUITE_DIR, load_suite


def format_cell(v: Any, width: int = 60) -> str:
    """A value as one markdown table cell: JSON for dicts/lists, pipes escaped, one line, at most `width` characters."""
    s = json.dumps(v, default=str) if isinstance(v, (dict, list)) else ("" if v is None else str(v))
    s = s.replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= width else s[: width - 1] + "…"


def markdown_table(rows: Sequence[Mapping[str, Any]], limit: int = SAMPLE_ROWS) -> str:
    if not rows:
        return ""
    cols: list[str] = []
    for r in rows[:limit]:
        cols += [c for c in r if c not in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(format_cell(r.get(c), 40) for c in cols) + " |" for r in rows[:limit]]
    return "\n".join(lines)


def outcomes_markdown(outcomes: Iterable[Outcome], samples: bool = True) -> str:
    outs = list(outcomes)
    lines = [
        "| status | severity | expectation | check | observed | failing | rows checked |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outs:
        lines.append(
            f"| {o.status.upper() if o.failed else o.status} | {o.severity} | `{o.id}` | {format_cell(o.expectation, 50)} | "
            f"{format_cell(o.observed, 50)} | {o.failing_count} | {'' if o.element_count is None else o.element_count} |"
        )
    if samples:
        for o in outs:
            if o.failed and (o.sample or o.message):
                lines += ["", f"**{o.id}** ({o.severity}): {o.description} {o.message}".rstrip(), ""]
                if o.sample:
                    lines.append(markdown_table(o.sample))
    return "\n".join(lines)


def render_markdown(results: Sequence[SuiteResult], title: str = "Validation report") -> str:
    n_err = sum(len(r.blocking_failures) for r in results)
    n_warn = sum(len(r.warnings) for r in results)
    n_all = sum(len(r.outcomes) for r in results)
    out = [
        f"# {title}",
        "",
        f"{len(results)} suite runs, {n_all} expectations: {n_err} failed errors, {n_warn} warnings. "
        "Errors block publishing; warnings are reported only. Suites: assets/expectations/; "
        "SQL checks: sql/checks/.",
        "",
    ]
    for r in results:
        suite = load_suite(r.suite) if (SUITE_DIR / f"{r.suite}.yaml").exists() else None
        head = f"## {r.suite} on `{r.table}`" + (f" ({r.scope})" if r.scope else "")
        status = "PASSED" if r.success else "FAILED"
        out += [head, "", f"{status}{' with warnings' if r.success and r.warnings else ''} — {r.rows if r.rows is not None else '?'} rows, validated {r.validated_at}", ""]
        if suite and suite.description:
            out += [suite.description, ""]
        out += [outcomes_markdown(r.outcomes), ""]
        descs = [(o.id, o.description) for o in r.outcomes if o.description]
        if descs:
            out += ["<details><summary>What each expectation checks</summary>", ""]
            out += [f"- `{i}`: {d}" for i, d in descs]
            out += ["", "</details>", ""]
    return "\n".join(out)


def render_html(results: Sequence[SuiteResult], title: str = "Validation report") -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}"
        ".failed.error{background:#fdd}.failed.warning{background:#ffd}.skipped{color:#888}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    for r in results:
        parts.append(f"<h2>{e(r.suite)} on <code>{e(r.table)}</code> {e(r.scope)} — {'PASSED' if r.success else 'FAILED'}</h2>")
        parts.append(f"<p>{r.rows} rows; validated {e(r.validated_at)}</p>")
        parts.append("<table><tr><th>status</th><th>severity</th><th>id</th><th>expectation</th><th>description</th><th>observed</th><th>failing</th><th>checked</th></tr>")
        for o in r.outcomes:
            parts.append(
                f"<tr class='{o.status} {o.severity}'><td>{o.status}</td><td>{o.severity}</td><td>{e(o.id)}</td>"
                f"<td>{e(o.expectation)}</td><td>{e(o.description)}</td><td>{e(format_cell(o.observed, 80))}</td>"
                f"<td>{o.failing_count}</td><td>{'' if o.element_count is None else o.element_count}</td></tr>"
            )
        parts.append("</table>")
        for o in r.outcomes:
            if o.failed and o.sample:
                cols: list[str] = []
                for row in o.sample:
                    cols += [c for c in row if c not in cols]
                parts.append(f"<p><b>{e(o.id)}</b>: sample of failing rows</p><table><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
                for row in o.sample:
                    parts.append("<tr>" + "".join(f"<td>{e(format_cell(row.get(c), 40))}</td>" for c in cols) + "</tr>")
                parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    results: Sequence[SuiteResult], dest: Path, title: str = "Validation report", extra: Mapping[str, Any] | None = None
) -> dict[str, Path]:
    """validation/results.json, report.md and report.html in `dest` (each replaced atomically)."""
    dest.mkdir(parents=True, exist_ok=True)
    summary = {
        "success": all(r.success for r in results),
        "failed_errors": sum(len(r.blocking_failures) for r in results),
        "failed_warnings": sum(len(r.warnings) for r in results),
        "expectations": sum(len(r.outcomes) for r in results),
        **(extra or {}),
        "suites": [r.to_dict() for r in results],
    }
    files = {
        "results.json": json.dumps(summary, indent=2, default=str) + "\n",
        "report.md": render_markdown(results, title),
        "report.html": render_html(results, title),
    }
    out = {}
    for name, text in files.items():
        tmp = dest / f".{name}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(text)
        os.replace(tmp, dest / name)
        out[name] = dest / name
    return out




def write_run_report(warehouse: Path, results: Sequence[SuiteResult], run_id: str) -> dict[str, Path]:
    """Add one check's results to the report of run `run_id` (a report of another run is replaced),
    so a run whose blocking check fails leaves its own report, not the previous run's."""
    dest = report_dir(warehouse)
    merged: list[SuiteResult] = []
    try:
        prev = json.loads((dest / "results.json").read_text())
        if prev.get("run_id") == run_id:
            merged = [SuiteResult.from_dict(d) for d in prev.get("suites", [])]
    except (OSError, ValueError, KeyError, TypeError):
        merged = []
    new = {(r.suite, r.table, r.scope) for r in results}
    merged = [r for r in merged if (r.suite, r.table, r.scope) not in new] + list(results)
    blocked = not all(r.success for r in merged)
    title = "Cluster Observatory validation report" + (" (run blocked: nothing published)" if blocked else "")
    return write_report(merged, dest, title, extra={"run_id": run_id, "blocked": blocked})


def blocked_message(warehouse: Path, *, since: float | None = None, samples: int = 3) -> str | None:
    """What blocked the last run, for the console: per failing error-level expectation its table,
    suite/id, failing count and sample rows; None when the latest report (written after `since`,
    a time.time()) shows no blocking failure."""
    path = report_dir(warehouse) / "results.json"
    try:
        if since is not None and path.stat().st_mtime < since:
            return None
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("success", True):
        return None
    lines = []
    for suite in data.get("suites", []):
        for o in suite.get("outcomes", []):
            if o.get("status") != "failed" or o.get("severity") != "error":
                continue
            scope = f" ({suite['scope']})" if suite.get("scope") else ""
            lines.append(
                f"  {suite['table']}{scope}: {suite['suite']}/{o['id']} failed, {o.get('failing_count', 0)} failing"
                f" — {o.get('description', '')}".rstrip(" —")
            )
            if o.get("message"):
                lines.append(f"    {o['message']}")
            for row in (o.get("sample") or [])[:samples]:
                lines.append("    e.g. " + ", ".join(f"{k}={format_cell(v, 40)}" for k, v in row.items()))
    n = sum(1 for ln in lines if not ln.startswith("    "))
    head = f"release blocked: {n} error-level expectation(s) failed; nothing published. Report: {path.parent / 'report.md'}"
    return "\n".join([head, *lines])
