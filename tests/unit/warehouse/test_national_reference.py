"""With a CBP US file in the inputs, national rows (not the sum of states) are the LQ reference."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl

from pipelines.config import Settings
from pipelines.sources import cbp
from pipelines.staging.cbp import parse_cbp_file, stage_cbp
from pipelines.staging.reference import stage_reference
from pipelines.warehouse import database
from pipelines.warehouse.sql import fetch_frame
from tests.helpers.cbp_files import write_zip


def _mirror_with_us_file(mirror_dir: Path, dest: Path, us_text: str) -> Path:
    index = json.loads((mirror_dir / "index.json").read_text())
    keep = [e for e in index["entries"] if e["kind"] == "reference-extract" or e["id"] == "census/cbp/state/2011"]
    for e in keep:
        (dest / e["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mirror_dir / e["path"], dest / e["path"])
    rel = "www2.census.gov/programs-surveys/cbp/datasets/2011/cbp11us.zip"
    z = write_zip(dest / rel, "cbp11us.txt", us_text)
    keep.append({
        "id": "census/cbp/us/2011", "url": cbp.url(2011, "us"), "path": rel, "bytes": z.stat().st_size,
        "sha256": hashlib.sha256(z.read_bytes()).hexdigest(), "kind": "test-fixture", "note": "", "attribution": "test",
    })
    (dest / "index.json").write_text(json.dumps({"mirror_version": "test", "entries": keep}))
    return dest


def test_us_file_rows_become_the_national_reference(mirror_dir: Path, tmp_path: Path) -> None:
    # National file: twice the 50-state+DC sum for aerospace NAICS 336411, everything else as in the states.
    state_zip = mirror_dir / "www2.census.gov/programs-surveys/cbp/datasets/2011/cbp11st.zip"
    states = parse_cbp_file(state_zip, year=2011, source_id="s", sha256="x", location="x", work_dir=tmp_path / "w").collect()
    nat = (
        states.filter(pl.col("industry_level") == 6)
        .group_by("industry_code")
        .agg(pl.col("emp").sum().cast(pl.Int64), pl.col("est").sum(), pl.col("payroll").sum())
        .with_columns(pl.when(pl.col("industry_code") == "336411").then(pl.col("emp") * 2).otherwise(pl.col("emp")).alias("emp"))
        .sort("industry_code")
    )
    lines = ['"LFO","NAICS","EMPFLAG","EMP_NF","EMP","QP1_NF","QP1","AP_NF","AP","EST"']
    lines += [f'"-","{r["industry_code"]}","","G",{r["emp"]},"G",0,"G",{r["payroll"]},{r["est"]}' for r in nat.iter_rows(named=True)]
    mirror = _mirror_with_us_file(mirror_dir, tmp_path / "mirror", "\n".join(lines) + "\n")
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror, cbp_years=(2011,), cbp_geos=("state", "us"), offline=True)
    stage_reference(settings)
    for geo in settings.cbp_geos:
        stage_cbp(settings, 2011, geo)
    database.build_us_indicators(settings)
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        ci = fetch_frame(con, "SELECT * FROM cluster_indicators WHERE cluster_code = '1'")
    assert set(ci["national_reference"]) == {"national rows"}
    us = ci.filter(pl.col("region_type") == "country").row(0, named=True)
    states_ci = ci.filter(pl.col("region_type") == "state")
    # The national cluster total is the US file's, larger than the states' sum by the doubled industry.
    assert us["emp"] > states_ci["emp"].sum()
    assert states_ci["national_cluster_emp"].unique().to_list() == [us["emp"]]
    assert abs(states_ci["cluster_emp_share"].sum() - states_ci["emp"].sum() / us["emp"]) < 1e-9
