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

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.layout import read_latest
from pipelines.raw.archive import sha256_file
from pipelines.release.citation import write_bundle, write_metadata_files
from pipelines.release.content import (
    CONTENT_HASH_METHOD,
    code_version,
    content_digest,
    input_fingerprint,
    table_content_hash,
)
from pipelines.release.coverage import describe_release
from pipelines.release.datapackage import (
    DATAPACKAGE_PROFILE,
    LICENSE,
    PACKAGE_NAME,
    file_resources,
    frictionless_schema,
    source_entry,
    validate_datapackage,
)
from pipelines.release.diff import write_changes
from pipelines.release.integrity import heal_latest, verify_release
from pipelines.release.pages import build_catalog, write_release_page
from pipelines.release.parquet import (
    TableInput,
    choose_csv_tables,
    row_group_rows,
    sort_order,
    wants_csv,
    write_csv,
    write_parquet,
)
from pipelines.release.scope import dropped_scope, refuse_narrower
from pipelines.release.versions import list_versions, next_version, point_latest, version_key
from pipelines.schemas import load_schema

log = logging.getLogger(__name__)


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
    healed: str | None = None  # what was wrong with the latest pointer, and what was done about it


def release_reason(result: ReleaseResult) -> str:
    """One line for the UI saying what the run published, or why it published nothing."""
    if result.unchanged:
        return (
            f"nothing published: inputs and code are unchanged since release {result.version} "
            f"(input fingerprint {result.fingerprint[:12]}); a new release needs a changed source "
            "file, parameter or code version"
        )
    prev = f" (previous: {result.previous})" if result.previous else " (no previous release verifies)" if result.healed else " (first release)"
    return f"published release {result.version}{prev}" + (f"; {result.healed}" if result.healed else "")


def publish_release(
    tables: Mapping[str, TableInput],
    *,
    releases_dir: Path,
    sources: list[dict[str, Any]],
    params: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    extra_files: Mapping[str, Path] | None = None,
    force_new: bool = False,
    allow_narrower: bool = False,
    today: datetime | None = None,
    csv: bool | Iterable[str] | None = None,
    bundle: bool = True,
    catalog: bool = True,
) -> ReleaseResult:
    """Write a release; returns unchanged=True (and publishes nothing) when inputs and code match
    the latest release.

    csv: True for CSV copies of every table, False for none, or the names of the tables to copy;
        None (default) reads OBSERVATORY_RELEASE_CSV: "all", "none", a comma list of tables, or
        "auto" (default: every table whose CSV is at most CSV_AUTO_MAX_BYTES).
    bundle: write one zip with the data and metadata for download.
    catalog: write index.html into the release and refresh releases/index.html.
    force_new: publish a new version even when nothing changed (never overwrites one).
    allow_narrower: publish even when the release covers fewer CBP years, geographies or sources
        than the latest (metadata["coverage"]); otherwise NarrowerReleaseError, nothing published.
    """
    releases_dir.mkdir(parents=True, exist_ok=True)
    params = dict(params or {})
    fingerprint = input_fingerprint(sources, params, content_digest(tables))
    _sweep_stale_tmp(releases_dir)
    healed = heal_latest(releases_dir)  # latest names a release that verifies (or nothing) from here on
    if healed:
        log.warning(healed)
    _recover_unpointed(releases_dir)
    latest = read_latest(releases_dir)
    if not force_new and _same_as_latest(releases_dir, latest, fingerprint):
        return ReleaseResult(latest["version"], releases_dir / latest["version"], fingerprint, unchanged=True, healed=healed)
    previous = latest["version"] if latest and (releases_dir / latest["version"]).is_dir() else None
    if previous and not allow_narrower and (metadata or {}).get("coverage"):
        latest_pkg = json.loads((releases_dir / previous / "datapackage.json").read_text())
        drops = dropped_scope(latest_pkg, (metadata or {}).get("coverage") or {}, [s["source_id"] for s in sources])
        if drops:
            raise refuse_narrower(previous, drops)
    csv_tables = choose_csv_tables(csv, tables)

    version = next_version(releases_dir, today)
    tmp = releases_dir / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        resources, counts = _write_tables(tmp, tables, csv_tables, version)
        _copy_extra_files(tmp, extra_files or {})
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        package = _package(version, created, fingerprint, params, previous, sources, resources, metadata or {})
        previous_dir = releases_dir / previous if previous else None
        diff = _write_package_files(tmp, package, resources, previous_dir, bundle=bundle, catalog=catalog)
        final = releases_dir / version
        if final.exists():
            raise ReleaseExistsError(f"release {final} already exists; releases are never overwritten")
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    point_latest(releases_dir, version, fingerprint, created)
    if catalog:
        _rebuild_catalog_index(releases_dir, version)
    return ReleaseResult(version, final, fingerprint, counts, previous=previous, diff_summary=diff, healed=healed)


def _same_as_latest(releases_dir: Path, latest: Mapping[str, Any] | None, fingerprint: str) -> bool:
    """The latest release has this fingerprint and is still there: nothing to publish."""
    return bool(
        latest
        and latest.get("fingerprint") == fingerprint
        and (releases_dir / latest["version"]).is_dir()
    )


def _rebuild_catalog_index(releases_dir: Path, version: str) -> None:
    """Refresh releases/index.html after a release is in place (a failure is logged, not raised)."""
    try:
        build_catalog(releases_dir)
    except Exception:  # the release is complete and immutable; a catalog hiccup must not hide that
        log.exception("release %s published, but the catalog index could not be rebuilt", version)


def _write_tables(
    tmp: Path, tables: Mapping[str, TableInput], csv_tables: set[str], version: str
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Parquet file (and CSV copy, when asked for) of every table in the release folder being
    built; returns their Data Package resources and the row count of each table."""
    resources: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for name, src in tables.items():
        schema = load_schema(name)
        rel_path = f"data/{name}.parquet"
        out = tmp / rel_path
        out.parent.mkdir(parents=True, exist_ok=True)
        rows, arrow_schema = write_parquet(src, out, list(schema.sort_by), list(schema.primary_key))
        schema.check_columns(arrow_schema.names)
        schema.check_types(pl.from_arrow(arrow_schema.empty_table()).schema)  # type: ignore[union-attr]
        counts[name] = rows
        log.info("release %s: %s %s rows", version, name, f"{rows:,}")
        table_schema = frictionless_schema(schema, arrow_schema)
        content_hash = table_content_hash(out, list(schema.primary_key))
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
                "sortedBy": sort_order(list(schema.sort_by), list(schema.primary_key)),
                "rowGroupRows": row_group_rows(rows),
                "contentHash": content_hash,
                "schema": table_schema,
            }
        )
        if wants_csv(name, csv_tables, out):
            resources.append(_csv_copy(tmp, out, name, schema.title, rows, content_hash, table_schema))
    return resources, counts


def _csv_copy(
    tmp: Path, parquet: Path, name: str, title: str, rows: int, content_hash: str, table_schema: dict[str, Any]
) -> dict[str, Any]:
    """Write csv/<name>.csv from the table's Parquet file; returns its resource."""
    csv_path = f"csv/{name}.csv"
    (tmp / "csv").mkdir(exist_ok=True)
    write_csv(parquet, tmp / csv_path)
    return {
        "name": f"{name}-csv",
        "type": "table",
        "title": f"{title} (CSV copy)",
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


def _copy_extra_files(tmp: Path, extra_files: Mapping[str, Path]) -> None:
    """Copy the caller's extra files and folders (validation report, notes, geometry) into the release."""
    for rel_name, src_path in extra_files.items():
        dest = tmp / rel_name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if Path(src_path).is_dir():
            shutil.copytree(src_path, dest, dirs_exist_ok=True)
        else:
            shutil.copyfile(src_path, dest)


def _package(
    version: str,
    created: str,
    fingerprint: str,
    params: Mapping[str, Any],
    previous: str | None,
    sources: list[dict[str, Any]],
    resources: list[dict[str, Any]],
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    """The datapackage.json descriptor of the release (its description says what it covers)."""
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
        "contentHashMethod": CONTENT_HASH_METHOD,
        "code": code_version(),
        "parameters": params,
        "previousVersion": previous,
        "sources": [source_entry(s) for s in sorted(sources, key=lambda s: s["source_id"])],
        "resources": resources,
        **dict(metadata),
    }
    package["description"] = describe_release(package)  # what it covers, partial inputs first
    return package


def _write_package_files(
    tmp: Path,
    package: dict[str, Any],
    resources: list[dict[str, Any]],
    previous_dir: Path | None,
    *,
    bundle: bool,
    catalog: bool,
) -> dict[str, Any]:
    """Everything beside the tables: diff.json + CHANGELOG.md (against the previous release),
    datapackage.json (checked against Data Package v2), dataset.jsonld, CITATION.cff, the zip,
    the release page, and last SHA256SUMS. Returns the diff."""
    diff = write_changes(tmp, previous_dir, package)
    resources.extend(file_resources(tmp))
    problems = validate_datapackage(package, tmp)
    if problems:
        raise ValueError("datapackage.json does not follow Data Package v2: " + "; ".join(problems[:5]))
    (tmp / "datapackage.json").write_text(json.dumps(package, indent=2, sort_keys=False, default=str) + "\n")
    write_metadata_files(tmp, package)
    if bundle:
        write_bundle(tmp, package)
    if catalog:
        write_release_page(tmp, package)
    _write_sums(tmp)
    return diff


STALE_TMP_SECONDS = 15 * 60


def _sweep_stale_tmp(releases_dir: Path, max_age: float = STALE_TMP_SECONDS) -> None:
    """Remove half-written release folders left by a killed publish (never a published one)."""
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
        point_latest(releases_dir, newest, pkg["fingerprint"], pkg.get("created", ""))


def _write_sums(folder: Path) -> None:
    lines = [
        f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}"
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "SHA256SUMS"
    ]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
