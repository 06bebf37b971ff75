"""Harmonise parsed source rows into the one long industry-employment table.

Schema (assets/schemas/industry_employment.json): string ids, reported employment kept apart
from imputed employment, every source flag in its own column, and null (never zero) for
values the source withheld.
"""

from __future__ import annotations

import polars as pl

from pipelines.sources.cbp import EMPFLAG_MIDPOINTS, MARKERS, NUMERIC, CbpLayout

TOTAL_CODE = "TOTAL"

HARMONISED_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int32(),
    "region_type": pl.String(),
    "region_code": pl.String(),
    "classification": pl.String(),
    "industry_code": pl.String(),
    "industry_level": pl.Int8(),
    "lfo": pl.String(),
    "emp": pl.Float64(),
    "emp_reported": pl.Int64(),
    "empflag": pl.String(),
    "emp_nf": pl.String(),
    "emp_imputed": pl.Boolean(),
    "est": pl.Int64(),
    "payroll": pl.Int64(),
    "payroll_nf": pl.String(),
    "qp1": pl.Int64(),
    "qp1_nf": pl.String(),
    "source_id": pl.String(),
    "source_sha256": pl.String(),
}
KEY = ["year", "region_type", "region_code", "classification", "industry_code", "lfo"]


def cbp_naics_vintage(year: int) -> str:
    """NAICS vintage the CBP files of a year are coded in."""
    if year < 2003:
        return "1997"
    if year < 2008:
        return "2002"
    if year < 2012:
        return "2007"
    if year < 2017:
        return "2012"
    if year < 2022:
        return "2017"
    return "2022"


def _text(col: str, present: bool) -> pl.Expr:
    if not present:
        return pl.lit(None, dtype=pl.String)
    v = pl.col(col).str.strip_chars()
    return pl.when(v == "").then(None).otherwise(v)


def _count(col: str, present: bool) -> pl.Expr:
    """Numeric cell as Int64; markers ("D", "N", "S") and blanks become null."""
    if not present:
        return pl.lit(None, dtype=pl.Int64)
    # check_rows has already rejected anything but digits, markers and blanks, so a non-strict
    # cast turns exactly the markers and blanks into null.
    return pl.col(col).str.strip_chars().cast(pl.Int64, strict=False)


def _marker(col: str, present: bool) -> pl.Expr:
    if not present:
        return pl.lit(None, dtype=pl.String)
    v = pl.col(col).str.strip_chars()
    return pl.when(v.is_in(list(MARKERS))).then(v).otherwise(None)


def harmonise_cbp(
    lf: pl.LazyFrame, layout: CbpLayout, *, year: int, source_id: str, sha256: str
) -> pl.LazyFrame:
    """Parsed CBP rows (lower-case text columns) → harmonised long table rows."""
    cols = set(layout.columns)
    geo = layout.geo
    if geo == "state":
        region_type, region = "state", pl.col("fipstate").str.strip_chars().str.zfill(2)
    elif geo == "county":
        region_type = "county"
        region = pl.concat_str(
            pl.col("fipstate").str.strip_chars().str.zfill(2),
            pl.col("fipscty").str.strip_chars().str.zfill(3),
        )
    elif geo == "msa":
        region_type = "msa"
        msa_col = "msa" if "msa" in cols else "cbsa"
        region = pl.col(msa_col).str.strip_chars().str.zfill(5)
    else:
        region_type, region = "country", pl.lit("US")

    # Stage 1: clean each source column once (shared by several outputs below).
    base = lf.with_columns(
        region.alias("_region"),
        pl.col("naics").str.strip_chars().str.strip_chars_end("-/").alias("_naics"),  # "3364//" → "3364"
        _text("empflag", layout.has_empflag).alias("_empflag"),
        _text("emp_nf", "emp_nf" in cols).alias("_emp_nf"),
        _text("ap_nf", "ap_nf" in cols).alias("_ap_nf"),
        _text("qp1_nf", "qp1_nf" in cols).alias("_qp1_nf"),
        pl.coalesce(_marker("emp", True), _marker("empflag", layout.has_empflag)).alias("_emp_marker"),
        _marker("ap", True).alias("_ap_marker"),
        _count("emp", True).alias("_emp"),
    )
    withheld_flags = ["D", "S", "N"]
    naics = pl.col("_naics")
    empflag, emp_nf, ap_nf, qp1_nf = pl.col("_empflag"), pl.col("_emp_nf"), pl.col("_ap_nf"), pl.col("_qp1_nf")
    # Stage 2: the flags that several outputs share.
    flagged = base.with_columns(
        empflag.is_in(list(EMPFLAG_MIDPOINTS)).alias("_suppressed"),
        empflag.replace_strict(EMPFLAG_MIDPOINTS, default=None, return_dtype=pl.Int64).alias("_midpoint"),
    ).with_columns(
        # A suppressed cell's EMP is a placeholder 0: it is not a reported value.
        pl.when(
            pl.col("_suppressed") | pl.col("_emp_marker").is_not_null() | emp_nf.is_in(withheld_flags)
        )
        .then(None)
        .otherwise(pl.col("_emp"))
        .alias("_emp_reported"),
    )
    suppressed, midpoint, emp_reported = pl.col("_suppressed"), pl.col("_midpoint"), pl.col("_emp_reported")
    payroll_withheld = suppressed | pl.col("_ap_marker").is_not_null() | ap_nf.is_in(withheld_flags)

    out = flagged.select(
        pl.lit(year, dtype=pl.Int32).alias("year"),
        pl.lit(region_type).alias("region_type"),
        pl.col("_region").alias("region_code"),
        pl.lit(f"NAICS{cbp_naics_vintage(year)}").alias("classification"),
        pl.when(naics == "").then(pl.lit(TOTAL_CODE)).otherwise(naics).alias("industry_code"),
        naics.str.len_chars().cast(pl.Int8).alias("industry_level"),
        (_text("lfo", layout.has_lfo).fill_null("-") if layout.has_lfo else pl.lit("-")).alias("lfo"),
        pl.coalesce(emp_reported, midpoint).cast(pl.Float64).alias("emp"),
        emp_reported.alias("emp_reported"),
        pl.coalesce(empflag, pl.col("_emp_marker")).alias("empflag"),
        emp_nf.alias("emp_nf"),
        (emp_reported.is_null() & midpoint.is_not_null()).alias("emp_imputed"),
        _count("est", True).alias("est"),
        pl.when(payroll_withheld).then(None).otherwise(_count("ap", True)).alias("payroll"),
        ap_nf.alias("payroll_nf"),
        (
            pl.when(suppressed | qp1_nf.is_in(withheld_flags))
            .then(None)
            .otherwise(_count("qp1", layout.has_qp1))
        ).alias("qp1"),
        qp1_nf.alias("qp1_nf"),
        pl.lit(source_id).alias("source_id"),
        pl.lit(sha256).alias("source_sha256"),
    )
    return out.cast(HARMONISED_SCHEMA)  # type: ignore[arg-type]


__all__ = ["HARMONISED_SCHEMA", "KEY", "NUMERIC", "TOTAL_CODE", "cbp_naics_vintage", "harmonise_cbp"]
