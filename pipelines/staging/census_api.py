"""Census CBP API pulls staged: one Parquet per (year, state) in the harmonised schema, rows of
later pulls replacing earlier ones with the same key; the key (``CENSUS_API_KEY``) comes from
pipelines.config and every recorded URL is redacted by pipelines.raw.http."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import requests

from pipelines.config import CENSUS_API_KEY_ENV, Settings
from pipelines.layout import census_api_dir
from pipelines.raw.archive import RawArchive, RawFile
from pipelines.raw.body import BodyCap
from pipelines.raw.http import fetch
from pipelines.sources.cbp import EMPFLAG_MIDPOINTS, MARKERS
from pipelines.sources.census_api import (
    API_BASE,
    MAX_API_BYTES,
    SECTOR_RANGES,
    WITHHELD,
    api_url,
    naics_column,
    parse_api_table,
    source_id,
    state_fips,
    validate_json,
)
from pipelines.staging.harmonise import HARMONISED_SCHEMA, KEY, TOTAL_CODE

KEY_ENV = CENSUS_API_KEY_ENV
API_CAP = BodyCap(
    MAX_API_BYTES, "MAX_API_BYTES in pipelines/sources/census_api.py",
    "not a Census API answer for one year and state (all states: ~9 MB); a broken or hostile server",
)  # fmt: skip


def parse_api_json(path: Path, *, year: int, source: str, sha256: str, location: str) -> pl.DataFrame:
    """Census API JSON → harmonised rows (HARMONISED_SCHEMA), all-sizes and all-LFO rows only."""
    df = parse_api_table(path, source=source, location=location)
    if df is None:
        return pl.DataFrame(schema=HARMONISED_SCHEMA)
    return harmonise_api_rows(df, year=year, source=source, sha256=sha256)


def harmonise_api_rows(df: pl.DataFrame, *, year: int, source: str, sha256: str) -> pl.DataFrame:
    """Checked Census API rows (sources.census_api.parse_api_table) → harmonised rows."""
    header = df.columns
    nv = naics_column(header)

    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in header else pl.lit(None, dtype=pl.String)

    def count(name: str) -> pl.Expr:
        v = col(name)
        return pl.when(v.is_in(list(MARKERS))).then(None).otherwise(v).cast(pl.Int64)

    code = pl.col(nv).replace(SECTOR_RANGES)
    code = pl.when(code.is_in(["00", "0"])).then(pl.lit(TOTAL_CODE)).otherwise(code)
    emp_f = pl.when(col("EMP_F") == "").then(None).otherwise(col("EMP_F"))
    emp_n = pl.when(col("EMP_N") == "").then(None).otherwise(col("EMP_N"))
    letter = emp_f.is_in(list(EMPFLAG_MIDPOINTS))
    withheld = letter | emp_n.is_in(list(WITHHELD)) | emp_f.is_in(list(WITHHELD)) | col("EMP").is_in(list(MARKERS))
    emp_reported = pl.when(withheld).then(None).otherwise(count("EMP"))
    midpoint = emp_f.replace_strict(EMPFLAG_MIDPOINTS, default=None, return_dtype=pl.Int64)
    pay_nf = pl.coalesce(col("PAYANN_N"), col("PAYANN_F"))
    pay_nf = pl.when(pay_nf == "").then(None).otherwise(pay_nf)
    qp1_nf = pl.when(col("PAYQTR1_N") == "").then(None).otherwise(col("PAYQTR1_N"))
    region = pl.col("STATE").str.zfill(2)
    region_type = "state"
    if "COUNTY" in header:
        region, region_type = pl.concat_str(region, pl.col("COUNTY").str.zfill(3)), "county"
    out = df.select(
        pl.lit(year, dtype=pl.Int32).alias("year"),
        pl.lit(region_type).alias("region_type"),
        region.alias("region_code"),
        pl.lit(nv).alias("classification"),
        code.alias("industry_code"),
        pl.when(code == TOTAL_CODE).then(0).otherwise(code.str.len_chars()).cast(pl.Int8).alias("industry_level"),
        pl.lit("-").alias("lfo"),
        pl.coalesce(emp_reported, midpoint).cast(pl.Float64).alias("emp"),
        emp_reported.alias("emp_reported"),
        pl.coalesce(pl.when(letter).then(emp_f), pl.when(col("EMP").is_in(list(MARKERS))).then(col("EMP"))).alias("empflag"),
        emp_n.alias("emp_nf"),
        (emp_reported.is_null() & midpoint.is_not_null()).alias("emp_imputed"),
        count("ESTAB").alias("est"),
        pl.when(letter | pay_nf.is_in(list(WITHHELD))).then(None).otherwise(count("PAYANN")).alias("payroll"),
        pay_nf.alias("payroll_nf"),
        pl.when(letter | qp1_nf.is_in(list(WITHHELD))).then(None).otherwise(count("PAYQTR1")).alias("qp1"),
        qp1_nf.alias("qp1_nf"),
        pl.lit(source).alias("source_id"),
        pl.lit(sha256).alias("source_sha256"),
    )
    return out.cast(HARMONISED_SCHEMA)  # type: ignore[arg-type]


def staged_path(settings: Settings, year: int, state: str) -> Path:
    """Staged API rows: same schema as staging/cbp/state/year=YYYY.parquet, one file per pull target."""
    return census_api_dir(settings) / f"year={year}" / f"state={state_fips(state)}.parquet"


def staged_paths(settings: Settings) -> list[Path]:
    return sorted(census_api_dir(settings).glob("year=*/state=*.parquet"))


_DUCKDB_TYPES = {
    pl.Int8: "TINYINT", pl.Int32: "INTEGER", pl.Int64: "BIGINT", pl.Float64: "DOUBLE",
    pl.String: "VARCHAR", pl.Boolean: "BOOLEAN",
}  # fmt: skip


def duckdb_select() -> str:
    """SELECT list casting staged API rows to the harmonised schema, column by column.

    The staging folders are named `year=YYYY`: readers that infer hive partitions from the path
    (DuckDB by default) would replace the file's Int32 `year` by an Int64 taken from the folder
    name and make every later run fail; the staged files are read with this explicit schema and
    hive partitioning off."""
    return ", ".join(f'CAST("{c}" AS {_DUCKDB_TYPES[type(t)]}) AS "{c}"' for c, t in HARMONISED_SCHEMA.items())


def read_staged(paths: list[Path]) -> pl.LazyFrame:
    """Staged API rows with the harmonised schema (never types inferred from folder names)."""
    return pl.scan_parquet(
        [str(p) for p in paths], schema=HARMONISED_SCHEMA, hive_partitioning=False, missing_columns="raise"
    )


def stage_cbp_api(
    settings: Settings,
    year: int,
    state: str,
    naics: Sequence[str] = (),
    *,
    key: str | None = None,
    base: str = API_BASE,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """Pull one (year, state, NAICS list) from the API into the raw archive and staging.

    New rows replace earlier rows with the same harmonised key, so repeated targeted pulls
    accumulate into one file per year and state. Returns rows, path and the (redacted) record.
    """
    sid = source_id(year, state)
    url = api_url(year, state, naics, key=key, base=base)
    raw: RawFile = fetch(
        sid, url, settings, filename=f"cbp_{year}_{state_fips(state)}.json", validate=validate_json, session=session,
        cap=API_CAP,
    )
    assert raw.url is not None
    df = parse_api_json(raw.path, year=year, source=sid, sha256=raw.sha256, location=raw.url)
    dest = staged_path(settings, year, state)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        old = read_staged([dest]).collect()
        df = pl.concat([old.join(df.select(KEY), on=KEY, how="anti"), df])
    df = df.sort(KEY)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}")
    try:
        df.write_parquet(tmp, compression="zstd", statistics=True)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "rows": df.height,
        "path": str(dest),
        "source_id": sid,
        "url": raw.url,
        "sha256": raw.sha256,
        "new": raw.new,
    }


def staged_sources(settings: Settings) -> list[dict[str, Any]]:
    """Raw-archive records (URL redacted) behind the staged API rows, for release provenance."""
    paths = staged_paths(settings)
    if not paths:
        return []
    used = read_staged(paths).select("source_id", "source_sha256").unique().collect()
    archive = RawArchive(settings.raw_dir)
    out = []
    for sid, sha in used.iter_rows():
        for rec in archive.entries(sid):
            if rec["sha256"] == sha:
                out.append({**rec, "path": str(settings.raw_dir / rec["path"])})
                break
    return out
