"""NAICS vintage concordance (2002/2007/2012/2017/2022, 6-digit), from the mirror by id."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.errors import SourceError

CONCORDANCE_ID = "naics/NAICS_Year_Concordance"
VINTAGES = ("2002", "2007", "2012", "2017", "2022")


def parse_concordance(path: Path) -> pl.DataFrame:
    """Wide concordance → one row per chain of codes, columns naics_2002 … naics_2022 (strings)."""
    df = pl.read_csv(path, infer_schema=False)
    cols = {f"NAICS_{v}_Code": f"naics_{v}" for v in VINTAGES}
    missing = sorted(set(cols) - set(df.columns))
    if missing:
        raise SourceError(CONCORDANCE_ID, str(path), f"missing columns {missing}")
    out = df.rename(cols).select(list(cols.values())).with_columns(pl.all().str.strip_chars())
    if out.height == 0:
        raise SourceError(CONCORDANCE_ID, str(path), "concordance is empty")
    # flowsa adds non-NAICS pseudo codes (F01000 final demand, S00101 government): not industries.
    out = out.filter(pl.all_horizontal(pl.all().str.contains(r"^[0-9]{6}$")))
    return out.unique().sort(list(cols.values()))


def derive_definitions(
    cluster_naics: pl.DataFrame, concordance: pl.DataFrame, target: str, base: str = "2012"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Carry cluster definitions from `base` codes to `target` codes through the concordance.

    A target code whose base codes sit in several clusters is split with equal weights over those
    clusters and listed in the returned splits report, never dropped.
    Returns (derived cluster_naics rows, splits report).
    """
    defs = cluster_naics.filter(pl.col("naics_vintage") == base).select("naics", "cluster_code")
    links = concordance.select(
        pl.col(f"naics_{base}").alias("base_naics"), pl.col(f"naics_{target}").alias("naics")
    ).unique()
    joined = links.join(defs, left_on="base_naics", right_on="naics", how="inner")
    per_code = joined.group_by("naics", "cluster_code").agg(
        pl.col("base_naics").sort().str.join(",").alias("derived_from")
    )
    n = per_code.group_by("naics").agg(pl.len().alias("n_clusters"))
    derived = (
        per_code.join(n, on="naics")
        .select(
            pl.lit(target).alias("naics_vintage"),
            "naics",
            "cluster_code",
            pl.lit(None, dtype=pl.String).alias("naics_title"),
            (1.0 / pl.col("n_clusters")).alias("weight"),
            pl.concat_str(pl.lit(f"NAICS{base}:"), "derived_from").alias("derived_from"),
        )
        .sort("naics", "cluster_code")
    )
    splits = derived.filter(pl.col("weight") < 1.0).select(
        "naics_vintage", "naics", "cluster_code", "weight", "derived_from"
    )
    return derived, splits
