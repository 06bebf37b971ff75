"""The CBP quarantine: rows a row-level rule sets aside while staging (negative counts, NAICS codes
not in the year's vintage), kept with the reason and the raw record instead of failing the file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from pipelines.config import Settings
from pipelines.layout import cbp_quarantine_path, reference_dir
from pipelines.schemas import load_schema
from pipelines.sources.cbp import detect_layout
from pipelines.staging.harmonise import cbp_row_rules, clean_cbp

# Column types are declared once, in assets/schemas/cbp_quarantine.yaml.
QUARANTINE_SCHEMA: pl.Schema = load_schema("cbp_quarantine").polars_schema()


def expand_naics(six_digit: Iterable[str]) -> set[str]:
    """Allowed CBP industry codes for a vintage: the 6-digit codes, all their 2–5 digit parents,
    99 (unclassified establishments) and TOTAL."""
    codes = {"99", "TOTAL"}
    for c in six_digit:
        if c and len(c) == 6:
            codes.update(c[:n] for n in range(2, 7))
    return codes


def quarantine_rows(tagged: pl.DataFrame, columns: Sequence[str], *, year: int, geo: str, source_id: str) -> pl.DataFrame:
    """Quarantine table rows from text rows tagged with `_line`, `region_code`, `industry_code`
    and `_reason`; the raw record is kept as JSON so nothing the source said is lost."""
    return tagged.select(
        pl.lit(year, dtype=pl.Int32).alias("year"),
        pl.lit(geo).alias("geo"),
        pl.lit(source_id).alias("source_id"),
        pl.col("_line").cast(pl.Int64).alias("line"),
        pl.col("region_code"),
        pl.col("industry_code"),
        pl.col("_reason").alias("reason"),
        pl.struct(list(columns)).struct.json_encode().alias("record"),
    ).cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]


def cbp_quarantine_split(
    lf: pl.LazyFrame,
    columns: Sequence[str],
    *,
    year: int,
    geo: str,
    source_id: str,
    naics_codes: set[str] | None,
) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """Split parsed CBP text rows into (clean rows, quarantined rows with the reason).

    Row-level rule failures go to quarantine: negative counts, and well-formed NAICS codes that do
    not exist in the year's vintage (when its code list is known). Structurally bad rows (bad ids,
    non-numeric counts, malformed codes) are left for the parser's check, which rejects the file.
    The rules are pipelines.staging.harmonise.cbp_row_rules, the ones staging applies in its single pass.
    """
    cols = list(columns)
    layout = detect_layout(cols, source_id, "")
    _, reason = cbp_row_rules(layout, year=year, naics_codes=naics_codes, quarantine=True)
    tagged = (
        clean_cbp(lf.with_row_index("_line", offset=2), layout)
        .select(
            *cols, "_line", pl.col("_region").alias("region_code"), pl.col("_code").alias("industry_code"),
            reason.alias("_reason"),
        )
        .collect()
    )
    is_bad = tagged["_reason"].is_not_null()
    bad = quarantine_rows(tagged.filter(is_bad), cols, year=year, geo=geo, source_id=source_id)
    return tagged.filter(~is_bad).select(cols).lazy(), bad


def us_naics_codes(settings) -> dict[str, set[str]]:
    """Allowed industry codes per NAICS vintage, for vintages with a 6-digit code list staged
    (the concordance: 2002–2022; NAICS 1997: the 1997 cluster definitions). Empty when the
    reference tables are not staged yet."""
    return naics_codes_from(reference_dir(settings))


def naics_codes_from(reference_dir: Path) -> dict[str, set[str]]:
    """us_naics_codes for a reference-table folder (also used by the benchmarks).

    A vintage the concordance lacks (NAICS 1997) gets the codes of its cluster definitions: they
    cover every 6-digit code of the 1997-coded CBP files (checked on the mirror's 2000–2002
    files), and without a list the vintage could not be detected nor its unknown codes held."""
    path = reference_dir / "naics_concordance.parquet"
    if not path.exists():
        return {}
    conc = pl.read_parquet(path)
    defs_path = reference_dir / "cluster_naics.parquet"
    defs = pl.read_parquet(defs_path) if defs_path.exists() else None
    six_by_vintage: dict[str, set[str]] = {
        col.split("_", 1)[1]: set(conc[col].drop_nulls().to_list()) for col in conc.columns if col.startswith("naics_")
    }
    if defs is not None:
        for vintage, codes in defs.group_by("naics_vintage").agg("naics").iter_rows():
            six_by_vintage.setdefault(vintage, set()).update(codes)
    return {v: expand_naics(six) for v, six in six_by_vintage.items()}


def quarantine_frame(
    settings: Settings, years: Sequence[int] | None = None, geos: Sequence[str] | None = None
) -> pl.DataFrame:
    """The quarantined CBP rows of `years` × `geos` (default: the configured ones), as staged."""
    paths = [
        p for g in (settings.cbp_geos if geos is None else geos)
        for y in (settings.cbp_years if years is None else years)
        if (p := cbp_quarantine_path(settings, y, g)).exists()
    ]  # fmt: skip
    if not paths:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return pl.concat([pl.read_parquet(p) for p in paths]).cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]
