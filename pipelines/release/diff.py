"""Changes between two releases (diff.json, per table: rows added/removed, values beyond a
tolerance, schema) and the CHANGELOG.md section written from them."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from pipelines.release.coverage import coverage_changelog
from pipelines.release.datapackage import table_resources
from pipelines.warehouse.sql import quoted

DEFAULT_RTOL = 1e-9


DEFAULT_ATOL = 1e-9


TOP_CHANGES = 5


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)


_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL|REAL)")


def diff_releases(
    a: Path, b: Path, *, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL, top: int = TOP_CHANGES
) -> dict[str, Any]:
    """Per-table differences between two release folders (B relative to A)."""
    pa_ = json.loads((a / "datapackage.json").read_text())
    pb = json.loads((b / "datapackage.json").read_text())
    return diff_packages(pa_, a, pb, b, rtol=rtol, atol=atol, top=top)


def diff_packages(
    pa_: Mapping[str, Any], a: Path, pb: Mapping[str, Any], b: Path, *, rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL, top: int = TOP_CHANGES,
) -> dict[str, Any]:
    ta, tb = table_resources(pa_), table_resources(pb)
    tables: dict[str, Any] = {}
    con = duckdb.connect()
    try:
        for name in sorted(set(ta) | set(tb)):
            if name not in ta:
                tables[name] = {"status": "added", "rows_b": tb[name].get("rows")}
            elif name not in tb:
                tables[name] = {"status": "removed", "rows_a": ta[name].get("rows")}
            else:
                tables[name] = _diff_table(con, ta[name], a / ta[name]["path"], tb[name], b / tb[name]["path"], rtol, atol, top)
    finally:
        con.close()
    sa = {s["title"]: s.get("sha256") for s in pa_.get("sources", [])}
    sb = {s["title"]: s.get("sha256") for s in pb.get("sources", [])}
    prm_a, prm_b = pa_.get("parameters", {}), pb.get("parameters", {})
    inputs = {
        "sources_added": sorted(set(sb) - set(sa)),
        "sources_removed": sorted(set(sa) - set(sb)),
        "sources_changed": sorted(k for k in set(sa) & set(sb) if sa[k] != sb[k]),
        "parameters_changed": {k: {"a": prm_a.get(k), "b": prm_b.get(k)} for k in sorted(set(prm_a) | set(prm_b)) if prm_a.get(k) != prm_b.get(k)},
        "code_changed": pa_.get("code", {}).get("code_sha256") != pb.get("code", {}).get("code_sha256"),
    }
    changed = [n for n, t in tables.items() if t["status"] != "unchanged"]
    return {
        "from": pa_.get("version"),
        "to": pb.get("version"),
        "tolerance": {"rtol": rtol, "atol": atol, "rule": "a number changed when |new - old| > atol + rtol * |old|"},
        "inputs": inputs,
        "summary": {"tables_changed": changed, "tables_unchanged": len(tables) - len(changed)},
        "tables": tables,
    }


def _diff_table(con, ra, fa: Path, rb, fb: Path, rtol: float, atol: float, top: int) -> dict[str, Any]:
    """One table in releases A and B: schema changes, rows added and removed (by primary key) and
    values changed beyond the tolerance (skipped when the content hashes match)."""
    cols_a = {f["name"]: f.get("type") for f in ra["schema"]["fields"]}
    cols_b = {f["name"]: f.get("type") for f in rb["schema"]["fields"]}
    schema = {
        "columns_added": [c for c in cols_b if c not in cols_a],
        "columns_removed": [c for c in cols_a if c not in cols_b],
        "type_changed": {c: {"a": cols_a[c], "b": cols_b[c]} for c in cols_a if c in cols_b and cols_a[c] != cols_b[c]},
    }
    schema_changed = any(schema.values())
    out: dict[str, Any] = {"status": "unchanged", "rows_a": ra.get("rows"), "rows_b": rb.get("rows"), "schema": schema}
    if not schema_changed and ra.get("contentHash") and ra.get("contentHash") == rb.get("contentHash"):
        return out
    key = list(rb["schema"].get("primaryKey") or [])
    con.execute(f"CREATE OR REPLACE TEMP VIEW a AS SELECT * FROM read_parquet('{_sql_str(fa)}')")
    con.execute(f"CREATE OR REPLACE TEMP VIEW b AS SELECT * FROM read_parquet('{_sql_str(fb)}')")
    types_a = {r[0]: r[1] for r in con.execute("DESCRIBE a").fetchall()}
    types_b = {r[0]: r[1] for r in con.execute("DESCRIBE b").fetchall()}
    if not key or any(k not in types_a or k not in types_b for k in key):
        out["status"] = "changed"
        out["note"] = "no common primary key: only row counts and content hashes compared"
        return out
    out["rows_added"] = _missing_rows(con, key, "b", "a")
    out["rows_removed"] = _missing_rows(con, key, "a", "b")
    common = [c for c in cols_b if c in cols_a and c not in key and c in types_a and c in types_b]
    compared, changed, values = _value_changes(con, key, common, types_a, types_b, rtol, atol, top)
    out["rows_compared"] = compared
    out["rows_changed"] = changed
    out["values_changed"] = values
    if schema_changed or out["rows_added"]["count"] or out["rows_removed"]["count"] or values:
        out["status"] = "changed"
    elif ra.get("contentHash") != rb.get("contentHash"):
        out["status"] = "changed"
        out["note"] = "only changes within the tolerance"
    return out


def _missing_rows(con, key: list[str], which: str, other: str) -> dict[str, Any]:
    """Rows of view `which` whose key is not in view `other`: count, up to 10 example keys, count by year."""
    cond = " AND ".join(f"x.{quoted(k)} IS NOT DISTINCT FROM o.{quoted(k)}" for k in key)
    missing = f"FROM {which} AS x ANTI JOIN {other} AS o ON {cond}"
    n = con.execute(f"SELECT count(*) {missing}").fetchall()[0][0]
    res: dict[str, Any] = {"count": int(n)}
    if n:
        kx = ", ".join(f"x.{quoted(k)}" for k in key)
        rows = con.execute(f"SELECT {kx} {missing} ORDER BY {kx} LIMIT 10").fetchall()
        res["examples"] = [dict(zip(key, map(_clean, r), strict=True)) for r in rows]
        if "year" in key:
            res["by_year"] = {str(y): int(c) for y, c in con.execute(f"SELECT x.year, count(*) {missing} GROUP BY 1 ORDER BY 1").fetchall()}
    return res


def _value_changes(
    con, key: list[str], common: list[str], types_a: dict[str, str], types_b: dict[str, str], rtol: float, atol: float, top: int
) -> tuple[int, int, dict[str, Any]]:
    """Join A and B on the key (temp table j) and find, per common column, the rows whose value
    changed beyond the tolerance; returns (rows compared, rows changed, {column: {rows, largest}})."""
    on = " AND ".join(f"a.{quoted(k)} IS NOT DISTINCT FROM b.{quoted(k)}" for k in key)
    sel = ", ".join([*(f"b.{quoted(k)} AS {quoted(k)}" for k in key), *(f"a.{quoted(c)} AS {quoted('a:' + c)}, b.{quoted(c)} AS {quoted('b:' + c)}" for c in common)])
    con.execute(f"CREATE OR REPLACE TEMP TABLE j AS SELECT {sel} FROM a JOIN b ON {on}")
    compared = int(con.execute("SELECT count(*) FROM j").fetchall()[0][0])
    conds = {}
    for c in common:
        x, y = quoted("a:" + c), quoted("b:" + c)
        if _NUMERIC.match(types_a[c]) and _NUMERIC.match(types_b[c]):
            conds[c] = (
                f"NOT (({x} IS NULL AND {y} IS NULL) OR ({x} IS NOT NULL AND {y} IS NOT NULL AND "
                f"abs(CAST({y} AS DOUBLE) - CAST({x} AS DOUBLE)) <= {atol!r} + {rtol!r} * abs(CAST({x} AS DOUBLE))))"
            )
        else:
            conds[c] = f"{x}::VARCHAR IS DISTINCT FROM {y}::VARCHAR"
    values: dict[str, Any] = {}
    if not conds:
        return compared, 0, values
    counts = con.execute("SELECT " + ", ".join(f"count_if({cond})" for cond in conds.values()) + ", count_if(" + " OR ".join(f"({c})" for c in conds.values()) + ") FROM j").fetchall()[0]
    counts = [c or 0 for c in counts]  # count_if over no joined rows is NULL
    for (c, cond), n in zip(conds.items(), counts[:-1], strict=False):
        if not n:
            continue
        numeric = bool(_NUMERIC.match(types_a[c]) and _NUMERIC.match(types_b[c]))
        values[c] = {"rows": int(n), "largest": _largest_changes(con, key, c, cond, numeric, top)}
    return compared, int(counts[-1]), values


def _largest_changes(con, key: list[str], c: str, cond: str, numeric: bool, top: int) -> list[dict[str, Any]]:
    """The `top` changed values of column c in j (largest absolute change first when numeric)."""
    klist = ", ".join(quoted(k) for k in key)
    x, y = quoted("a:" + c), quoted("b:" + c)
    order = f"abs(coalesce(CAST({y} AS DOUBLE), 0) - coalesce(CAST({x} AS DOUBLE), 0)) DESC" if numeric else klist
    rows = con.execute(f"SELECT {klist}, {x}, {y} FROM j WHERE {cond} ORDER BY {order}, {klist} LIMIT {int(top)}").fetchall()
    largest = []
    for r in rows:
        old, new = _clean(r[len(key)]), _clean(r[len(key) + 1])
        item = {"key": dict(zip(key, map(_clean, r[: len(key)]), strict=True)), "old": old, "new": new}
        if numeric and old is not None and new is not None:
            item["delta"] = _clean(new - old)
            item["rel_change"] = _clean((new - old) / abs(old)) if old else None
        largest.append(item)
    return largest


def _sql_str(p: Path) -> str:
    return str(p).replace("'", "''")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.6g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return "null" if v is None else str(v)


def changelog_section(diff: Mapping[str, Any], version: str, created: str) -> str:
    lines = [f"## {version} ({created[:10]})", ""]
    if not diff.get("from"):
        lines.append("Initial release.")
        lines.append("")
        lines += ["| table | rows |", "|---|---:|"]
        lines += [f"| {n} | {_fmt(t.get('rows_b'))} |" for n, t in diff["tables"].items()]
        return "\n".join(lines) + "\n"
    tol = diff["tolerance"]
    lines.append(f"Compared with {diff['from']}; a number counts as changed when |new − old| > {tol['atol']:g} + {tol['rtol']:g}·|old|.")
    lines.append("")
    inp = diff["inputs"]
    why = []
    for k, label in (("sources_added", "new inputs"), ("sources_removed", "inputs dropped"), ("sources_changed", "inputs changed")):
        if inp.get(k):
            why.append(f"{label}: {', '.join(inp[k])}")
    if inp.get("parameters_changed"):
        why.append("parameters changed: " + ", ".join(f"{k} {v['a']!r} → {v['b']!r}" for k, v in inp["parameters_changed"].items()))
    if inp.get("code_changed"):
        why.append("code or lock file changed")
    lines.append("Why: " + ("; ".join(why) if why else "forced rebuild, nothing changed") + ".")
    lines.append("")
    lines += ["| table | status | rows | added | removed | rows with changed values | schema |", "|---|---|---:|---:|---:|---:|---|"]
    for n, t in diff["tables"].items():
        if t["status"] == "unchanged":
            continue
        sch = t.get("schema") or {}
        sch_txt = "; ".join(
            x for x in (
                f"+{', '.join(sch['columns_added'])}" if sch.get("columns_added") else "",
                f"−{', '.join(sch['columns_removed'])}" if sch.get("columns_removed") else "",
                f"types: {', '.join(sch['type_changed'])}" if sch.get("type_changed") else "",
            ) if x
        )  # fmt: skip
        lines.append(
            f"| {n} | {t['status']} | {_fmt(t.get('rows_b', t.get('rows_a')))} | {_fmt(t.get('rows_added', {}).get('count', 0))} "
            f"| {_fmt(t.get('rows_removed', {}).get('count', 0))} | {_fmt(t.get('rows_changed', 0))} | {sch_txt} |"
        )
    same = [n for n, t in diff["tables"].items() if t["status"] == "unchanged"]
    if same:
        lines += ["", f"Unchanged ({len(same)}): {', '.join(same)}."]
    for n, t in diff["tables"].items():
        vals = t.get("values_changed") or {}
        if not vals:
            continue
        lines += ["", f"### {n}: largest changes", "", "| column | rows changed | key | old | new |", "|---|---:|---|---:|---:|"]
        for c, v in sorted(vals.items(), key=lambda kv: -kv[1]["rows"])[:8]:
            for i, item in enumerate(v["largest"][:3]):
                key = ", ".join(f"{k}={val}" for k, val in item["key"].items())
                lines.append(f"| {c if i == 0 else ''} | {_fmt(v['rows']) if i == 0 else ''} | {key} | {_fmt(item['old'])} | {_fmt(item['new'])} |")
    return "\n".join(lines) + "\n"


def write_changes(folder: Path, previous: Path | None, package: Mapping[str, Any]) -> dict[str, Any]:
    """diff.json + CHANGELOG.md in a release being built, against the previous release if any."""
    version, created = package["version"], package["created"]
    if previous is not None:
        prev_pkg = json.loads((previous / "datapackage.json").read_text())
        diff = diff_packages(prev_pkg, previous, package, folder)
    else:
        diff = {
            "from": None,
            "to": version,
            "inputs": {},
            "summary": {"tables_changed": sorted(table_resources(package)), "tables_unchanged": 0},
            "tables": {n: {"status": "added", "rows_b": r.get("rows")} for n, r in sorted(table_resources(package).items())},
        }
    (folder / "diff.json").write_text(json.dumps(diff, indent=2, default=str) + "\n")
    older = ""
    if previous is not None and (previous / "CHANGELOG.md").exists():
        older = (previous / "CHANGELOG.md").read_text().split("\n", 2)[-1].lstrip("\n")
    section = changelog_section(diff, version, created)
    caveat = coverage_changelog(package)
    if caveat:  # right under the version heading, where a reader looks first
        head, rest = section.split("\n\n", 1)
        section = f"{head}\n\n{caveat}\n{rest}"
    (folder / "CHANGELOG.md").write_text("# Changelog\n\n" + section + ("\n" + older if older else ""))
    return diff
