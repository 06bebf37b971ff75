"""Rebuilds are identical (issue 15): the warehouse rebuilt from the raw archive alone, in a fresh
warehouse, gives the same content hash for every published table, US and EU."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.config import ASSETS_DIR, Settings
from pipelines.raw.archive import ANNOTATION
from pipelines.release.content import table_content_hash
from pipelines.schemas import load_schema
from pipelines.warehouse import database, families
from tests.helpers.rebuild import build

YEARS = (2011,)  # the CBP year the EU weights come from: one year keeps the test fast


def table_hashes(settings: Settings, out: Path) -> dict[str, str]:
    """The release's writer-independent content hash of every table a release publishes."""
    names = [
        *database.US_RELEASE_TABLES, "custom_regions", *database.EU_RELEASE_TABLES,
        *families.family_table_names("us"), *families.family_table_names("eu"),
    ]
    out.mkdir(parents=True, exist_ok=True)
    hashes = {}
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        for name in names:
            path = out / f"{name}.parquet"
            con.execute(f"COPY (SELECT * FROM {name}) TO '{path}' (FORMAT parquet)")
            hashes[name] = table_content_hash(path, list(load_schema(name).primary_key))
    finally:
        con.close()
    return hashes


def mirror_from_archive(raw: Path, dest: Path) -> Path:
    """An offline mirror (index.json) serving exactly the files of a raw archive."""
    entries = []
    for manifest in sorted(raw.rglob("manifest.jsonl")):
        for line in manifest.read_text().splitlines():
            rec = json.loads(line)
            if ANNOTATION in rec:  # a field added to an archived file (e.g. its NAICS vintage), not a file
                continue
            entries.append({
                "id": rec["source_id"], "url": rec["url"], "path": str((raw / rec["path"]).resolve()),
                "bytes": rec["bytes"], "sha256": rec["sha256"], "kind": rec.get("mirror_kind") or "archive",
                "note": rec.get("note") or "", "attribution": rec.get("attribution") or "",
            })  # fmt: skip
    dest.mkdir(parents=True)
    (dest / "index.json").write_text(json.dumps({"mirror_version": "raw-archive", "entries": entries}))
    return dest


@pytest.mark.mirror
def test_rebuild_from_raw_archive_gives_identical_tables(tmp_path: Path, mirror_dir: Path) -> None:
    groups = ASSETS_DIR / "region_groups.yaml"  # US and EU groups: their sums too
    first = Settings(warehouse=tmp_path / "a", mirror=mirror_dir, offline=True, cbp_years=YEARS, region_groups=groups)
    build(first)
    a = table_hashes(first, tmp_path / "a_tables")

    archive_mirror = mirror_from_archive(first.raw_dir, tmp_path / "archive_mirror")
    second = Settings(warehouse=tmp_path / "b", mirror=archive_mirror, offline=True, cbp_years=YEARS, region_groups=groups)
    build(second)
    b = table_hashes(second, tmp_path / "b_tables")

    assert set(a) >= {"cluster_indicators", "industry_employment", "eu_cluster_indicators", "eu_industry_employment",
                      "nace_cluster_concordance", "nace_concordance_report", "nuts_crosswalk"}
    for name in a:
        # one US year has no growth windows: the US shift-share and emerging tables are empty
        may_be_empty = {"custom_regions", "unmapped_industries", "shift_share", "emerging_clusters", "emerging_backtest"}
        assert name in may_be_empty or pl.read_parquet(tmp_path / "a_tables" / f"{name}.parquet").height > 0, name
    differ = sorted(n for n in a if a[n] != b[n])
    assert not differ, f"tables whose content differs between two builds from the same raw archive: {differ}"
