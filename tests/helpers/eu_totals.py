"""Small hand-made EU cluster totals (eu_cluster_totals-like) for the EU indicator and family tests."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.warehouse.eu import eu_indicators

# nuts2 region → (cluster 1 emp, cluster 2 emp, local 101 emp); OTHER more jobs outside the
# clusters. Four countries of three regions; AA01 + BB01 are specialised in cluster 1.
REGIONS = {
    "AA01": (400.0, 100.0, 50.0), "AA02": (30.0, 120.0, 50.0), "AA03": (20.0, 110.0, 50.0),
    "BB01": (350.0, 90.0, 50.0), "BB02": (40.0, 130.0, 50.0), "BB03": (10.0, 100.0, 50.0),
    "CC01": (60.0, 300.0, 50.0), "CC02": (50.0, 200.0, 50.0), "CC03": (25.0, 140.0, 50.0),
    "DD01": (80.0, 100.0, 50.0), "DD02": (15.0, 400.0, 50.0), "DD03": (35.0, 150.0, 50.0),
}
OTHER = 40.0
WAGE = 40.0  # EUR thousand per person
SUMS = ["emp", "emp_reported", "est", "payroll", "emp_payroll", "n_industries", "n_missing"]


def nuts2_rows(
    payroll: dict[tuple[str, str], float] | None = None, year: int = 2015, regions: dict | None = None
) -> pl.DataFrame:
    rows = []
    for code, emps in (regions or REGIONS).items():
        for cl, emp, traded in zip(("1", "2", "101"), emps, (True, True, False), strict=True):
            rows.append({
                "year": year, "region_type": "nuts2", "region_code": code, "nuts_version": "2021",
                "cluster_code": cl, "traded": traded, "emp": emp, "emp_reported": emp, "est": emp / 10,
                "payroll": (payroll or {}).get((code, cl), emp * WAGE), "emp_payroll": emp,
                "region_total_emp": sum(emps) + OTHER, "extra_regio": False, "custom_base_type": None,
                "n_industries": 2, "n_missing": 0,
            })
    return pl.DataFrame(rows, schema_overrides={"custom_base_type": pl.String})


def aggregate(df: pl.DataFrame, region_type: str, code: pl.Expr, base_type: str | None = None) -> pl.DataFrame:
    """Sum nuts2 rows into countries (code = the first two letters) or a group."""
    out = df.with_columns(code.alias("region_code")).group_by("year", "region_code", "cluster_code", "traded").agg(
        *[pl.col(c).sum() for c in SUMS]
    )
    tot = df.select("year", "region_code", "region_total_emp").unique().with_columns(code.alias("region_code"))
    tot = tot.group_by("year", "region_code").agg(pl.col("region_total_emp").sum())
    return out.join(tot, on=["year", "region_code"]).with_columns(
        pl.lit(region_type).alias("region_type"), pl.lit("2021").alias("nuts_version"),
        pl.lit(False).alias("extra_regio"), pl.lit(base_type, dtype=pl.String).alias("custom_base_type"),
    ).select(df.columns)


def frame(payroll=None, group: tuple[str, ...] | None = ("AA01", "BB01"), base_type: str | None = "nuts2",
          years: tuple[int, ...] = (2015,)) -> pl.DataFrame:
    """nuts2 rows, their countries and (optionally) a custom group GRP of `group`, per year."""
    n2 = pl.concat([nuts2_rows(payroll, y) for y in years])
    parts = [n2, aggregate(n2, "nuts0", pl.col("region_code").str.slice(0, 2))]
    if group:
        members = n2.filter(pl.col("region_code").is_in(group))
        parts.append(aggregate(members, "custom", pl.lit("GRP"), base_type))
    return pl.concat(parts)


def load(con: duckdb.DuckDBPyConnection, df: pl.DataFrame, params=None) -> pl.DataFrame:
    """`df` as eu_cluster_totals in `con`, and eu_cluster_indicators built from it."""
    con.register("_eu_totals_src", df.to_arrow())
    con.execute("CREATE OR REPLACE TABLE eu_cluster_totals AS SELECT * FROM _eu_totals_src")
    con.unregister("_eu_totals_src")
    return eu_indicators(con, params)


def run(df: pl.DataFrame, params=None) -> pl.DataFrame:
    return load(duckdb.connect(), df, params)
