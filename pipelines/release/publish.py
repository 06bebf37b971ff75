"""Publish a versioned, immutable release: Parquet per table, datapackage.json, SHA256SUMS.

A release is built in a hidden temp folder and renamed into place in one step; an existing
version is never overwritten (only `observatory releases delete` removes one) and the `latest`
pointers (latest.json and the latest/ link) move only once the release is complete.

Release folder layout::

    data/<table>.parquet     zstd, sorted by the dashboard filter keys, small row groups
    csv/<table>.csv          optional CSV copies
    validation/...           validation report (when the caller passes one)
    datapackage.json         Frictionless Data Package v2 (hashes, schemas, sources, licences)
    dataset.jsonld           schema.org Dataset
    CITATION.cff, CHANGELOG.md, diff.json (changes against the previous release)
    <name>-<version>.zip     everything above in one download
    index.html               catalog page for this release (charts, columns, downloads)
    SHA256SUMS               sha256 of every file above
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
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
from pipelines.config import ASSETS_DIR, PROJECT_ROOT, SQL_DIR, release_csv_spec
from pipelines.layout import read_latest
from pipelines.raw.archive import sha256_file
from pipelines.schemas import load_schema

log = logging.getLogger(__name__)

TableInput = pl.DataFrame | pl.LazyFrame | duckdb.DuckDBPyRelation
ROW_GROUP_ROWS = 64_000  # upper bound on rows per row group
MIN_ROW_GROUP_ROWS = 1_024
CSV_AUTO_MAX_ROWS = 250_000  # CSV copies by default for tables up to this size (not the fact table)
TARGET_ROW_GROUPS = 64  # so that one region (of ~50+) touches a few row groups of a large table
PACKAGE_NAME = "cluster-observatory"
LICENSE = {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/", "title": "Creative Commons Attribution 4.0"}
DATAPACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"


class ReleaseExistsError(FileExistsError):
    """Raised instead of ever overwriting a published release."""


@dataclass
class ReleaseResult:
    version: str | None
    path: Path | None
    fingerprint: str
    tables: dict[str, int] = field(default_factory=dict)
    unchanged: bool = False
    previous: str | None = None
    diff_summary: dict[str, Any] | None = None


@cache
def code_fingerprint() -> str:
    """Hash of the code, rules and lock file that shape a release (independent of git)."""
    h = hashlib.sha256()
    roots = [PROJECT_ROOT / "pipelines", SQL_DIR, ASSETS_DIR]
    files = sorted(
        p for r in roots if r.exists() for p in r.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in {".py", ".sql", ".yaml", ".yml", ".json", ".csv", ".md", ".html", ".js", ".css"}
    )
    lock = PROJECT_ROOT / "uv.lock"
    for p in [*files, lock] if lock.exists() else files:
        h.update(str(p.relative_to(PROJECT_ROOT)).encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def code_version() -> dict[str, Any]:
    info: dict[str, Any] = {"package_version": __version__, "code_sha256": code_fingerprint()}
    lock = PROJECT_ROOT / "uv.lock"
    if lock.exists():
        info["lock_sha256"] = sha256_file(lock)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def input_fingerprint(sources: Iterable[Mapping[str, Any]], params: Mapping[str, Any], content: str = "") -> str:
    """Identity of a release: its inputs (sha256 of every source), parameters, code and — so that
    it describes what the release holds, not what the run claims — the digest of its tables."""
    h = hashlib.sha256()
    for s in sorted(sources, key=lambda s: (s["source_id"], s["sha256"])):
        h.update(f"{s['source_id']}={s['sha256']}\n".encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(code_fingerprint().encode())
    if content:
        h.update(f"content={content}".encode())
    return h.hexdigest()


def content_digest(tables: Mapping[str, TableInput]) -> str:
    """Digest of what the tables hold, computed before anything is written: columns, types, row
    count and an order-independent sum of row hashes over every non-float column (years, regions,
    codes, counts, flags), so two runs that built different tables never share a fingerprint,
    whatever their settings say. Float columns are left out: parallel float sums differ in the
    last bits between identical rebuilds, and the inputs, parameters and code that determine them
    are in the fingerprint already."""
    h = hashlib.sha256()
    for name in sorted(tables):
        src = tables[name]
        if isinstance(src, duckdb.DuckDBPyRelation):
            typed = list(zip(src.columns, (str(t) for t in src.types), strict=True))
            exact = [c for c, t in typed if t not in {"DOUBLE", "FLOAT", "REAL"}]
            row = ", ".join('"' + c.replace('"', '""') + '"' for c in exact)
            sql = f"SELECT count(*), sum(hash({row})) FROM t" if exact else "SELECT count(*), 0 FROM t"
            n, total = src.query("t", sql).fetchall()[0]
        else:
            df = src.collect() if isinstance(src, pl.LazyFrame) else src
            typed = [(c, str(t)) for c, t in df.schema.items()]
            exact_df = df.select(c for c, t in df.schema.items() if not t.is_float())
            n = df.height
            total = exact_df.hash_rows(seed=0).sum() if df.height and exact_df.width else 0
        h.update(f"{name}|{typed}|{n}|{total}\n".encode())
    return h.hexdigest()


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for calendar versions: v2026.01.02 < v2026.01.02.2 < v2026.01.02.10."""
    try:
        return tuple(int(x) for x in version.lstrip("v").split("."))
    except ValueError:
        return ()


def list_versions(releases_dir: Path) -> list[str]:
    """Published (complete) releases, oldest first; temp folders are never listed."""
    if not releases_dir.is_dir():
        return []
    found = [
        p.name for p in releases_dir.glob("v*")
        if p.is_dir() and not p.is_symlink() and version_key(p.name) and (p / "datapackage.json").exists()
    ]
    return sorted(found, key=version_key)


RETIRED_DIR = ".retired"  # one marker per deleted version: its name is never given out again


def _taken(releases_dir: Path, version: str) -> bool:
    return (releases_dir / version).exists() or (releases_dir / RETIRED_DIR / version).exists()


def retire_version(releases_dir: Path, version: str, fingerprint: str = "") -> None:
    """Record that `version` was used (called before a release is deleted): a later release with
    other content never reuses its name, so a citation of it never points at different data."""
    d = releases_dir / RETIRED_DIR
    d.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (d / version).write_text(json.dumps({"version": version, "fingerprint": fingerprint, "deleted": stamp}) + "\n")


def next_version(releases_dir: Path, today: datetime | None = None) -> str:
    """vYYYY.MM.DD, then .2, .3 … the same day; never a name in use or retired by a delete."""
    day = (today or datetime.now(UTC)).strftime("v%Y.%m.%d")
    if not _taken(releases_dir, day):
        return day
    n = 2
    while _taken(releases_dir, f"{day}.{n}"):
        n += 1
    return f"{day}.{n}"


def row_group_rows(rows: int) -> int:
    """Rows per row group: ~TARGET_ROW_GROUPS groups, clamped, so filters on the sort keys
    (region first) skip most of a file via row-group statistics."""
    return max(MIN_ROW_GROUP_ROWS, min(ROW_GROUP_ROWS, math.ceil(max(rows, 1) / TARGET_ROW_GROUPS)))


def _order(sort_by: list[str], primary_key: list[str]) -> list[str]:
    """Sort keys, then the rest of the primary key as tie-breakers (a total, reproducible order)."""
    return [*sort_by, *(c for c in primary_key if c not in sort_by)]


def _reader(src: TableInput, order: list[str]) -> tuple[pa.RecordBatchReader, int]:
    if isinstance(src, duckdb.DuckDBPyRelation):
        rows = int(src.aggregate("count(*)").fetchall()[0][0])
        rel = src.order(", ".join(f'"{c}" ASC NULLS LAST' for c in order)) if order else src
        return rel.to_arrow_reader(8_192), rows
    df = src.collect() if isinstance(src, pl.LazyFrame) else src
    if order:
        df = df.sort(order, nulls_last=True, maintain_order=True)
    table = df.to_arrow()
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=8_192)), df.height


def write_parquet(
    src: TableInput, path: Path, sort_by: list[str], primary_key: list[str] | None = None
) -> tuple[int, pa.Schema]:
    """Stream a table into zstd Parquet with statistics and a page index, sorted by the dashboard
    filter keys, in row groups sized so a one-region query reads a small part of the file."""
    order = _order(list(sort_by), list(primary_key or []))
    reader, expected = _reader(src, order)
    group = row_group_rows(expected)
    schema = reader.schema
    sorting = [pq.SortingColumn(schema.get_field_index(c), nulls_first=False) for c in sort_by if c in schema.names]
    rows = 0
    buffered: list[pa.RecordBatch] = []
    n_buffered = 0
    with pq.ParquetWriter(
        path,
        schema,
        compression="zstd",
        write_statistics=True,
        use_dictionary=True,
        write_page_index=True,
        sorting_columns=sorting or None,
    ) as writer:

        def flush(final: bool) -> None:
            nonlocal buffered, n_buffered
            if not buffered:
                return
            table = pa.Table.from_batches(buffered, schema)
            cut = n_buffered if final else (n_buffered // group) * group
            if cut:
                writer.write_table(table.slice(0, cut), row_group_size=group)
            rest = table.slice(cut)
            buffered, n_buffered = (rest.to_batches(), rest.num_rows) if rest.num_rows else ([], 0)

        for batch in reader:
            if batch.num_rows:
                buffered.append(batch)
                n_buffered += batch.num_rows
                rows += batch.num_rows
                if n_buffered >= group:
                    flush(False)
        flush(True)
    return rows, schema


_FRICTIONLESS_TYPES = {
    "string": "string", "large_string": "string", "string_view": "string", "bool": "boolean",
    "int8": "integer", "int16": "integer", "int32": "integer", "int64": "integer",
    "uint8": "integer", "uint16": "integer", "uint32": "integer", "uint64": "integer",
    "halffloat": "number", "float": "number", "double": "number", "decimal128": "number", "date32": "date",
    "timestamp": "datetime", "time64": "time", "list": "list", "large_list": "list", "struct": "object",
}  # fmt: skip


def _field_type(t: pa.DataType) -> str:
    return _FRICTIONLESS_TYPES.get(str(t).split("[")[0].split("(")[0].split("<")[0], "any")


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
    csv: bool | Iterable[str] | None = None,
    bundle: bool = True,
    catalog: bool = True,
) -> ReleaseResult:
    """Write a release; returns unchanged=True (and publishes nothing) when inputs and code match
    the latest release.

    csv: True for CSV copies of every table, False for none, or the names of the tables to copy;
        None (default) reads OBSERVATORY_RELEASE_CSV: "all", "none", a comma list of tables, or
        "auto" (default: every table under CSV_AUTO_MAX_ROWS rows).
    bundle: write one zip with the data and metadata for download.
    catalog: write index.html into the release and refresh releases/index.html.
    force_new: publish a new version even when nothing changed (never overwrites one).
    """
    from pipelines.release import releases as rel

    releases_dir.mkdir(parents=True, exist_ok=True)
    params = dict(params or {})
    fingerprint = input_fingerprint(sources, params, content_digest(tables))
    _sweep_stale_tmp(releases_dir)
    _recover_unpointed(releases_dir)
    latest = read_latest(releases_dir)
    if (
        latest
        and latest.get("fingerprint") == fingerprint
        and not force_new
        and (releases_dir / latest["version"]).is_dir()
    ):
        return ReleaseResult(latest["version"], releases_dir / latest["version"], fingerprint, unchanged=True)
    previous = latest["version"] if latest and (releases_dir / latest["version"]).is_dir() else None
    csv_tables = _csv_tables(csv, tables)

    version = next_version(releases_dir, today)
    tmp = releases_dir / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        resources: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for name, src in tables.items():
            schema = load_schema(name)
            rel_path = f"data/{name}.parquet"
            out = tmp / rel_path
            out.parent.mkdir(parents=True, exist_ok=True)
            rows, arrow_schema = write_parquet(src, out, list(schema.sort_by), list(schema.primary_key))
            schema.check_columns(arrow_schema.names)
            counts[name] = rows
            log.info("release %s: %s %s rows", version, name, f"{rows:,}")
            by_name = {f["name"]: f for f in schema.fields}
            table_schema = {
                "fields": [
                    {
                        "name": f.name,
                        "type": _field_type(f.type),
                        **{k: v for k, v in by_name[f.name].items() if k in ("description", "unit", "title")},
                    }
                    for f in arrow_schema
                ],
                "primaryKey": list(schema.primary_key),
            }
            content_hash = rel.table_content_hash(out, list(schema.primary_key))
            resources.append(
                {
                    "name": name,
                    "type": "table",
                    "title": schema.title,
                    "description": schema.description,
                    "path": rel_path,
                    "format": "parquet",
                    "mediatype": "application/vnd.apache.parquet",
                    "bytes": out.stat().st_size,
                    "hash": f"sha256:{sha256_file(out)}",
                    "rows": rows,
                    "sortedBy": _order(list(schema.sort_by), list(schema.primary_key)),
                    "rowGroupRows": row_group_rows(rows),
                    "contentHash": content_hash,
                    "schema": table_schema,
                }
            )
            if name in csv_tables or (AUTO in csv_tables and rows <= CSV_AUTO_MAX_ROWS):
                csv_path = f"csv/{name}.csv"
                (tmp / "csv").mkdir(exist_ok=True)
                _write_csv(out, tmp / csv_path)
                resources.append(
                    {
                        "name": f"{name}-csv",
                        "type": "table",
                        "title": f"{schema.title} (CSV copy)",
                        "path": csv_path,
                        "format": "csv",
                        "mediatype": "text/csv",
                        "encoding": "utf-8",
                        "bytes": (tmp / csv_path).stat().st_size,
                        "hash": f"sha256:{sha256_file(tmp / csv_path)}",
                        "rows": rows,
                        "contentHash": content_hash,
                        "schema": table_schema,
                    }
                )
        for rel_name, src_path in (extra_files or {}).items():
            dest = tmp / rel_name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if Path(src_path).is_dir():
                shutil.copytree(src_path, dest, dirs_exist_ok=True)
            else:
                shutil.copyfile(src_path, dest)
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        package = {
            "$schema": DATAPACKAGE_PROFILE,
            "name": PACKAGE_NAME,
            "id": f"{PACKAGE_NAME}/{version}",
            "title": "Cluster Observatory: regional cluster indicators",
            "description": (
                "Regional cluster indicators reproducing clustermapping.us (US Cluster Mapping Project) "
                "from public US County Business Patterns, and the same clusters for European NUTS regions "
                "from Eurostat regional structural business statistics (European Cluster Observatory "
                "stars): employment, wages, location quotients and strong clusters by region, cluster "
                "and year."
            ),
            "version": version,
            "created": created,
            "keywords": [
                "clusters", "regional economics", "County Business Patterns", "Eurostat",
                "structural business statistics", "location quotient",
            ],
            "licenses": [LICENSE],
            "contributors": [{"title": "Cluster Observatory contributors", "roles": ["creator", "publisher"]}],
            "fingerprint": fingerprint,
            "contentHashMethod": rel.CONTENT_HASH_METHOD,
            "code": code_version(),
            "parameters": params,
            "previousVersion": previous,
            "sources": [rel.source_entry(s) for s in sorted(sources, key=lambda s: s["source_id"])],
            "resources": resources,
            **dict(metadata or {}),
        }
        package["description"] = rel.describe_release(package)  # what it covers, partial inputs first
        diff = rel.write_changes(tmp, releases_dir / previous if previous else None, package)
        resources.extend(rel.file_resources(tmp))
        problems = rel.validate_datapackage(package, tmp)
        if problems:
            raise ValueError("datapackage.json does not follow Data Package v2: " + "; ".join(problems[:5]))
        (tmp / "datapackage.json").write_text(json.dumps(package, indent=2, sort_keys=False, default=str) + "\n")
        rel.write_metadata_files(tmp, package)
        if bundle:
            rel.write_bundle(tmp, package)
        if catalog:
            rel.write_release_page(tmp, package)
        _write_sums(tmp)
        final = releases_dir / version
        if final.exists():
            raise ReleaseExistsError(f"release {final} already exists; releases are never overwritten")
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_latest(releases_dir, version, fingerprint, created)
    if catalog:
        try:
            rel.build_catalog(releases_dir)
        except Exception:  # the release is complete and immutable; a catalog hiccup must not hide that
            log.exception("release %s published, but the catalog index could not be rebuilt", version)
    return ReleaseResult(version, final, fingerprint, counts, previous=previous, diff_summary=diff)


STALE_TMP_SECONDS = 15 * 60


def _sweep_stale_tmp(releases_dir: Path, max_age: float = STALE_TMP_SECONDS) -> None:
    """Remove half-written release folders left by a killed publish (never a published one)."""
    import time

    now = time.time()
    for d in releases_dir.glob(".tmp-v*"):
        if d.is_dir() and now - d.stat().st_mtime > max_age:
            shutil.rmtree(d, ignore_errors=True)


def _recover_unpointed(releases_dir: Path) -> None:
    """A crash between the rename and the pointer leaves a complete release latest.json does not
    name: point latest at it (when it is newer and intact) instead of publishing it again."""
    versions = list_versions(releases_dir)
    if not versions:
        return
    newest = versions[-1]
    latest = read_latest(releases_dir) or {}
    if latest.get("version") == newest:
        return
    if latest.get("version") and version_key(latest["version"]) > version_key(newest):
        return
    pkg_path = releases_dir / newest / "datapackage.json"
    if not pkg_path.exists() or verify_release(releases_dir / newest):
        return
    pkg = json.loads(pkg_path.read_text())
    if pkg.get("fingerprint"):
        _point_latest(releases_dir, newest, pkg["fingerprint"], pkg.get("created", ""))


def _write_csv(parquet: Path, dest: Path) -> None:
    """CSV copy (header, UTF-8, nulls empty, lists as [a, b]) of a Parquet file, same row order."""
    con = duckdb.connect()
    try:
        src, out = (str(p).replace("'", "''") for p in (parquet, dest))
        con.execute(f"SET preserve_insertion_order = true; COPY (SELECT * FROM read_parquet('{src}')) TO '{out}' (FORMAT csv, HEADER)")
    finally:
        con.close()


AUTO = "\0auto"


def _csv_tables(csv: bool | Iterable[str] | None, tables: Mapping[str, Any]) -> set[str]:
    if csv is None:
        spec = release_csv_spec()
        csv = True if spec == "all" else False if spec in {"none", "0", "no", ""} else {AUTO} if spec == "auto" else [t.strip() for t in spec.split(",")]
    if csv is True:
        return set(tables)
    if csv is False:
        return set()
    wanted = set(csv)
    unknown = wanted - set(tables) - {AUTO}
    if unknown:
        raise ValueError(f"CSV copies asked for unknown tables: {sorted(unknown)}")
    return wanted


def _write_sums(folder: Path) -> None:
    lines = [
        f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}"
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "SHA256SUMS"
    ]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def _point_latest(releases_dir: Path, version: str, fingerprint: str, created: str) -> None:
    """Move the latest/ link, then latest.json (each an atomic rename)."""
    link = releases_dir / "latest"
    if not link.exists() or link.is_symlink():
        tmp_link = releases_dir / f".latest-link-{uuid.uuid4().hex[:8]}"
        os.symlink(version, tmp_link, target_is_directory=True)
        os.replace(tmp_link, link)
    _write_latest(releases_dir, version, fingerprint, created)


def _write_latest(releases_dir: Path, version: str, fingerprint: str, created: str) -> None:
    tmp = releases_dir / f".latest-{uuid.uuid4().hex[:8]}.json"
    tmp.write_text(
        json.dumps({"version": version, "path": version, "fingerprint": fingerprint, "created": created}, indent=2)
        + "\n"
    )
    os.replace(tmp, releases_dir / "latest.json")


def verify_release(path: Path) -> list[str]:
    """Re-check every sha256 in SHA256SUMS (and every resource hash in datapackage.json);
    returns the problems found (empty when intact)."""
    problems = []
    sums = path / "SHA256SUMS"
    if not sums.exists():
        return [f"{sums} missing"]
    listed: dict[str, str] = {}  # path -> actual sha256
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        digest, rel = line.split("  ", 1)
        f = path / rel
        if not f.exists():
            problems.append(f"{rel}: missing")
            continue
        listed[rel] = sha256_file(f)
        if listed[rel] != digest:
            problems.append(f"{rel}: sha256 mismatch")
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).as_posix()
        if p.is_file() and p.name != "SHA256SUMS" and rel not in listed:
            problems.append(f"{rel}: not listed in SHA256SUMS")
    pkg_path = path / "datapackage.json"
    if pkg_path.exists() and "datapackage.json: sha256 mismatch" not in problems:
        for r in json.loads(pkg_path.read_text()).get("resources", []):
            f = path / r["path"]
            want = str(r.get("hash", "")).removeprefix("sha256:")
            actual = listed.get(r["path"]) or (sha256_file(f) if f.exists() else None)
            if want and actual and actual != want and f"{r['path']}: sha256 mismatch" not in problems:
                problems.append(f"{r['path']}: sha256 differs from datapackage.json")
    return problems
