"""`observatory indicators` reproduces the published clustermapping.us 2016 state table."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.cli import main

NUM = ["emp_tl", "emp_reported_tl", "est_tl", "ap_tl", "lq_tf", "region_emp_per_tf", "cluster_emp_per_tf", "private_wage_tf"]


def _golden(golden_dir: Path) -> pl.DataFrame:
    g = pl.read_csv(golden_dir / "cmp_2016_states_clusters.csv", infer_schema=False, null_values=["NA"])
    g = g.filter(pl.col("subcluster_b") == "FALSE").with_columns(pl.col(NUM).cast(pl.Float64))
    assert g.height == 50 * 67
    return g


def _totals(g: pl.DataFrame) -> pl.DataFrame:
    states = g.select(
        pl.col("year_t").cast(pl.Int32).alias("year"),
        pl.col("region_type_t").alias("region_type"),
        pl.col("region_code_t").alias("region_code"),
        pl.col("cluster_code_t").alias("cluster_code"),
        pl.col("emp_tl").alias("emp"),
        pl.col("emp_reported_tl").alias("emp_reported"),
        pl.col("est_tl").alias("est"),
        pl.col("ap_tl").alias("payroll"),
    )
    # National rows as the golden README says: US cluster emp = emp_tl / cluster_emp_per_tf.
    national = (
        g.filter(pl.col("cluster_emp_per_tf") > 0)
        .group_by("year_t", "cluster_code_t")
        .agg((pl.col("emp_tl") / pl.col("cluster_emp_per_tf")).median().alias("emp"))
        .select(
            pl.col("year_t").cast(pl.Int32).alias("year"),
            pl.lit("country").alias("region_type"),
            pl.lit("US").alias("region_code"),
            pl.col("cluster_code_t").alias("cluster_code"),
            "emp",
            pl.lit(None, pl.Float64).alias("emp_reported"),
            pl.lit(None, pl.Float64).alias("est"),
            pl.lit(None, pl.Float64).alias("payroll"),
        )
    )
    return pl.concat([states, national])


def _rel_ok(ours: str, theirs: str, tol: float = 1e-6) -> pl.Expr:
    return ((pl.col(ours) - pl.col(theirs)).abs() <= tol * pl.col(theirs).abs()) | (
        (pl.col(ours) == 0) & (pl.col(theirs) == 0)
    )


def test_cli_reproduces_golden_state_table(golden_dir: Path, mirror_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OBSERVATORY_MIRROR", str(mirror_dir))
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(tmp_path / "wh"))
    g = _golden(golden_dir)
    totals_csv = tmp_path / "totals.csv"
    _totals(g).write_csv(totals_csv)
    out = tmp_path / "out"
    assert main(["indicators", "--cluster-totals", str(totals_csv), "--out", str(out)]) == 0
    ci = pl.read_parquet(out / "cluster_indicators.parquet")
    for col in ["year", "region_type", "region_code", "cluster_code", "emp", "est", "payroll", "wage", "lq",
                "region_emp_share", "cluster_emp_share", "strong", "strong10"]:
        assert col in ci.columns
    assert ci.schema["region_code"] == pl.String and ci.schema["cluster_code"] == pl.String
    j = ci.filter(pl.col("region_type") == "state").join(
        g, left_on=["region_code", "cluster_code"], right_on=["region_code_t", "cluster_code_t"], how="inner"
    )
    assert j.height == 3350
    for ours, theirs in [("lq", "lq_tf"), ("region_emp_share", "region_emp_per_tf"),
                         ("cluster_emp_share", "cluster_emp_per_tf"), ("wage", "private_wage_tf")]:
        bad = j.filter(~_rel_ok(ours, theirs))
        assert bad.height == 0, f"{ours} differs from {theirs}:\n{bad.select('region_code', 'cluster_code', ours, theirs)}"
    traded = j.filter(pl.col("traded_b") == "TRUE")
    assert traded.filter(pl.col("strong") != (pl.col("strong_b") == "TRUE")).height == 0
    assert traded.filter(pl.col("strong10") != (pl.col("strong10_b") == "TRUE")).height == 0
    assert traded["strong"].sum() == 512
    local = j.filter(pl.col("traded_b") == "FALSE")
    assert local["strong"].null_count() == local.height
    assert ci["national_reference"].unique().to_list() == ["national rows"]


def test_without_national_rows_the_sum_of_regions_is_the_reference(golden_dir: Path) -> None:
    from pipelines.warehouse.indicators import indicators_from_totals

    g = _golden(golden_dir)
    states = _totals(g).filter(pl.col("region_type") == "state")
    clusters = g.select(pl.col("cluster_code_t").alias("cluster_code"), (pl.col("traded_b") == "TRUE").alias("traded")).unique()
    ci = indicators_from_totals(states, clusters)["cluster_indicators"]
    assert ci["national_reference"].unique().to_list() == ["sum of regions"]
    shares = ci.group_by("year", "cluster_code").agg(pl.col("cluster_emp_share").sum())
    assert (shares["cluster_emp_share"] - 1.0).abs().max() < 1e-9
