"""Publish a versioned, immutable release: Parquet per table, datapackage.json, SHA256SUMS.

A release is built in a hidden temp folder and renamed into place in one step; an existing
version is never overwritten and latest.json moves only once the release is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import __version__
from pipelines.config import ASSETS_DIR, PROJECT_ROOT, SQL_DIR
from pipelines.schemas import load_schema

TableInput = pl.DataFrame | pl.LazyFrame | duckdb.DuckDBPyRelation
ROW_GROUP_ROWS = 64_000
LICENSE = {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}


class ReleaseExistsError(FileExistsError):
    """Raised instead of ever overwriting a published release."""


@dataclass
class ReleaseResult:
    version: str | None
    path: Path | None
    fingerprint: str
    tables: dict[str, int] = field(default_factory=dict)
    unchanged: bool = False


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@cache
def code_fingerprint() -> str:
    """Hash of the code, rules and lock file that shape a release (independent of git)."""
    h = hashlib.sha256()
    roots = [PROJECT_ROOT / "pipelines", SQL_DIR, ASSETS_DIR]
    files = sorted(
        p for r in roots if r.exists() for p in r.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in {".py", ".sql", ".yaml", ".yml", ".json", ".csv", ".md"}
    )
    lock = PROJECT_ROOT / "uv.lock"
    for p in [*files, lock] if lock.exists() else files:
        h.update(str(p.relative_to(PROJECT_ROOT)).encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def code_version() -> dict[str, Any]:
    info: dict[str, Any] = {"package_version": __version__, "code_sha256": code_fingerprint()}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def input_fingerprint(sources: Iterable[Mapping[str, Any]], params: Mapping[str, Any]) -> str:
    h = hashlib.sha256()
    for s in sorted(sources, key=lambda s: (s["source_id"], s["sha256"])):
        h.update(f"{s['source_id']}={s['sha256']}\n".encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(code_fingerprint().encode())
    return h.hexdigest()


def read_latest(releases_dir: Path) -> dict[str, Any] | None:
    p = releases_dir / "latest.json"
    return json.loads(p.read_text()) if p.exists() else None


def next_version(releases_dir: Path, today: datetime | None = None) -> str:
    day = (today or datetime.now(UTC)).strftime("v%Y.%m.%d")
    if not (releases_dir / day).exists():
        return day
    n = 2
    while (releases_dir / f"{day}.{n}").exists():
        n += 1
    return f"{day}.{n}"


def _reader(src: TableInput, sort_by: list[str]) -> pa.RecordBatchReader:
    if isinstance(src, duckdb.DuckDBPyRelation):
        rel = src.order(", ".join(f'"{c}"' for c in sort_by)) if sort_by else src
        return rel.to_arrow_reader(ROW_GROUP_ROWS)
    df = src.collect() if isinstance(src, pl.LazyFrame) else src
    if sort_by:
        df = df.sort(sort_by, nulls_last=True)
    return pa.RecordBatchReader.from_batches(
        df.to_arrow().schema, df.to_arrow().to_batches(max_chunksize=ROW_GROUP_ROWS)
    )


def write_parquet(src: TableInput, path: Path, sort_by: list[str]) -> tuple[int, pa.Schema]:
    """Stream a table into zstd Parquet with statistics, sorted by the dashboard filter keys."""
    reader = _reader(src, sort_by)
    rows = 0
    with pq.ParquetWriter(
        path,
        reader.schema,
        compression="zstd",
        write_statistics=True,
        use_dictionary=True,
    ) as writer:
        for batch in reader:
            if batch.num_rows:
                writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                rows += batch.num_rows
    return rows, reader.schema


_FRICTIONLESS_TYPES = {
    "string": "string", "large_string": "string", "bool": "boolean",
    "int8": "integer", "int16": "integer", "int32": "integer", "int64": "integer",
    "uint8": "integer", "uint16": "integer", "uint32": "integer", "uint64": "integer",
    "float": "number", "double": "number", "decimal128": "number", "date32": "date",
}  # fmt: skip


def _field_type(t: pa.DataType) -> str:
    return _FRICTIONLESS_TYPES.get(str(t).split("[")[0].split("(")[0], "any")


def publish_release(
    tables: Mapping[str, TableInput],
    *,
    releases_dir: Path,
    sources: list[dict[str, Any]],
    params: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    extra_files: Mapping[str, Path] | None = None,
    force_new: bool = False,
    today: datetime | None = None,
) -> ReleaseResult:
    """Write a release; returns unchanged=True (and publishes nothing) when inputs and code match
    the latest release."""
    releases_dir.mkdir(parents=True, exist_ok=True)
    params = dict(params or {})
    fingerprint = input_fingerprint(sources, params)
    latest = read_latest(releases_dir)
    if (
        latest
        and latest.get("fingerprint") == fingerprint
        and not force_new
        and (releases_dir / latest["version"]).is_dir()
    ):
        return ReleaseResult(latest["version"], releases_dir / latest["version"], fingerprint, unchanged=True)

    version = next_version(releases_dir, today)
    tmp = releases_dir / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        resources = []
        counts: dict[str, int] = {}
        for name, src in tables.items():
            schema = load_schema(name)
            rel_path = f"data/{name}.parquet"
            out = tmp / rel_path
            out.parent.mkdir(parents=True, exist_ok=True)
            rows, arrow_schema = write_parquet(src, out, list(schema.sort_by))
            schema.check_columns(arrow_schema.names)
            counts[name] = rows
            by_name = {f["name"]: f for f in schema.fields}
            resources.append(
                {
                    "name": name,
                    "title": schema.title,
                    "description": schema.description,
                    "path": rel_path,
                    "format": "parquet",
                    "mediatype": "application/vnd.apache.parquet",
                    "bytes": out.stat().st_size,
                    "hash": f"sha256:{sha256_file(out)}",
                    "rows": rows,
                    "schema": {
                        "fields": [
                            {
                                "name": f.name,
                                "type": _field_type(f.type),
                                **{k: v for k, v in by_name[f.name].items() if k in ("description", "unit", "title")},
                            }
                            for f in arrow_schema
                        ],
                        "primaryKey": list(schema.primary_key),
                    },
                }
            )
        for rel_name, src_path in (extra_files or {}).items():
            dest = tmp / rel_name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src_path, dest)
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        package = {
            "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
            "name": "cluster-observatory",
            "title": "Cluster Observatory: regional cluster indicators",
            "version": version,
            "created": created,
            "licenses": [LICENSE],
            "fingerprint": fingerprint,
            "code": code_version(),
            "parameters": params,
            "sources": [
                {
                    "title": s["source_id"],
                    "path": s.get("url") or f"mirror:{s['source_id']}",
                    **{k: s[k] for k in ("sha256", "bytes", "retrieved_at", "served_from", "mirror_kind", "attribution", "note", "etag", "last_modified") if s.get(k) is not None},
                }
                for s in sorted(sources, key=lambda s: s["source_id"])
            ],
            "resources": resources,
            **dict(metadata or {}),
        }
        (tmp / "datapackage.json").write_text(json.dumps(package, indent=2, sort_keys=False, default=str) + "\n")
        _write_sums(tmp)
        final = releases_dir / version
        if final.exists():
            raise ReleaseExistsError(f"release {final} already exists; releases are never overwritten")
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_latest(releases_dir, version, fingerprint, created)
    return ReleaseResult(version, final, fingerprint, counts)


def _write_sums(folder: Path) -> None:
    lines = [
        f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}"
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "SHA256SUMS"
    ]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def _write_latest(releases_dir: Path, version: str, fingerprint: str, created: str) -> None:
    tmp = releases_dir / f".latest-{uuid.uuid4().hex[:8]}.json"
    tmp.write_text(
        json.dumps({"version": version, "path": version, "fingerprint": fingerprint, "created": created}, indent=2)
        + "\n"
    )
    os.replace(tmp, releases_dir / "latest.json")


def verify_release(path: Path) -> list[str]:
    """Re-check every sha256 in SHA256SUMS; returns the problems found (empty when intact)."""
    problems = []
    sums = path / "SHA256SUMS"
    if not sums.exists():
        return [f"{sums} missing"]
    for line in sums.read_text().splitlines():
        digest, rel = line.split("  ", 1)
        f = path / rel
        if not f.exists():
            problems.append(f"{rel}: missing")
        elif sha256_file(f) != digest:
            problems.append(f"{rel}: sha256 mismatch")
    return problems
