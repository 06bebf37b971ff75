"""Release contents beyond the tables: content hashes, diff + changelog, Data Package checks,
schema.org / CFF metadata, the zip bundle, the static catalog, and deleting a release.

`pipelines.release.publish.publish_release` calls these while the release is still a temp folder, so
everything written here is covered by SHA256SUMS and becomes immutable with the release.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import polars as pl
import yaml

from pipelines.layout import read_latest
from pipelines.release.publish import (
    LICENSE,
    PACKAGE_NAME,
    list_versions,
    sha256_file,
    version_key,
)

DEFAULT_RTOL = 1e-9
DEFAULT_ATOL = 1e-9
TOP_CHANGES = 5
CONTENT_HASH_METHOD = (
    "contentHash = sha256 over the table read back from its Parquet file, rows sorted by the primary key "
    "(by every column when there is none), of: row count, column names and logical types, null masks, integers as "
    "little-endian int64, floats rounded to 12 significant digits as float64, strings as UTF-8 with byte "
    "lengths. It depends on the data only, not on the Parquet writer, its version or compression."
)

# Where sources without a file URL come from (the mirror serves them by id).
SOURCE_HOMEPAGES = {
    "census/": "https://www.census.gov/programs-surveys/cbp.html",
    "clustermapping/": "https://clustermapping.us/",
    "naics/": "https://www.census.gov/naics/",
    "eurostat/": "https://ec.europa.eu/eurostat/web/structural-business-statistics",
    "eurostat-classifications/": "https://ec.europa.eu/eurostat/web/nuts",
    "concordance/census_": "https://www.census.gov/naics/?68967",
    "concordance/isic": "https://unstats.un.org/unsd/classifications/Econ/isic",
    "concordance/nace": "https://ec.europa.eu/eurostat/web/nace",
    "geometry/nuts2json": "https://github.com/eurostat/Nuts2json",
    "geometry/us-atlas": "https://github.com/topojson/us-atlas",
}
_US_PUBLIC = {"title": "U.S. Government work, public domain (17 U.S.C. 105)", "path": "https://www.usa.gov/government-works"}
_EUROSTAT = {"name": "CC-BY-4.0", "title": "Eurostat: Creative Commons Attribution 4.0 (reuse with acknowledgement of the source)", "path": "https://ec.europa.eu/eurostat/about-us/policies/copyright"}
SOURCE_LICENSES = {
    "census/": _US_PUBLIC,
    "naics/": _US_PUBLIC,
    "concordance/census_": _US_PUBLIC,
    "clustermapping/": {"title": "clustermapping.us terms of use: free use with attribution", "path": "https://clustermapping.us/"},
    "geometry/us-atlas/": {"name": "ISC", "title": "us-atlas: ISC licence (boundaries: U.S. Census Bureau, public domain)", "path": "https://cdn.jsdelivr.net/npm/us-atlas@3.0.1/LICENSE"},
    "geometry/nuts2json/": {"title": "Eurostat GISCO: free reuse with attribution, © EuroGeographics for the administrative boundaries", "path": "https://ec.europa.eu/eurostat/web/gisco/geodata/administrative-units"},
    "eurostat/": _EUROSTAT,
    "eurostat-classifications/": _EUROSTAT,
    "concordance/nace": _EUROSTAT,
    "concordance/isic": {"title": "United Nations Statistics Division: reproduced with attribution (UN terms of use)", "path": "https://www.un.org/en/about-us/terms-of-use"},
}


# --- content hash ---------------------------------------------------------------------------


def table_content_hash(path: Path, primary_key: list[str]) -> str:
    """Writer-independent hash of a Parquet table's contents (see CONTENT_HASH_METHOD).

    Reads the key columns to find the row order, then one column at a time (memory stays at
    the keys plus one column, also for the county-scale fact table)."""
    schema = pl.read_parquet_schema(path)
    sortable = [c for c, t in schema.items() if not isinstance(t, (pl.List, pl.Struct, pl.Array, pl.Object))]
    keys = [c for c in primary_key if c in schema] or sortable
    if keys:
        order = pl.read_parquet(path, columns=keys).with_row_index("__row").sort(keys, nulls_last=True, maintain_order=True)["__row"]
        height = order.len()
    else:
        order, height = None, pl.scan_parquet(path).select(pl.len()).collect().item()
    h = hashlib.sha256(f"rows={height}\n".encode())
    for name, dtype in schema.items():
        s = pl.read_parquet(path, columns=[name])[name]
        if order is not None:
            s = s.gather(order)
        h.update(f"{name}:{_logical(dtype)}\n".encode())
        h.update(s.is_null().to_numpy().tobytes())
        if dtype.is_integer() or dtype == pl.Boolean:
            h.update(s.cast(pl.Int64).fill_null(0).to_numpy().astype("<i8").tobytes())
        elif dtype.is_float():
            f = s.cast(pl.Float64)
            h.update(f.is_nan().fill_null(False).to_numpy().tobytes())
            f = f.fill_nan(0.0).fill_null(0.0)
            finite = f.is_finite()
            f = pl.select(pl.when(finite).then(f.round_sig_figs(12)).otherwise(f) + 0.0).to_series()
            h.update(f.to_numpy().astype("<f8").tobytes())
        elif dtype.is_temporal():
            h.update(s.to_physical().cast(pl.Int64).fill_null(0).to_numpy().astype("<i8").tobytes())
        else:
            txt = s.cast(pl.String) if dtype in (pl.String, pl.Categorical, pl.Enum) else s.map_elements(repr, return_dtype=pl.String)
            txt = txt.fill_null("")
            h.update(txt.str.len_bytes().cast(pl.Int64).to_numpy().astype("<i8").tobytes())
            h.update(txt.str.join("").item().encode() if height else b"")
    return f"sha256:{h.hexdigest()}"


def _logical(dtype: pl.DataType) -> str:
    if dtype.is_integer() or dtype == pl.Boolean:
        return "integer" if dtype.is_integer() else "boolean"
    if dtype.is_float():
        return "number"
    if dtype.is_temporal():
        return str(dtype).lower()
    return "string" if dtype in (pl.String, pl.Categorical, pl.Enum) else str(dtype)


# --- sources and Data Package validation ----------------------------------------------------


def _by_prefix(table: Mapping[str, Any], source_id: str) -> Any:
    return next((v for k, v in table.items() if source_id.startswith(k)), None)


def source_entry(s: Mapping[str, Any]) -> dict[str, Any]:
    """A Data Package `sources` entry: URL, retrieval date, sha256 of the raw file, licence, attribution."""
    sid = s["source_id"]
    entry: dict[str, Any] = {"title": sid, "path": s.get("url") or _by_prefix(SOURCE_HOMEPAGES, sid) or "https://clustermapping.us/"}
    if not s.get("url"):
        entry["servedBy"] = f"mirror id {sid} (no single upstream file URL)"
    for k in (
        "sha256", "bytes", "retrieved_at", "served_from", "mirror_kind", "attribution", "note", "etag", "last_modified",
        "naics_vintage", "naics_vintage_evidence",  # CBP: the NAICS vintage detected from the file's codes
    ):
        if s.get(k) is not None:
            entry[k] = s[k]
    lic = _by_prefix(SOURCE_LICENSES, sid)
    if lic:
        entry["licenses"] = [lic]
    return entry


_PATH = r"^((?=[^./~])(?!file:)((?!\/\.\.\/)(?!\\)(?!:\/\/).)*|(http|ftp)s?:\/\/.*)$"
_LICENSES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "anyOf": [{"required": ["name"]}, {"required": ["path"]}],
        "properties": {
            "name": {"type": "string", "pattern": r"^([-a-zA-Z0-9._])+$"},
            "path": {"type": "string", "pattern": _PATH},
            "title": {"type": "string"},
        },
    },
}
_SOURCES = {
    "type": "array",
    "items": {
        "type": "object",
        "minProperties": 1,
        "properties": {"title": {"type": "string"}, "path": {"type": "string", "pattern": _PATH}, "email": {"type": "string"}, "version": {"type": "string"}},
    },
}
_FIELD_TYPES = [
    "string", "number", "integer", "date", "time", "datetime", "year", "yearmonth", "boolean",
    "object", "geopoint", "geojson", "array", "duration", "list", "any",
]  # fmt: skip
# The rules of Data Package v2 (package, resource, table schema) that apply to our descriptors,
# as a JSON Schema (draft-07). Unknown properties are allowed, as the standard allows them.
DATAPACKAGE_V2_RULES: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["resources"],
    "properties": {
        "$schema": {"type": "string", "pattern": r"^https://datapackage\.org/profiles/2\.\d+/datapackage\.json$"},
        "name": {"type": "string", "pattern": r"^[a-z0-9._-]+$"},
        "id": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "homepage": {"type": "string"},
        "version": {"type": "string"},
        "created": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"},
        "keywords": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "contributors": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "minProperties": 1, "properties": {"title": {"type": "string"}, "roles": {"type": "array", "minItems": 1, "items": {"type": "string"}}}},
        },
        "licenses": _LICENSES,
        "sources": _SOURCES,
        "resources": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "oneOf": [{"required": ["name", "data"]}, {"required": ["name", "path"]}],
                "properties": {
                    "$schema": {"type": "string"},
                    "name": {"type": "string", "minLength": 1},
                    "path": {"oneOf": [{"type": "string", "pattern": _PATH}, {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": _PATH}}]},
                    "type": {"type": "string", "enum": ["table"]},
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                    "format": {"type": "string"},
                    "mediatype": {"type": "string", "pattern": r"^(.+)/(.+)$"},
                    "encoding": {"type": "string"},
                    "bytes": {"type": "integer", "minimum": 0},
                    "hash": {"type": "string", "pattern": r"^([^:]+:[a-fA-F0-9]+|[a-fA-F0-9]{32}|)$"},
                    "sources": _SOURCES,
                    "licenses": _LICENSES,
                    "schema": {
                        "type": "object",
                        "required": ["fields"],
                        "properties": {
                            "fields": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "type": {"type": "string", "enum": _FIELD_TYPES},
                                        "title": {"type": "string"},
                                        "description": {"type": "string"},
                                    },
                                },
                            },
                            "primaryKey": {"oneOf": [{"type": "array", "minItems": 1, "items": {"type": "string"}}, {"type": "string"}]},
                        },
                    },
                },
            },
        },
    },
}


def validate_datapackage(package: Mapping[str, Any], folder: Path | None = None) -> list[str]:
    """Problems with a descriptor against Data Package v2 (JSON Schema rules plus the rules a JSON
    Schema cannot express: unique names, primary keys among the fields, files matching bytes/hash)."""
    validator = jsonschema.Draft7Validator(DATAPACKAGE_V2_RULES)
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in validator.iter_errors(package)]
    names = [r.get("name") for r in package.get("resources", [])]
    problems += [f"resource name {n!r} is not unique" for n in sorted({n for n in names if names.count(n) > 1})]
    for r in package.get("resources", []):
        sch = r.get("schema") or {}
        fields = [f.get("name") for f in sch.get("fields", [])]
        if len(set(fields)) != len(fields):
            problems.append(f"{r.get('name')}: field names are not unique")
        pk = sch.get("primaryKey", [])
        for k in [pk] if isinstance(pk, str) else pk:
            if k not in fields:
                problems.append(f"{r.get('name')}: primary key {k!r} is not a field")
        if folder is not None and isinstance(r.get("path"), str) and "://" not in r["path"]:
            f = folder / r["path"]
            if not f.is_file():
                problems.append(f"{r['path']}: file missing")
            else:
                if "bytes" in r and f.stat().st_size != r["bytes"]:
                    problems.append(f"{r['path']}: bytes differ from datapackage.json")
                if str(r.get("hash", "")).startswith("sha256:") and sha256_file(f) != r["hash"][7:]:
                    problems.append(f"{r['path']}: sha256 differs from datapackage.json")
    return problems


_MEDIATYPES = {".json": "application/json", ".md": "text/markdown", ".html": "text/html", ".csv": "text/csv", ".txt": "text/plain", ".parquet": "application/vnd.apache.parquet"}


def file_resources(folder: Path) -> list[dict[str, Any]]:
    """Non-table resources: the validation report (whatever is under validation/), diff and changelog."""
    out = []
    files = sorted(p for p in (folder / "validation").rglob("*") if p.is_file()) if (folder / "validation").is_dir() else []
    files += [folder / n for n in ("diff.json", "CHANGELOG.md") if (folder / n).is_file()]
    files += sorted(p for p in (folder / "geometry").glob("*.json") if p.is_file())  # map geometry, upstream bytes
    for p in files:
        rel = p.relative_to(folder).as_posix()
        name = re.sub(r"[^a-z0-9._-]+", "-", rel.lower()).strip("-")
        out.append(
            {
                "name": name,
                "title": "Validation report" if rel.startswith("validation/") else "Map geometry (upstream file, see sources)" if rel.startswith("geometry/")
                else {"diff.json": "Changes against the previous release (machine-readable)", "CHANGELOG.md": "Changelog"}[rel],
                "path": rel,
                "format": p.suffix.lstrip(".") or "bin",
                "mediatype": _MEDIATYPES.get(p.suffix, "application/octet-stream"),
                "bytes": p.stat().st_size,
                "hash": f"sha256:{sha256_file(p)}",
            }
        )
    return out


# --- diff -----------------------------------------------------------------------------------


def _q(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)


_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL|REAL)")


def _tables_of(package: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in package.get("resources", []) if r.get("format") == "parquet"}


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
    ta, tb = _tables_of(pa_), _tables_of(pb)
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
    on = " AND ".join(f"a.{_q(k)} IS NOT DISTINCT FROM b.{_q(k)}" for k in key)
    klist = ", ".join(_q(k) for k in key)

    def side(which: str, other: str) -> dict[str, Any]:
        cond = " AND ".join(f"x.{_q(k)} IS NOT DISTINCT FROM o.{_q(k)}" for k in key)
        missing = f"FROM {which} AS x ANTI JOIN {other} AS o ON {cond}"
        n = con.execute(f"SELECT count(*) {missing}").fetchall()[0][0]
        res: dict[str, Any] = {"count": int(n)}
        if n:
            kx = ", ".join(f"x.{_q(k)}" for k in key)
            rows = con.execute(f"SELECT {kx} {missing} ORDER BY {kx} LIMIT 10").fetchall()
            res["examples"] = [dict(zip(key, map(_clean, r), strict=True)) for r in rows]
            if "year" in key:
                res["by_year"] = {str(y): int(c) for y, c in con.execute(f"SELECT x.year, count(*) {missing} GROUP BY 1 ORDER BY 1").fetchall()}
        return res

    out["rows_added"] = side("b", "a")
    out["rows_removed"] = side("a", "b")
    common = [c for c in cols_b if c in cols_a and c not in key and c in types_a and c in types_b]
    sel = ", ".join([*(f"b.{_q(k)} AS {_q(k)}" for k in key), *(f"a.{_q(c)} AS {_q('a:' + c)}, b.{_q(c)} AS {_q('b:' + c)}" for c in common)])
    con.execute(f"CREATE OR REPLACE TEMP TABLE j AS SELECT {sel} FROM a JOIN b ON {on}")
    out["rows_compared"] = int(con.execute("SELECT count(*) FROM j").fetchall()[0][0])
    conds = {}
    for c in common:
        x, y = _q("a:" + c), _q("b:" + c)
        if _NUMERIC.match(types_a[c]) and _NUMERIC.match(types_b[c]):
            conds[c] = (
                f"NOT (({x} IS NULL AND {y} IS NULL) OR ({x} IS NOT NULL AND {y} IS NOT NULL AND "
                f"abs(CAST({y} AS DOUBLE) - CAST({x} AS DOUBLE)) <= {atol!r} + {rtol!r} * abs(CAST({x} AS DOUBLE))))"
            )
        else:
            conds[c] = f"{x}::VARCHAR IS DISTINCT FROM {y}::VARCHAR"
    values: dict[str, Any] = {}
    if conds:
        counts = con.execute("SELECT " + ", ".join(f"count_if({cond})" for cond in conds.values()) + ", count_if(" + " OR ".join(f"({c})" for c in conds.values()) + ") FROM j").fetchall()[0]
        counts = [c or 0 for c in counts]  # count_if over no joined rows is NULL
        out["rows_changed"] = int(counts[-1])
        for (c, cond), n in zip(conds.items(), counts[:-1], strict=False):
            if not n:
                continue
            x, y = _q("a:" + c), _q("b:" + c)
            numeric = _NUMERIC.match(types_a[c]) and _NUMERIC.match(types_b[c])
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
            values[c] = {"rows": int(n), "largest": largest}
    else:
        out["rows_changed"] = 0
    out["values_changed"] = values
    if schema_changed or out["rows_added"]["count"] or out["rows_removed"]["count"] or values:
        out["status"] = "changed"
    elif ra.get("contentHash") != rb.get("contentHash"):
        out["status"] = "changed"
        out["note"] = "only changes within the tolerance"
    return out


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
            "summary": {"tables_changed": sorted(_tables_of(package)), "tables_unchanged": 0},
            "tables": {n: {"status": "added", "rows_b": r.get("rows")} for n, r in sorted(_tables_of(package).items())},
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


# --- schema.org, CITATION.cff, bundle ----------------------------------------------------------


def bundle_name(version: str) -> str:
    return f"{PACKAGE_NAME}-{version}.zip"


def _years(package: Mapping[str, Any]) -> list[int]:
    return sorted((package.get("coverage") or {}).get("cbp_years") or package.get("parameters", {}).get("cbp_years") or [])


DELGADO_2016 = "Delgado, M., Porter, M. E., & Stern, S. (2016). Defining clusters of related industries. Journal of Economic Geography, 16(1), 1–38."


def present_years(package: Mapping[str, Any]) -> list[int]:
    """Years the indicator tables hold (both continents), else the configured CBP years."""
    present = {y for types in (_coverage(package).get("years_present") or {}).values() for ys in types.values() for y in ys}
    return sorted(present) or _years(package)


def spatial_coverage(package: Mapping[str, Any]) -> list[dict[str, Any]]:
    """schema.org Places for the continents and region types the release holds."""
    present = _coverage(package).get("years_present") or {}
    names = set(_tables_of(package))
    places = []
    if "United States" in present or "cluster_indicators" in names:
        types = _types_years(present.get("United States", {})) or "regions"
        places.append({"@type": "Place", "name": "United States", "description": f"US regions (County Business Patterns): {types}"})
    if "Europe" in present or "eu_cluster_indicators" in names:
        types = _types_years(present.get("Europe", {})) or "NUTS regions"
        places.append({"@type": "Place", "name": "Europe", "description": f"EU/EFTA NUTS regions (Eurostat SBS): {types}"})
    return places


def cited_sources(package: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(attribution, homepage or URL, source ids) of every source the release is built from,
    one entry per attribution and homepage."""
    out: dict[tuple[str, str], list[str]] = {}
    for s in package.get("sources", []):
        sid = s.get("title", "")
        who = s.get("attribution") or sid
        out.setdefault((who, _by_prefix(SOURCE_HOMEPAGES, sid) or s.get("path", "")), []).append(sid)
    return [(who, url, _id_ranges(ids)) for (who, url), ids in sorted(out.items())]


def dataset_jsonld(package: Mapping[str, Any]) -> dict[str, Any]:
    years = present_years(package)
    variables, seen = [], set()
    for r in _tables_of(package).values():
        for f in r["schema"]["fields"]:
            if f["name"] in seen or not f.get("description"):
                continue
            seen.add(f["name"])
            variables.append({"@type": "PropertyValue", "name": f["name"], "description": f["description"], **({"unitText": f["unit"]} if f.get("unit") else {})})
    dist = [
        {
            "@type": "DataDownload",
            "name": r["name"],
            "contentUrl": r["path"],
            "encodingFormat": r.get("mediatype"),
            "contentSize": f"{r['bytes']} B",
            "sha256": r["hash"].removeprefix("sha256:"),
        }
        for r in package["resources"]
    ]
    dist.append({"@type": "DataDownload", "name": "bundle", "contentUrl": bundle_name(package["version"]), "encodingFormat": "application/zip"})
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": package.get("id"),
        "name": package["title"],
        "description": package.get("description", package["title"]),
        "version": package["version"],
        "dateCreated": package["created"],
        "datePublished": package["created"][:10],
        "license": LICENSE["path"],
        "isAccessibleForFree": True,
        "keywords": package.get("keywords", []),
        "creator": {"@type": "Organization", "name": "Cluster Observatory contributors"},
        "citation": [DELGADO_2016, *(f"{who}: {ids}. {url}" for who, url, ids in cited_sources(package))],
        **({"temporalCoverage": f"{years[0]}/{years[-1]}"} if years else {}),
        "spatialCoverage": spatial_coverage(package),
        "isBasedOn": [
            {"@type": "CreativeWork", "name": s["title"], "url": s["path"], **({"sha256": s["sha256"]} if s.get("sha256") else {}), **({"creditText": s["attribution"]} if s.get("attribution") else {})}
            for s in package.get("sources", [])
        ],
        "variableMeasured": variables,
        "distribution": dist,
        "softwareVersion": package.get("code", {}).get("git_commit") or package.get("code", {}).get("package_version"),
    }


def citation_cff(package: Mapping[str, Any]) -> str:
    code = package.get("code", {})
    data = {
        "cff-version": "1.2.0",
        "message": "If you use this dataset, please cite it as below, and cite the sources it is built from (references).",
        "type": "dataset",
        "title": package["title"],
        "version": package["version"],
        "date-released": package["created"][:10],
        "license": LICENSE["name"],
        "authors": [{"name": "Cluster Observatory contributors"}],
        "abstract": package.get("description", ""),
        "keywords": list(package.get("keywords", [])),
        "identifiers": [{"type": "other", "value": f"sha256:{package['fingerprint']}", "description": "Fingerprint of the inputs and code of this release"}],
        **({"commit": code["git_commit"]} if code.get("git_commit") else {}),
        "references": [
            {
                "type": "article",
                "title": "Defining clusters of related industries",
                "authors": [
                    {"family-names": "Delgado", "given-names": "Mercedes"},
                    {"family-names": "Porter", "given-names": "Michael E."},
                    {"family-names": "Stern", "given-names": "Scott"},
                ],
                "journal": "Journal of Economic Geography",
                "year": 2016,
                "volume": 16,
                "issue": "1",
            },
            {"type": "database", "title": "U.S. Cluster Mapping Project", "authors": [{"name": "Institute for Strategy and Competitiveness, Harvard Business School"}], "url": "https://clustermapping.us/"},
            *(
                {"type": "database", "title": who, "authors": [{"name": who.split(",")[0].split(" (")[0]}], "url": url, "notes": f"inputs: {ids}"}
                for who, url, ids in cited_sources(package)
            ),
        ],
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


def write_metadata_files(folder: Path, package: Mapping[str, Any]) -> None:
    (folder / "dataset.jsonld").write_text(json.dumps(dataset_jsonld(package), indent=2) + "\n")
    (folder / "CITATION.cff").write_text(citation_cff(package))


def write_bundle(folder: Path, package: Mapping[str, Any]) -> Path:
    """One zip with the data, CSV copies and metadata (not the catalog page or SHA256SUMS, which
    list the zip itself). Deterministic: sorted entries, fixed timestamps."""
    dest = folder / bundle_name(package["version"])
    prefix = f"{PACKAGE_NAME}-{package['version']}/"
    skip = {dest.name, "SHA256SUMS", "index.html"}
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder).as_posix()
            if not p.is_file() or rel in skip:
                continue
            info = zipfile.ZipInfo(prefix + rel, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if p.suffix == ".parquet" else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(p, "rb") as src, zf.open(info, "w") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    return dest


# --- delete ----------------------------------------------------------------------------------


def delete_release(releases_dir: Path, version: str) -> str | None:
    """The only way a release folder goes away. Renames it out of sight first (atomic), then
    re-points latest (to the newest remaining release) and rebuilds the catalog. Returns the new latest."""
    from pipelines.release.publish import _point_latest, retire_version

    path = releases_dir / version
    if not version_key(version) or not path.is_dir() or path.is_symlink():
        raise FileNotFoundError(f"no release {version} in {releases_dir}")
    pkg_file = path / "datapackage.json"
    fp = json.loads(pkg_file.read_text()).get("fingerprint", "") if pkg_file.exists() else ""
    retire_version(releases_dir, version, fp)  # first: the name is never reused, even after a crash here
    trash = releases_dir / f".deleted-{version}-{uuid.uuid4().hex[:8]}"
    os.rename(path, trash)
    latest = read_latest(releases_dir)
    remaining = list_versions(releases_dir)
    new_latest = latest.get("version") if latest else None
    if latest is None or latest.get("version") == version or new_latest not in remaining:
        if remaining:
            new_latest = remaining[-1]
            pkg = json.loads((releases_dir / new_latest / "datapackage.json").read_text())
            _point_latest(releases_dir, new_latest, pkg.get("fingerprint", ""), pkg.get("created", ""))
        else:
            new_latest = None
            (releases_dir / "latest.json").unlink(missing_ok=True)
            if (releases_dir / "latest").is_symlink():
                (releases_dir / "latest").unlink()
    shutil.rmtree(trash, ignore_errors=True)
    build_catalog(releases_dir)
    return new_latest


# --- catalog ---------------------------------------------------------------------------------


def write_release_page(folder: Path, package: Mapping[str, Any]) -> None:
    from pipelines.release.catalog import render_release_page

    (folder / "index.html").write_text(render_release_page(folder, package))


def build_catalog(releases_dir: Path) -> Path:
    """releases/index.html: every release, and the latest one in full (charts, tables, downloads)."""
    from pipelines.release.catalog import render_catalog_index

    out = releases_dir / "index.html"
    tmp = releases_dir / f".index-{uuid.uuid4().hex[:8]}.html"
    tmp.write_text(render_catalog_index(releases_dir))
    os.replace(tmp, out)
    return out


# --- what the release covers: description, coverage, partial sources --------------------------

PARTIAL_KIND = "partial-reconstruction"


def year_ranges(years: list[int] | tuple[int, ...]) -> str:
    """2000, 2001, 2002, 2005 → '2000–2002, 2005'."""
    ys = sorted(set(int(y) for y in years))
    parts: list[str] = []
    i = 0
    while i < len(ys):
        j = i
        while j + 1 < len(ys) and ys[j + 1] == ys[j] + 1:
            j += 1
        parts.append(str(ys[i]) if i == j else f"{ys[i]}–{ys[j]}")
        i = j + 1
    return ", ".join(parts)


def _id_ranges(ids: list[str]) -> str:
    """census/cbp/state/2000 … /2011 → 'census/cbp/state/2000–2011' (other ids listed as they are)."""
    by_prefix: dict[str, list[int]] = {}
    other: list[str] = []
    for sid in sorted(ids):
        head, _, tail = sid.rpartition("/")
        if head and tail.isdigit():
            by_prefix.setdefault(head, []).append(int(tail))
        else:
            other.append(sid)
    return "; ".join([*(f"{h}/{year_ranges(ys)}" for h, ys in by_prefix.items()), *other])


def partial_sources(sources: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Inputs the mirror marks as partial reconstructions (`mirror_kind`), grouped by their note:
    [{"sources": "census/cbp/state/2000–2002", "ids": [...], "note": "..."}]."""
    groups: dict[str, list[str]] = {}
    for s in sources:
        if (s.get("mirror_kind") or s.get("kind")) == PARTIAL_KIND:
            sid = s.get("source_id") or s.get("title") or "?"
            groups.setdefault(str(s.get("note") or "(no note)"), []).append(sid)
    return [
        {"sources": _id_ranges(ids), "ids": sorted(ids), "note": note}
        for note, ids in sorted(groups.items(), key=lambda kv: sorted(kv[1])[0])
    ]


def _coverage(package: Mapping[str, Any]) -> Mapping[str, Any]:
    return package.get("coverage") or {}


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def coverage_by_type(package: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """The per-year coverage rows of the release (notes.coverage_by_year), by region type;
    custom regions left out (they repeat their members)."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for r in (_coverage(package).get("six_digit") or {}).get("by_year") or []:
        if r["region_type"] != "custom" and r.get("coverage") is not None:
            out.setdefault(r["region_type"], []).append(r)
    return out


def coverage_sentence(package: Mapping[str, Any]) -> str:
    """'state: 2000 86.6 %, 2001 …; by state 82.5–105.9 %' — the per-year pooled coverage."""
    parts = []
    for rtype, rows in coverage_by_type(package).items():
        per_year = ", ".join(f"{r['year']} {_pct(r['coverage'])}" for r in rows)
        lo = min(r["coverage_min"] for r in rows if r.get("coverage_min") is not None)
        hi = max(r["coverage_max"] for r in rows if r.get("coverage_max") is not None)
        parts.append(f"{rtype} files, pooled: {per_year} (single regions {_pct(lo)}–{_pct(hi)})")
    return "; ".join(parts)


def partial_statement(package: Mapping[str, Any]) -> str | None:
    """The caveat a release built on partial inputs leads with (None when it has none)."""
    partial = [sid for g in partial_sources(package.get("sources", [])) for sid in g["ids"]]
    threshold = float((_coverage(package).get("six_digit") or {}).get("threshold", 0.95))
    below = {
        rtype: (sum(r.get("regions_below", 0) for r in rows), sum(r["regions_with_total"] for r in rows))
        for rtype, rows in coverage_by_type(package).items()
    }
    below = {k: v for k, v in below.items() if v[0]}
    if not partial and not below:
        return None
    text = "PARTIAL DATA. "
    if partial:
        text += (
            f"{len(partial)} of the {len(package.get('sources', []))} input files are partial reconstructions of the "
            f"upstream files ({_id_ranges(partial)}): some industries are missing, so employment, shares and "
            "location quotients built from them are real but partial. "
        )
    sentence = coverage_sentence(package)
    if sentence:
        text += f"6-digit industry employment as a share of the files' total employment — {sentence}."
    if below:
        text += " Below " + f"{100 * threshold:.0f} %: " + ", ".join(f"{n} of {of} {rtype}-years" for rtype, (n, of) in below.items()) + "."
    return text + " Per region and year: region_indicators.coverage; details: notes/coverage.md."


def _types_years(types: Mapping[str, list[int]]) -> str:
    """{'state': [2000, 2001], 'custom': [2000, 2001]} → 'state, custom 2000–2001'."""
    by_years: dict[str, list[str]] = {}
    for rtype, years in types.items():
        by_years.setdefault(year_ranges(years), []).append(rtype)
    return "; ".join(f"{', '.join(ts)} {ys}" for ys, ts in by_years.items())


def years_sentence(package: Mapping[str, Any]) -> str:
    """'United States: state 2000–2011, custom 2000–2011; Europe: nuts0, nuts1, nuts2 2008–2015'."""
    present = _coverage(package).get("years_present") or {}
    return "; ".join(f"{side}: {_types_years(types)}" for side, types in present.items())


def describe_release(package: Mapping[str, Any]) -> str:
    """The release's description (datapackage, CITATION abstract, dataset.jsonld, release page):
    what it really covers — continents, region types and years present — and, first thing after
    the one-line summary, whether it rests on partial inputs."""
    names = set(_tables_of(package))
    us, eu = "cluster_indicators" in names, "eu_cluster_indicators" in names
    what = []
    if us:
        what.append("reproducing clustermapping.us (US Cluster Mapping Project) from US County Business Patterns")
    if eu:
        what.append(
            ("and " if us else "") + "for European NUTS regions, on the same clusters, from Eurostat regional "
            "structural business statistics (stars of the European Cluster Observatory 2011 and of the European "
            "Observatory for Clusters and Industrial Change)"
        )
    text = (
        f"Regional cluster indicators {' '.join(what)}: employment, wages, location quotients and strong "
        "clusters by region, cluster and year."
    ).replace("indicators :", "indicators:")
    caveat = partial_statement(package)
    if caveat:
        text += " " + caveat
    years = years_sentence(package)
    if years:
        text += f" Region types and years present — {years}."
    return text


def coverage_changelog(package: Mapping[str, Any]) -> str:
    """The CHANGELOG paragraph on partial inputs and coverage (empty when there is nothing to say)."""
    caveat = partial_statement(package)
    return f"**{caveat.split('. ', 1)[0]}.** {caveat.split('. ', 1)[1]}\n" if caveat else ""
