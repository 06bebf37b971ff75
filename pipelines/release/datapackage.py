"""The release's datapackage.json (Frictionless Data Package v2): package constants, source
entries with licences, field types, non-table file resources, and the v2 rules it is checked against."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa

from pipelines.raw.archive import sha256_file
from pipelines.schemas import TableSchema

PACKAGE_NAME = "cluster-observatory"


LICENSE = {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/", "title": "Creative Commons Attribution 4.0"}


DATAPACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"


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


_FRICTIONLESS_TYPES = {
    "string": "string", "large_string": "string", "string_view": "string", "bool": "boolean",
    "int8": "integer", "int16": "integer", "int32": "integer", "int64": "integer",
    "uint8": "integer", "uint16": "integer", "uint32": "integer", "uint64": "integer",
    "halffloat": "number", "float": "number", "double": "number", "decimal128": "number", "date32": "date",
    "timestamp": "datetime", "time64": "time", "list": "list", "large_list": "list", "struct": "object",
}  # fmt: skip


def field_type(t: pa.DataType) -> str:
    """The Table Schema field type of an Arrow type ("any" when there is no match)."""
    return _FRICTIONLESS_TYPES.get(str(t).split("[")[0].split("(")[0].split("<")[0], "any")


def frictionless_schema(schema: TableSchema, arrow_schema: pa.Schema) -> dict[str, Any]:
    """The Table Schema of a written table: its columns as written (Frictionless types), with the
    description, unit and title the published schema gives them, and the primary key."""
    by_name = {f["name"]: f for f in schema.fields}
    return {
        "fields": [
            {
                "name": f.name,
                "type": field_type(f.type),
                **{k: v for k, v in by_name[f.name].items() if k in ("description", "unit", "title")},
            }
            for f in arrow_schema
        ],
        "primaryKey": list(schema.primary_key),
    }


def by_prefix(table: Mapping[str, Any], source_id: str) -> Any:
    """The value of the first key of `table` that `source_id` starts with (None when none does)."""
    return next((v for k, v in table.items() if source_id.startswith(k)), None)


def source_entry(s: Mapping[str, Any]) -> dict[str, Any]:
    """A Data Package `sources` entry: URL, retrieval date, sha256 of the raw file, licence, attribution."""
    sid = s["source_id"]
    entry: dict[str, Any] = {"title": sid, "path": s.get("url") or by_prefix(SOURCE_HOMEPAGES, sid) or "https://clustermapping.us/"}
    if not s.get("url"):
        entry["servedBy"] = f"mirror id {sid} (no single upstream file URL)"
    for k in (
        "sha256", "bytes", "retrieved_at", "served_from", "mirror_kind", "attribution", "note", "etag", "last_modified",
        "naics_vintage", "naics_vintage_evidence",  # CBP: the NAICS vintage detected from the file's codes
    ):
        if s.get(k) is not None:
            entry[k] = s[k]
    lic = by_prefix(SOURCE_LICENSES, sid)
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


def table_resources(package: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The package's Parquet table resources by name (not the CSV copies or other files)."""
    return {r["name"]: r for r in package.get("resources", []) if r.get("format") == "parquet"}
