"""Speed never buys a different answer: on a small generated county input, the pipeline's
harmonise + indicators path and the plain pandas baseline agree on every indicator."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import polars as pl

from benchmarks import generate, pandas_baseline, run

# every definition vintage (1997, 2002, 2007, 2012, derived 2017 and 2022: CBP 2022–2023 are
# NAICS 2017, 2024 on NAICS 2022), both file layouts, and several years per region so CAGR and
# job creation are exercised
YEARS = [2002, 2003, 2012, 2013, 2017, 2024]
COUNTIES = 80


def test_pipeline_and_pandas_agree(tmp_path: Path, mirror_dir: Path) -> None:
    data = tmp_path / "data"
    generate.generate(
        data, YEARS, seed=7, counties=COUNTIES, jobs=2, mirror=mirror_dir, log=lambda _: None
    )
    files = [(y, generate.zip_path(data, y)) for y in YEARS]
    ref_dir = run.stage_reference(tmp_path / "ref", mirror=mirror_dir)

    work = tmp_path / "pipeline"
    work.mkdir()
    run.run_pipeline(files, ref_dir, work, tmp_path / "pipeline.parquet")
    got = pl.read_parquet(tmp_path / "pipeline.parquet")
    with duckdb.connect(str(work / "observatory.duckdb"), read_only=True) as con:
        got_regions = pl.from_arrow(con.sql("SELECT * FROM region_indicators").to_arrow_table())
        unmapped = {y for (y,) in con.execute("SELECT DISTINCT year FROM unmapped_industries").fetchall()}

    # the pipeline also sums the counties into BEA economic areas (issue 21); the baseline computes
    # the counties, so the comparison is on them, and the areas are there
    assert got.filter(pl.col("region_type") == "economic_area").height > 0
    got = got.filter(pl.col("region_type") == "county")
    got_regions = got_regions.filter(pl.col("region_type") == "county")

    base = pandas_baseline.run(
        files,
        pd.read_parquet(ref_dir / "clusters.parquet"),
        pd.read_parquet(ref_dir / "cluster_naics.parquet"),
    )
    ci = base["cluster_indicators"]

    assert pandas_baseline.compare_frames(got, ci) == []
    assert _compare_regions(got_regions, base["region_indicators"]) == []

    # the comparison is not vacuous
    regions_years = got.select("year", "region_code").unique().height
    assert got.height == regions_years * 67 and regions_years > 0.95 * len(YEARS) * COUNTIES
    # every file is mapped with the definitions of its own vintage: nothing is unmapped
    # (2012 with the 2007 definitions, as before issue 11, lost the codes that changed)
    assert unmapped == set()
    assert got["strong"].sum() > 0 and got["strong10"].sum() > 0
    assert got.filter(pl.col("emp") != pl.col("emp_reported")).height > 0  # imputed cells
    assert got["cagr"].is_not_null().sum() > 0
    assert set(got["year"]) == set(YEARS)


def _compare_regions(pipeline: pl.DataFrame, baseline: pd.DataFrame) -> list[str]:
    key = ["year", "region_type", "region_code"]
    cols = [c for c in baseline.columns if c not in key]
    a = pipeline.select(key + cols).with_columns(pl.col(cols).cast(pl.Float64).fill_nan(None))
    b = pl.from_pandas(baseline[key + cols]).with_columns(
        pl.col("year").cast(a.schema["year"]), pl.col(cols).cast(pl.Float64).fill_nan(None)
    )
    j = a.join(b, on=key, how="full", suffix="_b", coalesce=True)
    problems = [] if a.height == b.height == j.height else [f"rows {a.height} vs {b.height}"]
    for c in cols:
        x, y = pl.col(c), pl.col(f"{c}_b")
        close = (x - y).abs() <= 1e-9 * (1 + pl.max_horizontal(x.abs(), y.abs()))
        bad = j.filter(~((x.is_null() & y.is_null()) | (x.is_not_null() & y.is_not_null() & close)))
        if bad.height:
            problems.append(
                f"{c}: {bad.height} rows differ, e.g. {bad.select(*key, c, f'{c}_b').head(3).rows()}"
            )
    return problems
