"""End to end through Dagster on the mirror: CBP → DuckDB indicators → release."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.cli.refresh import refresh
from pipelines.config import ASSETS_DIR, PROJECT_ROOT, Settings
from pipelines.release.publish import verify_release


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_refresh_publishes_a_release_and_an_unchanged_rerun_publishes_nothing(mirror_dir: Path, tmp_path: Path) -> None:
    settings = Settings(
        warehouse=tmp_path / "wh", mirror=mirror_dir, cbp_years=(2010, 2011), offline=True,
        region_groups=ASSETS_DIR / "region_groups.yaml",
    )
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = refresh(settings, instance=instance)
        rel = result.release
        assert rel["published"] is True
        path = Path(rel["path"])
        assert path.parent == settings.releases_dir and path.name.startswith("v")
        latest = json.loads((settings.releases_dir / "latest.json").read_text())
        assert latest["version"] == path.name
        assert verify_release(path) == []

        # The release opens in DuckDB and Polars.
        ci = pl.read_parquet(path / "data/cluster_indicators.parquet")
        assert ci.filter(pl.col("region_type") == "state").height == 2 * 51 * 67  # 50 states + DC
        # The configured region group (New England states) is published as a custom region.
        ne = ci.filter((pl.col("region_type") == "custom") & (pl.col("region_code") == "NEW_ENGLAND"))
        assert ne.height == 2 * 67
        states_ne = ci.filter(pl.col("region_code").is_in(["09", "23", "25", "33", "44", "50"]))
        assert ne["emp"].sum() == states_ne["emp"].sum()
        # EU tables beside the US ones, on the same cluster codes, with the stars.
        eu = pl.read_parquet(path / "data/eu_cluster_indicators.parquet")
        assert set(eu["cluster_code"]) <= set(ci["cluster_code"]) and eu["cluster_code"].n_unique() >= 40
        assert {"nuts0", "nuts1", "nuts2", "custom"} <= set(eu["region_type"])
        assert eu["eco2011_stars"].max() >= 2 and eu["panorama_stars"].max() >= 2
        assert set(eu["year"]) == set(range(2008, 2016))
        assert eu.filter(pl.col("region_code") == "MEDICON").height > 0
        assert (path / "data/nace_cluster_concordance.parquet").exists()
        # The release explains a published EU LQ: Automotive (via NACE C29) in Stuttgart, 2014.
        notes = (path / "notes/lq_worked_example.md").read_text()
        de11 = eu.filter((pl.col("region_code") == "DE11") & (pl.col("year") == 2014) & (pl.col("cluster_code") == "4"))
        assert f"**{de11['lq'][0]:.4f}**" in notes
        assert "Numerator" in notes and "Denominator" in notes and "Reference scope" in notes and "C29" in notes
        # Indicator families (issue 12) for US + custom and EU + custom regions, documented, with notes.
        from pipelines.warehouse.families import FAMILY_TABLES

        for table in [*FAMILY_TABLES, *(f"eu_{t}" for t in FAMILY_TABLES)]:
            assert (path / f"data/{table}.parquet").exists(), table
        ss = pl.read_parquet(path / "data/shift_share.parquet")
        assert set(ss["window_kind"]) == {"full"} and {"state", "custom"} <= set(ss["region_type"])
        parts = ss["national_effect"] + ss["mix_effect"] + ss["competitive_effect"]
        assert (parts - ss["emp_change"]).abs().max() < 1e-6
        # the states are the reference: their national effects add up to its growth
        st = ss.filter(pl.col("region_type") == "state")
        assert st["national_effect"].sum() == pytest.approx(st["emp_change"].sum(), rel=1e-9)
        dv = pl.read_parquet(path / "data/eu_diversification.parquet").drop_nulls("total_entropy")
        assert dv.height > 0 and {"nuts2", "custom"} <= set(dv["region_type"])
        assert ((dv["related_variety"] + dv["unrelated_variety"] - dv["total_entropy"]).abs() < 1e-9).all()
        assert (path / "notes/shift_share_worked_example.md").exists()
        assert "ss_window_years" in json.loads((path / "datapackage.json").read_text())["parameters"]
        assert set(ci["year"].unique()) == {2010, 2011}
        con = duckdb.connect()
        n = con.execute(
            "SELECT count(*) FROM read_parquet($p) WHERE region_code = '06' AND year = 2011",
            {"p": str(path / "data/cluster_indicators.parquet")},
        ).fetchall()[0][0]
        assert n == 67
        ie = pl.scan_parquet(path / "data/industry_employment.parquet")
        assert ie.select(pl.col("source_id").unique().sort()).collect()["source_id"].to_list() == [
            "census/cbp/state/2010", "census/cbp/state/2011"]
        pkg = json.loads((path / "datapackage.json").read_text())
        assert pkg["national_reference"] == "sum of regions"
        # the EU thresholds and the reference option are recorded with the release
        eu_params = pkg["parameters"]["eu_indicators"]
        assert eu_params["eco2011_lq"] == 2.0 and eu_params["fixed_reference"] is False
        assert eu_params["panorama_productivity_ratio"] == 1.10
        assert (path / "data/nace_concordance_report.parquet").exists()
        ids = {s["title"] for s in pkg["sources"]}
        assert {"census/cbp/state/2010", "clustermapping/cluster_naics_definitions", "eurostat/sbs_r_nuts06_r2"} <= ids
        assert all(s["sha256"] and s["attribution"] for s in pkg["sources"])
        # Each CBP file's NAICS vintage, as found in its codes, and the gate's threshold (issue 11).
        cbp_src = {s["title"]: s for s in pkg["sources"] if s["title"].startswith("census/cbp/state/")}
        assert {t: s["naics_vintage"] for t, s in cbp_src.items()} == {f"census/cbp/state/{y}": "2007" for y in (2010, 2011)}
        assert all(s["naics_vintage_evidence"]["shares"]["2007"] == 1.0 for s in cbp_src.values())
        assert pkg["parameters"]["max_unmapped_share"] == 0.01
        assert "notes/naics_vintages.md" in pkg["notes"]
        assert "same definitions" in (path / "notes/naics_vintages.md").read_text()
        assert {"weight", "derived_from"} <= set(pl.read_parquet(path / "data/cluster_naics.parquet").columns)
        # one NAICS vintage (2007) in both years: no break; a window exists wherever a rate does
        # (issue 19: from a sound 2010 base only)
        assert ci["vintage_break"].drop_nulls().to_list() == [False] * ci.filter(pl.col("job_creation").is_not_null()).height
        assert 0 < ci.filter(pl.col("job_creation").is_not_null()).height < ci.filter(pl.col("year") == 2011).height
        res = {r["name"]: r for r in pkg["resources"]}
        assert res["cluster_indicators"]["schema"]["primaryKey"] == ["year", "region_type", "region_code", "cluster_code"]
        lq = next(f for f in res["cluster_indicators"]["schema"]["fields"] if f["name"] == "lq")
        assert "Location quotient" in lq["description"]

        # Asset materializations recorded with row counts and partitions.
        ev = instance.get_latest_materialization_event(dg.AssetKey("cluster_indicators"))
        assert ev.asset_materialization.metadata["dagster/row_count"].value == ci.height
        parts = instance.get_materialized_partitions(dg.AssetKey("cbp_state"))
        assert parts == {"2010", "2011"}

        raw_before = _snapshot(settings.raw_dir)
        again = refresh(settings, instance=instance)
        assert again.release["published"] is False
        assert sorted(p.name for p in settings.releases_dir.glob("v*")) == [path.name]
        assert _snapshot(settings.raw_dir) == raw_before


def test_bad_input_stops_and_leaves_archive_and_releases_untouched(mirror_dir: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(mirror_dir, mirror)
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror, cbp_years=(2010, 2011), offline=True, eurostat=False)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        first = refresh(settings, instance=instance)
        assert first.release["published"]
        releases_before = _snapshot(settings.releases_dir)
        raw_before = _snapshot(settings.raw_dir)

        # A truncated 2011 file whose index entry matches (an upstream that changed for the worse).
        index = json.loads((mirror / "index.json").read_text())
        entry = next(e for e in index["entries"] if e["id"] == "census/cbp/state/2011")
        target = mirror / entry["path"]
        data = target.read_bytes()[:200_000]
        target.write_bytes(data)
        import hashlib

        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entry["bytes"] = len(data)
        (mirror / "index.json").write_text(json.dumps(index))
        from pipelines.raw.mirror import load_mirror

        load_mirror.cache_clear()
        with pytest.raises(Exception) as err:
            refresh(settings, instance=instance)
        msg = str(err.value)
        assert "census/cbp/state/2011" in msg and ("zip" in msg.lower())
        assert _snapshot(settings.releases_dir) == releases_before
        assert _snapshot(settings.raw_dir) == raw_before
        load_mirror.cache_clear()


def test_definitions_load_and_validate(tmp_path: Path) -> None:
    from pipelines.definitions import defs

    d = defs()
    graph = d.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"cbp_state", "industry_employment", "cluster_indicators", "region_indicators", "release", "clusters", "eu_cluster_indicators"} <= keys
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key} has no description"
        assert node.group_name and node.group_name != "default", f"{key} has no group"
    assert graph.get(dg.AssetKey("cbp_state")).partitions_def is not None
    for cmd in (["dagster", "definitions", "validate", "-m", "pipelines.definitions"], ["dg", "check", "defs"]):
        proc = subprocess.run(
            [str(PROJECT_ROOT / ".venv/bin" / cmd[0]), *cmd[1:]],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
            env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        )
        assert proc.returncode == 0, f"{cmd}: {proc.stdout}{proc.stderr}"
        assert "loaded successfully" in proc.stdout + proc.stderr or "passed validation" in proc.stdout + proc.stderr
