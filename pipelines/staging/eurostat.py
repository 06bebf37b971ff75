"""Eurostat regional SBS staged: archived files read into the long frame, split downloads joined,
and the rows harmonised onto the long industry table (next to the US rows)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from pipelines.config import DecompressionLimits
from pipelines.errors import SourceError
from pipelines.raw.archive import RawFile
from pipelines.schemas import load_schema
from pipelines.sources.eurostat import file_head, parse_jsonstat, parse_tsv
from pipelines.staging.harmonise import HARMONISED_SCHEMA
from pipelines.staging.nuts import region_type


def read_raw(
    raw: RawFile | Path, source: str, staging: Path, limits: DecompressionLimits | None = None
) -> pl.LazyFrame:
    """Long frame of one archived Eurostat file (TSV, gzip'd or not, or JSON-stat); a gzip'd one
    inflates within the decompression `limits` (default: pipelines.config's)."""
    path = raw.path if isinstance(raw, RawFile) else Path(raw)
    location = (raw.url or str(path)) if isinstance(raw, RawFile) else str(path)
    head = file_head(path, 64)
    if head.lstrip().startswith(b"{"):
        return parse_jsonstat(path, source, location).lazy()
    return parse_tsv(path, source, location, staging, limits)


def concat_long(frames: Sequence[pl.LazyFrame]) -> pl.LazyFrame:
    """Concatenate split downloads; a series delivered twice is kept once."""
    if len(frames) == 1:
        return frames[0]
    return pl.concat(frames, how="diagonal_relaxed").unique(maintain_order=True)


# indicator code -> measure, for both regional SBS datasets
MEASURES: dict[str, str] = {
    "V16110": "emp",  # persons employed (number)
    "EMP_LOC_NR": "emp",
    "V11210": "est",  # local units (number)
    "LOC_NR": "est",
    "V13320": "payroll",  # wages and salaries, EUR million
    "WAGE_LOC_MEUR": "payroll",
}
PAYROLL_EUR_MILLION_TO_THOUSAND = 1000.0

# Column types are declared once, in assets/schemas/eu_industry_employment.yaml.
EU_EXTRA_SCHEMA: pl.Schema = load_schema("eu_industry_employment").polars_schema(
    ["est_flag", "payroll_flag", "est_imputed", "payroll_imputed", "currency", "nuts_version", "nuts_code_original", "nuts_change"]
)


def nace_level(code: pl.Expr) -> pl.Expr:
    """1 section (C), 2 division (C10), 3 group (C101 / G452), 4 class; 0 aggregates (B-E, B-N_S95_X_K)."""
    n = code.str.len_chars()
    return (
        pl.when(~code.str.contains(r"^[A-U][0-9]{0,4}$"))
        .then(0)
        .when(n == 1)
        .then(1)
        .otherwise(n - 1)
        .cast(pl.Int8)
    )


def harmonise_sbs(
    long: pl.LazyFrame, *, dataset: str, source: str, sha256: str, location: str
) -> pl.LazyFrame:
    """Long Eurostat frame → harmonised rows (one per NACE code × region × year).

    emp = persons employed, est = local units, payroll = wages and salaries in EUR thousand
    (EUR million × 1000, to match the US $1000 payroll unit; ``currency`` says 'EUR').
    Flags stay in empflag / est_flag / payroll_flag; ':' stays null.
    """
    names = long.collect_schema().names()
    indic = next((c for c in ("indic_sbs", "indic_sb") if c in names), None)
    missing = [c for c in ("nace_r2", "geo") if c not in names]
    if indic is None or missing:
        raise SourceError(
            source, location, f"dataset {dataset}: expected dimensions nace_r2, indic_sb(s), geo; got {names}"
        )
    wide = _wide_measures(long, names, indic, source=source, location=location)
    geo = pl.col("geo")
    emp_rep = pl.col("_emp").round(0).cast(pl.Int64)
    out = wide.select(
        pl.col("time").cast(pl.Int32).alias("year"),
        region_type(geo).alias("region_type"),
        geo.alias("region_code"),
        pl.lit("NACE_R2").alias("classification"),
        pl.col("nace_r2").alias("industry_code"),
        nace_level(pl.col("nace_r2")).alias("industry_level"),
        pl.lit("-").alias("lfo"),
        pl.col("_emp").alias("emp"),
        emp_rep.alias("emp_reported"),
        pl.col("empflag"),
        pl.lit(None, dtype=pl.String).alias("emp_nf"),
        pl.lit(False).alias("emp_imputed"),
        pl.col("_est").round(0).cast(pl.Int64).alias("est"),
        (pl.col("_pay") * PAYROLL_EUR_MILLION_TO_THOUSAND).round(0).cast(pl.Int64).alias("payroll"),
        pl.lit(None, dtype=pl.String).alias("payroll_nf"),
        pl.lit(None, dtype=pl.Int64).alias("qp1"),
        pl.lit(None, dtype=pl.String).alias("qp1_nf"),
        pl.lit(source).alias("source_id"),
        pl.lit(sha256).alias("source_sha256"),
        pl.col("est_flag"),
        pl.col("payroll_flag"),
        pl.lit(False).alias("est_imputed"),
        pl.lit(False).alias("payroll_imputed"),
        pl.lit("EUR").alias("currency"),
    )
    schema = {**HARMONISED_SCHEMA, **{k: v for k, v in EU_EXTRA_SCHEMA.items() if not k.startswith("nuts")}}
    return out.cast(schema)  # type: ignore[arg-type]


def _wide_measures(long: pl.LazyFrame, names: list[str], indic: str, *, source: str, location: str) -> pl.LazyFrame:
    """Annual rows of the known measures (MEASURES), one row per NACE code × geo × year with each
    measure's value and flags; fails on a second series for one cell or on non-annual periods."""
    lf = long
    if "freq" in names:
        lf = lf.filter(pl.col("freq") == "A")
    lf = lf.with_columns(pl.col(indic).replace_strict(MEASURES, default=None).alias("_measure")).filter(
        pl.col("_measure").is_not_null()
    )
    key = ["nace_r2", "geo", "time"]

    def m(measure: str, col: str) -> pl.Expr:
        return pl.col(col).filter(pl.col("_measure") == measure).first()

    wide = lf.group_by(key).agg(
        m("emp", "value").alias("_emp"),
        m("emp", "flags").alias("empflag"),
        m("est", "value").alias("_est"),
        m("est", "flags").alias("est_flag"),
        m("payroll", "value").alias("_pay"),
        m("payroll", "flags").alias("payroll_flag"),
        pl.len().alias("_n"),
        pl.col("_measure").n_unique().alias("_nm"),
    )
    dup = wide.filter(pl.col("_n") != pl.col("_nm")).head(5).collect()
    if dup.height:
        raise SourceError(
            source, location, "several series for one NACE × geo × year × measure (an unexpected extra dimension?)",
            rows=str(dup),
        )
    time_ok = pl.col("time").str.contains(r"^[0-9]{4}$")
    bad_time = wide.filter(~time_ok).select("time").unique().head(5).collect()
    if bad_time.height:
        raise SourceError(source, location, "non-annual periods in a dataset expected to be annual", rows=str(bad_time))
    return wide
