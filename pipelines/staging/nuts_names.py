"""NUTS region names as data: one row per NUTS code and version that the EU tables carry.

A NUTS code names a territory only within its version (UKI1 "Inner London" of NUTS 2010 is gone
from NUTS 2013, FR21 "Champagne-Ardenne" from NUTS 2016), so each (code, version) takes its name
from the code list of its own version first:

* NUTS 2021: the Latin-script names of the NUTS 2021 list (``nuts2021_latin_names``), else the
  official workbook (national spelling);
* NUTS 2016: the NUTS 2016 names;
* NUTS 2006/2010/2013: the SBS code list (``sbs_dsd_nuts``), whose label of a discontinued code
  carries its last valid version ("Chemnitz (NUTS 2006)"); that suffix is dropped from the name
  (the version is its own column) and the label applies only up to that version.

A code with no name in its own version's list falls back to the other lists (same code, same
territory when it was never recoded); ``name_source`` says which list named it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import openpyxl
import polars as pl

from pipelines.config import Settings
from pipelines.raw.http import fetch
from pipelines.staging import nuts
from pipelines.staging.nace_concordance import fetch_reference

LATIN_NAMES_ID = "eurostat-classifications/nuts2021_latin_names"
EXTRA_REGIO = r"^[A-Z]{2}Z+$"  # NUTS extra-regio territories (FRZ, FRZZ, FRZZZ)
# Name lists in order of preference per NUTS version of the code.
PREFERENCE: dict[str, tuple[str, ...]] = {
    "2021": ("nuts2021_latin_names", "nuts2021", "sbs_dsd_nuts", "nuts2016_names"),
    "2016": ("nuts2016_names", "sbs_dsd_nuts", "nuts2021_latin_names", "nuts2021"),
    "2013": ("sbs_dsd_nuts", "nuts2016_names", "nuts2021_latin_names", "nuts2021"),
    "2010": ("sbs_dsd_nuts", "nuts2016_names", "nuts2021_latin_names", "nuts2021"),
    "2006": ("sbs_dsd_nuts", "nuts2016_names", "nuts2021_latin_names", "nuts2021"),
}
SCHEMA = {
    "region_code": pl.String(),
    "nuts_version": pl.String(),
    "region_name": pl.String(),
    "region_type": pl.String(),
    "level": pl.Int32(),
    "extra_regio": pl.Boolean(),
    "country_code": pl.String(),
    "name_source": pl.String(),
}
_NAMES = {"code": pl.String(), "name": pl.String(), "source": pl.String(), "valid_to": pl.String()}


def _clean(name: pl.Expr) -> pl.Expr:
    return name.str.strip_chars().str.replace_all(r"\s+", " ")


def read_name_lists(sbs_nuts_csv: Path, nuts2016_csv: Path, nuts2021_xlsx: Path, latin2021_csv: Path | None) -> pl.DataFrame:
    """(code, name, source, valid_to) of every named code of every list; valid_to is the last NUTS
    version the name holds for (SBS labels of discontinued codes), else null."""
    sbs = pl.read_csv(sbs_nuts_csv, infer_schema=False, encoding="utf8-lossy")
    sbs = sbs.rename({c: c.strip().lower() for c in sbs.columns}).select(
        pl.col("code").str.strip_chars(),
        _clean(pl.col("label").str.replace(r"\(NUTS \d{4}\)\s*$", "")).alias("name"),
        pl.lit("sbs_dsd_nuts").alias("source"),
        pl.col("label").str.extract(r"\(NUTS (\d{4})\)\s*$", 1).alias("valid_to"),
    )
    n16 = pl.read_csv(nuts2016_csv, separator=";", infer_schema=False, encoding="utf8-lossy")
    n16 = n16.select(
        pl.col(n16.columns[0]).str.strip_chars().alias("code"), _clean(pl.col(n16.columns[1])).alias("name"),
        pl.lit("nuts2016_names").alias("source"), pl.lit(None, pl.String).alias("valid_to"),
    )
    frames = [sbs, n16, workbook_names(nuts2021_xlsx)]
    if latin2021_csv is not None:
        # "NUTS_ID;NAME_LATN"; a few non-NUTS country names contain ';' ("Tanzania; United Republic of")
        lines = pl.read_csv(latin2021_csv, separator="\t", has_header=True, infer_schema=False, encoding="utf8-lossy", quote_char=None)
        parts = lines.get_column(lines.columns[0]).str.splitn(";", 2).struct.rename_fields(["code", "name"])
        frames.append(parts.struct.unnest().select(
            pl.col("code").str.strip_chars(), _clean(pl.col("name")).alias("name"),
            pl.lit("nuts2021_latin_names").alias("source"), pl.lit(None, pl.String).alias("valid_to"),
        ))  # fmt: skip
    return pl.concat([f.cast(_NAMES) for f in frames]).filter(pl.col("name").is_not_null() & (pl.col("name") != ""))


def workbook_names(path: Path) -> pl.DataFrame:
    """(code, name, source, valid_to) from the official NUTS 2021 workbook: the name is in the
    column of the code's level (Country, NUTS level 1/2/3)."""
    with warnings.catch_warnings():  # the official workbook carries an extension openpyxl skips (harmless)
        warnings.filterwarnings("ignore", message="Unknown extension is not supported", category=UserWarning)
        wb = openpyxl.load_workbook(open(path, "rb"), read_only=True, data_only=True)  # noqa: SIM115
    try:
        ws = next(s for s in wb.worksheets if s.title.startswith("NUTS & SR 2021"))
        rows = [(str(r[0]).strip(), next((str(v) for v in r[1:5] if v), None)) for r in ws.iter_rows(min_row=2, values_only=True) if r and r[0]]
    finally:
        wb.close()
    df = pl.DataFrame(rows, schema={"code": pl.String, "name": pl.String}, orient="row")
    return df.select("code", _clean(pl.col("name")).alias("name"), pl.lit("nuts2021").alias("source"), pl.lit(None, pl.String).alias("valid_to"))


def nuts_regions(codes: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct (region_code, nuts_version) of `codes`, with its name, level and the
    list that named it (null name when no list has one: the validation says so, never a guess)."""
    pref = pl.DataFrame(
        [(v, s, i) for v, srcs in PREFERENCE.items() for i, s in enumerate(srcs)],
        schema={"nuts_version": pl.String, "source": pl.String, "rank": pl.Int32},
        orient="row",
    )
    keys = codes.select("region_code", "nuts_version").unique()
    best = (
        keys.lazy()
        .join(names.lazy(), left_on="region_code", right_on="code", how="inner")
        .join(pref.lazy(), on=["nuts_version", "source"], how="inner")
        # a label of a discontinued code holds up to its last valid version only
        .filter(pl.col("valid_to").is_null() | (pl.col("nuts_version") <= pl.col("valid_to")))
        .sort("rank")
        .group_by("region_code", "nuts_version")
        .agg(pl.col("name").first().alias("region_name"), pl.col("source").first().alias("name_source"))
    )
    code = pl.col("region_code")
    rtype = nuts.region_type(code)
    return (
        keys.lazy()
        .join(best, on=["region_code", "nuts_version"], how="left")
        .with_columns(
            rtype.alias("region_type"),
            pl.when(rtype.str.starts_with("nuts")).then(code.str.len_chars() - 2).cast(pl.Int32).alias("level"),
            code.str.contains(EXTRA_REGIO).alias("extra_regio"),
            code.str.slice(0, 2).alias("country_code"),
        )
        .select(list(SCHEMA))
        .sort("region_code", "nuts_version")
        .collect()
        .cast(SCHEMA)
    )


def eu_region_codes(industry: pl.DataFrame, crosswalk: pl.DataFrame) -> pl.DataFrame:
    """(region_code, nuts_version) of every NUTS code in the EU tables: the regions of the
    harmonised industry rows (from which every EU indicator table is built) and both sides of the
    crosswalk (the codes as published and as recoded)."""
    frames = [
        industry.filter(pl.col("region_type") != "custom").select("region_code", "nuts_version"),
        crosswalk.select(pl.col("source_code").alias("region_code"), pl.col("source_version").alias("nuts_version")),
        crosswalk.select(pl.col("target_code").alias("region_code"), pl.col("target_version").alias("nuts_version")),
    ]
    return pl.concat(frames).filter(pl.col("nuts_version").is_not_null()).unique().sort("region_code", "nuts_version")


def load_name_lists(settings: Settings) -> pl.DataFrame:
    """The name lists through pipelines.raw.http (mirror, else the packaged reference copies)."""
    latin = fetch(LATIN_NAMES_ID, None, settings, mirror_id=LATIN_NAMES_ID)
    return read_name_lists(
        fetch_reference(settings, "sbs_nuts").path, fetch_reference(settings, "nuts2016").path,
        fetch_reference(settings, "nuts2021").path, latin.path,
    )  # fmt: skip


def eu_nuts_regions(settings: Settings, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The published ``nuts_regions`` table for the staged EU tables of `build_eu`."""
    codes = eu_region_codes(tables["eu_industry_employment"], tables["nuts_crosswalk"])
    return nuts_regions(codes, load_name_lists(settings))
