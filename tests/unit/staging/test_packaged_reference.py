"""Reference data shipped in assets/reference: served without a mirror, verified, cited; every
region in the indicators has a name (the District of Columbia included)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.errors import SourceError
from pipelines.raw import mirror as mirror_mod
from pipelines.raw.http import fetch
from pipelines.sources import clustermapping, naics
from pipelines.staging.eu import NACE_CODE_LIST
from pipelines.staging.nace_concordance import REFERENCE_IDS
from pipelines.staging.nuts_names import LATIN_NAMES_ID
from pipelines.validation.engines import run_sql_check
from pipelines.warehouse.indicators import reference_for_totals, unnamed_regions
from tests.helpers.fips import STATE_FIPS

PACKAGED = PROJECT_ROOT / "assets" / "reference"


def _index() -> dict:
    return json.loads((PACKAGED / "index.json").read_text())


def _read_ids() -> set[str]:
    """Every reference id the pipeline fetches without a URL."""
    return {*clustermapping.IDS.values(), naics.CONCORDANCE_ID, *REFERENCE_IDS.values(), NACE_CODE_LIST, LATIN_NAMES_ID}


def test_index_lists_every_reference_file_the_pipeline_reads_with_hash_licence_and_provenance() -> None:
    entries = {e["id"]: e for e in _index()["entries"]}
    assert _read_ids() <= set(entries), sorted(_read_ids() - set(entries))
    for e in entries.values():
        path = PACKAGED / e["path"]
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == e["sha256"] and len(data) == e["bytes"], e["id"]
        assert e["url"] is None and e["source_url"].startswith("https://"), e["id"]
        assert e["licence"] and e["attribution"], e["id"]
        assert (path.parent / "PROVENANCE.md").is_file(), f"{path.parent} has no PROVENANCE.md"


def test_packaged_copies_are_the_mirror_bytes(mirror_dir: Path) -> None:
    mirror = {e["id"]: e for e in json.loads((mirror_dir / "index.json").read_text())["entries"]}
    for e in _index()["entries"]:
        assert e["id"] in mirror, e["id"]
        assert e["sha256"] == mirror[e["id"]]["sha256"], f"{e['id']}: packaged copy differs from the mirror"


def test_without_mirror_reference_files_come_from_the_package_offline(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, offline=True)
    sid = clustermapping.IDS["regions"]
    raw = fetch(sid, None, settings, mirror_id=sid)
    entry = next(e for e in _index()["entries"] if e["id"] == sid)
    assert raw.served_from == f"packaged:{_index()['mirror_version']}"
    assert raw.sha256 == entry["sha256"] and raw.mirror_kind == "packaged-reference"
    assert raw.path.is_relative_to(settings.raw_dir) and raw.path.name == "regions.csv"
    # a workbook keeps its extension (openpyxl needs it)
    xl = fetch(REFERENCE_IDS["nuts2021"], None, settings, mirror_id=REFERENCE_IDS["nuts2021"])
    assert xl.path.suffix == ".xlsx"


def test_the_mirror_wins_over_the_package(settings: Settings) -> None:
    sid = clustermapping.IDS["regions"]
    raw = fetch(sid, None, settings, mirror_id=sid)
    assert raw.served_from.startswith("mirror:")


def test_unknown_reference_id_names_the_source(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, offline=True)
    with pytest.raises(SourceError, match="no packaged copy") as exc:
        fetch("clustermapping/nope", None, settings, mirror_id="clustermapping/nope")
    assert "clustermapping/nope" in str(exc.value)


def test_tampered_packaged_copy_is_refused_and_not_archived(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "reference"
    shutil.copytree(PACKAGED, copy)
    target = copy / "us-cluster-mapping" / "regions.csv"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes().replace(b"Alabama", b"Alabamb", 1))
    monkeypatch.setattr(mirror_mod, "PACKAGED_REFERENCE", copy)
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, offline=True)
    sid = clustermapping.IDS["regions"]
    with pytest.raises(SourceError, match="checksum mismatch in the packaged") as exc:
        fetch(sid, None, settings, mirror_id=sid)
    assert str(target) in str(exc.value)
    assert not (settings.raw_dir / sid).exists() or not any((settings.raw_dir / sid).rglob("regions.csv"))


# --- observatory indicators on a fresh clone / from a release -----------------------------------


def _totals(path: Path) -> Path:
    rows = [
        {"year": y, "region_type": "state", "region_code": r, "cluster_code": c, "emp": e, "emp_reported": e, "est": e / 10, "payroll": e * 40}
        for y in (2010, 2011)
        for r, k in (("11", 1.0), ("24", 2.0), ("51", 3.0))
        for c, e in (("1", 100.0 * k), ("2", 50.0 * (4 - k)), ("101", 300.0))
    ]  # fmt: skip
    pl.DataFrame(rows).write_csv(path)
    return path


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATORY_")}
    env.update(OBSERVATORY_MIRROR="", OBSERVATORY_OFFLINE="1", OBSERVATORY_WAREHOUSE=str(tmp_path / "wh"))  # no mirror, no network
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


def test_indicators_cli_runs_without_mirror_from_packaged_reference(tmp_path: Path) -> None:
    totals = _totals(tmp_path / "totals.csv")
    res = _cli(["indicators", "--cluster-totals", str(totals), "--out", str(tmp_path / "out")], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "cluster definitions from packaged:" in res.stdout
    assert "no name" not in res.stderr  # DC (11), MD (24), VA (51) are all named
    ci = pl.read_parquet(tmp_path / "out" / "cluster_indicators.parquet")
    assert set(ci["region_code"]) == {"11", "24", "51"}
    assert ci.filter(pl.col("cluster_code") == "101")["cluster_type"].unique().to_list() == ["local"]


def test_indicators_cli_reads_cluster_definitions_and_names_from_a_release(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "x", mirror=None, offline=True)
    clusters, regions, _ = reference_for_totals(settings)
    rel = tmp_path / "wh" / "releases" / "v2026.01.01"
    (rel / "data").mkdir(parents=True)
    (rel / "datapackage.json").write_text("{}")
    # The release's definitions say cluster 1 is local: the output must follow the release.
    clusters.with_columns(pl.when(pl.col("cluster_code") == "1").then(False).otherwise(pl.col("traded")).alias("traded")).write_parquet(rel / "data" / "clusters.parquet")
    regions.filter(pl.col("region_code") != "51").write_parquet(rel / "data" / "regions.parquet")
    totals = _totals(tmp_path / "totals.csv")
    for spec in (str(rel), "v2026.01.01"):
        out = tmp_path / f"out-{len(spec)}"
        res = _cli(["indicators", "--cluster-totals", str(totals), "--out", str(out), "--release", spec], tmp_path)
        assert res.returncode == 0, res.stderr
        assert "cluster definitions from release v2026.01.01" in res.stdout
        assert "1 region code(s) have no name" in res.stderr and "state/51" in res.stderr
        ci = pl.read_parquet(out / "cluster_indicators.parquet")
        assert ci.filter(pl.col("cluster_code") == "1")["cluster_type"].unique().to_list() == ["local"]
    res = _cli(["indicators", "--cluster-totals", str(totals), "--release", "v1999.01.01"], tmp_path)
    assert res.returncode == 1 and "--release v1999.01.01" in res.stderr


# --- every region named --------------------------------------------------------------------------


def test_regions_name_every_state_including_the_district_of_columbia() -> None:
    regions, _ = clustermapping.parse_regions(PACKAGED / "us-cluster-mapping" / "regions.csv")
    states = regions.filter(pl.col("region_type") == "state")
    assert set(states["region_code"]) == STATE_FIPS
    dc = states.filter(pl.col("region_code") == "11").row(0, named=True)
    assert dc["region_name"] == "District of Columbia" and dc["derived_from"] == "region/county/11001"
    assert dc["clustermapping_id"] is None and dc["region_key"] == "district_of_columbia"
    assert regions.filter(pl.col("derived_from").is_not_null()).height == 1  # Puerto Rico stays a territory
    assert regions.select(pl.struct("region_type", "region_code").is_unique().all()).item()


def test_every_state_of_a_cbp_file_has_a_name(mirror_dir: Path) -> None:
    """Against the source: the FIPSTATE codes of a real CBP state file all have a region name."""
    import zipfile

    entry = next(e for e in json.loads((mirror_dir / "index.json").read_text())["entries"] if e["id"].startswith("census/cbp/state/"))
    with zipfile.ZipFile(mirror_dir / entry["path"]) as z:
        member = next(n for n in z.namelist() if n.lower().endswith((".txt", ".csv")))
        codes = pl.read_csv(z.read(member), infer_schema=False)
    col = next(c for c in codes.columns if c.lower() == "fipstate")
    present = pl.DataFrame({"region_type": "state", "region_code": codes[col].unique().str.zfill(2)})
    regions, _ = clustermapping.parse_regions(PACKAGED / "us-cluster-mapping" / "regions.csv")
    assert "11" in present["region_code"].to_list(), "the CBP state file carries DC"
    assert unnamed_regions(present, regions).height == 0


def test_region_named_check_flags_codes_without_a_name() -> None:
    regions, _ = clustermapping.parse_regions(PACKAGED / "us-cluster-mapping" / "regions.csv")
    with duckdb.connect() as con:
        con.register("regions", regions.to_arrow())
        con.execute("CREATE TABLE custom_regions (region_type VARCHAR, region_code VARCHAR, region_name VARCHAR)")
        con.execute("INSERT INTO custom_regions VALUES ('custom', 'new_england', 'New England'), ('custom', 'blank', '')")
        con.execute(
            """CREATE TABLE ci AS SELECT * FROM (VALUES ('state', '11'), ('state', '06'), ('state', '99'), ('country', 'US'),
               ('custom', 'new_england'), ('custom', 'blank'), ('county', '11001')) AS t(region_type, region_code)"""
        )
        count, sample = run_sql_check(con, "region_named", table="ci")
    assert count == 2 and {(r["region_type"], r["region_code"]) for r in sample} == {("state", "99"), ("custom", "blank")}


def test_eu_region_named_expectation_blocks_unnamed_codes() -> None:
    from pipelines.validation.engines import validate_frame

    df = pl.DataFrame({"year": [2014] * 3, "region_type": ["nuts2", "nuts2", "custom"], "region_code": ["DE11", "XX99", "medicon"]})
    res = validate_frame("eu_indicators", df, params={"named_region_codes": {"DE11", "medicon"}})
    named = res.outcome("region_named")
    assert named.status == "failed" and named.severity == "error" and named.failing_count == 1
    assert "XX99" in json.dumps(named.sample, default=str) or "XX99" in str(named.observed)


def test_every_eu_region_of_the_mirror_build_has_a_name(settings: Settings) -> None:
    """On the mirror: every region of the EU cluster totals (NUTS and the shipped region groups)
    is in the named codes the eu_indicators suite checks against (`named_region_codes`)."""
    from pipelines.staging import eu_sbs
    from pipelines.staging.eu import _code_lists
    from pipelines.staging.region_groups import load_region_groups

    groups = [g for g in load_region_groups(PROJECT_ROOT / "assets" / "region_groups.yaml") if g.base_type.startswith("nuts")]
    totals = eu_sbs.build_eu(settings, region_groups=groups)["eu_cluster_totals"]
    named = set(_code_lists(settings, groups)["named_region_codes"])
    codes = set(totals["region_code"].unique())
    assert codes and not (codes - named), sorted(codes - named)[:20]
    assert {g.code for g in groups} <= codes  # the groups are in the check, not only NUTS codes
