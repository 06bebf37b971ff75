"""Europe: NACE → US benchmark cluster concordance, confidential-cell filling, apportioning.

Pipeline (:func:`build_eu`): Eurostat regional SBS (sbs_r_nuts06_r2, sbs_r_nuts2021) → long
industry table (harmonised, next to the US rows) → confidential cells filled from the parent
region → NUTS codes recoded to the target version → NACE rows apportioned to the 51 traded + 16
local US clusters → ``eu_cluster_totals`` (input of sql/eu/cluster_indicators.sql).

The NACE → cluster concordance is derived, not official (see assets/eu/README.md):
US cluster definitions (NAICS 2012, 6 digits) → Census NAICS 2012 → ISIC Rev.4 concordance
(many-to-many; a NAICS industry linked to k ISIC classes is split equally over them) → NACE Rev.2
classes (each class names one ISIC class; an ISIC class named by m NACE classes is split equally)
→ aggregated to NACE groups and divisions. The weight of a cluster in a NACE code is the share of
US national employment (CBP, all legal forms, emp incl. EMPFLAG midpoints) of the NAICS
industries behind that code that belong to the cluster.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.config import SQL_DIR, Settings
from pipelines.errors import SourceError
from pipelines.raw.eurostat_client import EurostatClient
from pipelines.raw.http import fetch
from pipelines.sources import eurostat
from pipelines.staging import nuts
from pipelines.staging.eurostat import harmonise_sbs, read_raw

log = logging.getLogger(__name__)

REFERENCE_IDS = {
    "sbs_nuts": "eurostat-classifications/sbs_dsd_nuts",
    "nuts2016": "eurostat-classifications/nuts2016_names",
    "nuts2021": "eurostat-classifications/nuts2021",
    "naics_isic": "concordance/census_2012_naics_to_isic4",
    "nace_structure": "concordance/nace_rev2_structure",
    "isic_structure": "concordance/isic_rev4_structure",
    "cluster_definitions": "clustermapping/cluster_naics_definitions",
    "naics_concordance": "naics/NAICS_Year_Concordance",
}
DEFAULT_DATASETS = ("sbs_r_nuts06_r2", "sbs_r_nuts2021")
# Years each dataset is used for (the successor takes over in 2021).
DATASET_YEARS = {"sbs_r_nuts06_r2": (2008, 2020), "sbs_r_nuts2021": (2021, 9999)}
WEIGHT_YEAR = 2011  # CBP year for US employment weights (NAICS 2007 codes, carried to 2012)
GROUP_COVERAGE_TOLERANCE = 0.02
# A NAICS→ISIC link whose note names a specific part of the NAICS industry (next to an "except …"
# link carrying the rest) gets this share of the industry's employment; parts together at most
# NOTE_PARTS_MAX. The notes say which products, not how much: 5 % is our documented assumption.
NOTE_PART_SHARE = 0.05
NOTE_PARTS_MAX = 0.5
EXTRA_REGIO = r"^[A-Z]{2}Z+$"  # NUTS extra-regio territories (FRZ, FRZZ, FRZZZ)


def exact_sum(e: pl.Expr) -> pl.Expr:
    """Sum at 1e-6 in fixed point: a float sum depends on the order rows are added in (threads),
    an integer sum does not, so rebuilds give identical tables (issue 15)."""
    micro = (e.cast(pl.Float64) * 1e6).round(0).cast(pl.Int64).sum()
    # back through Decimal: a float multiply/divide by 1e-6 would not round-trip (58.1 → 58.0999…)
    return micro.cast(pl.Decimal(38, 0)).cast(pl.Decimal(38, 6)).truediv(pl.lit(1_000_000, dtype=pl.Decimal(38, 0))).cast(pl.Float64)

CONCORDANCE_SCHEMA = {
    "nace_code": pl.String(),
    "nace_level": pl.Int8(),
    "cluster_code": pl.String(),
    "weight": pl.Float64(),
    "n_naics": pl.Int64(),
    "us_emp": pl.Float64(),
    "provenance": pl.String(),
    "method": pl.String(),
    "equal_split_share": pl.Float64(),
}
MEASURES = (("emp", "empflag", "emp_imputed"), ("est", "est_flag", "est_imputed"), ("payroll", "payroll_flag", "payroll_imputed"))
PARENT_LEVELS = (("nuts0", "nuts1"), ("nuts1", "nuts2"), ("nuts2", "nuts3"))


# --------------------------------------------------------------------------------------------
# reference parsing


def parse_naics_isic(path: Path, isic_classes: Sequence[str]) -> pl.DataFrame:
    """Census '2012 NAICS to ISIC 4' xlsx → (naics, isic, note) links, ISIC as 4-digit strings.

    Leading zeros lost in the sheet are restored (111 → 0111); group wildcards (012X) expand to
    every ISIC class of the group; the household pseudo-rows (NAICS 0) are dropped. ``note`` is
    the sheet's Notes column ("link content based on NAICS definition, entire NAICS industry if
    blank"): which part of the NAICS industry the link carries, '' when blank.
    """
    import openpyxl

    src = REFERENCE_IDS["naics_isic"]
    try:
        wb = openpyxl.load_workbook(open(path, "rb"), read_only=True, data_only=True)  # noqa: SIM115
    except Exception as exc:
        raise SourceError(src, str(path), f"cannot open workbook: {exc}") from exc
    try:
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows or "NAICS" not in str(rows[0][0]) or "ISIC" not in str(rows[0][2]):
        raise SourceError(src, str(path), f"unexpected header {rows[0][:4] if rows else None}")
    has_notes = len(rows[0]) > 4 and "Notes" in str(rows[0][4] or "")
    raw = pl.DataFrame(
        {"naics": [str(r[0]).strip() if r[0] is not None else None for r in rows[1:]],
         "isic": [str(r[2]).strip() if r[2] is not None else None for r in rows[1:]],
         "note": [str(r[4] or "").strip() if has_notes and len(r) > 4 else "" for r in rows[1:]]},
        schema={"naics": pl.String, "isic": pl.String, "note": pl.String},
    ).filter(pl.col("naics").is_not_null() & (pl.col("naics") != "0"))
    raw = raw.with_columns(pl.col("isic").str.replace_all(r"\s+", ""))
    bad = raw.filter(~pl.col("naics").str.contains(r"^[0-9]{6}$") | ~pl.col("isic").str.contains(r"^[0-9]{2,4}X?$"))
    if bad.height:
        raise SourceError(src, str(path), "malformed NAICS/ISIC codes", rows=str(bad.head(10)))
    plain = raw.filter(~pl.col("isic").str.ends_with("X")).with_columns(pl.col("isic").str.zfill(4))
    wild = raw.filter(pl.col("isic").str.ends_with("X")).with_columns(
        pl.col("isic").str.strip_suffix("X").str.zfill(3).alias("prefix")
    )
    classes = pl.DataFrame({"isic": list(isic_classes)}).with_columns(pl.col("isic").str.slice(0, 3).alias("prefix"))
    expanded = wild.drop("isic").join(classes, on="prefix", how="inner").select("naics", "isic", "note")
    if expanded.select(pl.col("naics").n_unique()).item() != wild.select(pl.col("naics").n_unique()).item():
        raise SourceError(src, str(path), "an ISIC group wildcard matched no ISIC class", rows=str(wild))
    links = pl.concat([plain.select("naics", "isic", "note"), expanded])
    # one note per link (a repeated pair keeps its first note in sorted order: deterministic)
    return links.group_by("naics", "isic").agg(pl.col("note").sort().first()).sort("naics", "isic")


def naics_isic_shares(naics_isic: pl.DataFrame, note_part_share: float = NOTE_PART_SHARE) -> pl.DataFrame:
    """Share of each NAICS industry's employment carried by each of its ISIC links, and how.

    A NAICS industry is split across its links, never counted whole in each:

    * one link: the whole industry (``link_method`` 'whole');
    * several links, exactly one of them noted "except …" (the rest of the industry) and the
      others naming a specific part: each named part gets ``note_part_share`` (at most
      ``NOTE_PARTS_MAX`` together), the "except" link the remainder ('part-of note');
    * otherwise (no note, or no single "except" link): equal split ('equal split').
    """
    k = pl.len().over("naics")
    is_rest = pl.col("note").fill_null("").str.to_lowercase().str.starts_with("except")
    df = naics_isic.with_columns(k.alias("_k"), is_rest.alias("_rest"))
    df = df.with_columns(
        pl.col("_rest").cast(pl.Int32).sum().over("naics").alias("_n_rest"),
        (pl.col("note").fill_null("") != "").cast(pl.Int32).sum().over("naics").alias("_n_noted"),
    )
    noted = (pl.col("_k") > 1) & (pl.col("_n_rest") == 1) & (pl.col("_n_noted") == pl.col("_k"))
    part = pl.min_horizontal(pl.lit(note_part_share), pl.lit(NOTE_PARTS_MAX) / (pl.col("_k") - 1))
    share = (
        pl.when(pl.col("_k") == 1).then(pl.lit(1.0))
        .when(noted & pl.col("_rest")).then(1.0 - part * (pl.col("_k") - 1))
        .when(noted).then(part)
        .otherwise(1.0 / pl.col("_k"))
    )
    method = (
        pl.when(pl.col("_k") == 1).then(pl.lit("whole"))
        .when(noted).then(pl.lit("part-of note"))
        .otherwise(pl.lit("equal split"))
    )
    return df.select("naics", "isic", "note", share.alias("w_isic"), method.alias("link_method")).sort("naics", "isic")


def parse_isic_classes(path: Path) -> list[str]:
    df = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    return df.filter(pl.col("Code").str.contains(r"^[0-9]{4}$"))["Code"].to_list()


def parse_nace_structure(path: Path) -> pl.DataFrame:
    """NACE Rev.2 classes → (nace_class, nace_group, nace_division, section, isic) in Eurostat
    dissemination codes ("C1011", "C101", "C10", "C")."""
    src = REFERENCE_IDS["nace_structure"]
    df = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    need = {"Level", "Code", "Parent", "ISIC4_ref"}
    if not need <= set(df.columns):
        raise SourceError(src, str(path), f"missing columns {sorted(need - set(df.columns))}")
    div_section = dict(df.filter(pl.col("Level") == "2").select("Code", "Parent").iter_rows())
    classes = df.filter(pl.col("Level") == "4").select(
        pl.col("Code").str.replace_all(r"\.", "").alias("digits"), pl.col("ISIC4_ref").str.strip_chars().alias("isic")
    )
    bad = classes.filter(~pl.col("digits").str.contains(r"^[0-9]{4}$") | ~pl.col("isic").str.contains(r"^[0-9]{4}$"))
    if bad.height:
        raise SourceError(src, str(path), "malformed NACE class rows", rows=str(bad.head(10)))
    section = pl.col("digits").str.slice(0, 2).replace_strict(div_section, default=None)
    return classes.with_columns(section.alias("section")).select(
        pl.concat_str("section", "digits").alias("nace_class"),
        pl.concat_str("section", pl.col("digits").str.slice(0, 3)).alias("nace_group"),
        pl.concat_str("section", pl.col("digits").str.slice(0, 2)).alias("nace_division"),
        "section",
        "isic",
    )


def us_naics2012_employment(cbp_rows: pl.LazyFrame, naics_concordance: pl.DataFrame | None, from_vintage: str = "2007") -> pl.DataFrame:
    """US national employment per NAICS 2012 code from harmonised CBP state rows (6-digit, lfo '-').

    emp includes EMPFLAG midpoints for suppressed cells. Codes of an older vintage are carried to
    2012 through the concordance, a code linked to k 2012 codes split equally.
    """
    nat = (
        cbp_rows.filter((pl.col("lfo") == "-") & (pl.col("industry_level") == 6))
        .group_by(pl.col("industry_code").alias("naics"))
        .agg(exact_sum(pl.col("emp")).alias("emp"))
        .collect()
    )
    if naics_concordance is None or from_vintage == "2012":
        return nat.sort("naics")
    links = naics_concordance.select(
        pl.col(f"naics_{from_vintage}").alias("naics"), pl.col("naics_2012").alias("naics12")
    ).unique()
    links = links.with_columns((1.0 / pl.len().over("naics")).alias("share"))
    mapped = nat.join(links, on="naics", how="left").select(
        pl.coalesce("naics12", "naics").alias("naics"), (pl.col("emp") * pl.col("share").fill_null(1.0)).alias("emp")
    )
    return mapped.group_by("naics").agg(exact_sum(pl.col("emp")).alias("emp")).sort("naics")


# --------------------------------------------------------------------------------------------
# concordance


def build_nace_cluster_concordance(
    cluster_naics: pl.DataFrame,
    naics_isic: pl.DataFrame,
    nace_classes: pl.DataFrame,
    naics_emp: pl.DataFrame,
    note_part_share: float = NOTE_PART_SHARE,
) -> pl.DataFrame:
    """(nace_code, nace_level, cluster_code, weight, n_naics, us_emp, provenance, method,
    equal_split_share) for NACE divisions (level 2), groups (3) and classes (4).

    ``cluster_naics``: (naics, cluster_code) for NAICS 2012; ``naics_isic``: (naics, isic[, note]);
    ``naics_emp``: (naics, emp). Each NAICS industry's US employment is split across its ISIC
    links (:func:`naics_isic_shares`), each ISIC class across the NACE classes naming it (equal
    split when it spans several NACE codes of the level). Weight of a cluster in a NACE code =
    its share of the US employment that reaches the code; the weights of a code sum to the share
    in clusters (< 1 when NAICS outside every cluster, e.g. farms, are behind it). Without any US
    employment behind a code, weights fall back to link counts ('equal split').
    ``method`` says how most of the pair's US employment reached the code ('employment split':
    whole NAICS industries; 'part-of note'; 'equal split'); ``equal_split_share`` the share of it
    that went through an equal split.
    """
    defs = cluster_naics.select(pl.col("naics").cast(pl.String), pl.col("cluster_code").cast(pl.String)).unique()
    if "note" not in naics_isic.columns:
        naics_isic = naics_isic.with_columns(pl.lit("").alias("note"))
    shares = naics_isic_shares(naics_isic.select("naics", "isic", "note").unique(), note_part_share)
    nace = nace_classes.select("nace_class", "nace_group", "nace_division", "isic").unique()
    emp = naics_emp.select("naics", pl.col("emp").cast(pl.Float64).alias("naics_emp"))
    frames = []
    for level, col in ((2, "nace_division"), (3, "nace_group"), (4, "nace_class")):
        # ISIC class → NACE codes of this level: the share of the ISIC class's NACE classes in the code
        isic_code = nace.group_by("isic", pl.col(col).alias("nace_code")).agg(pl.len().alias("_n")).with_columns(
            (pl.col("_n") / pl.col("_n").sum().over("isic")).alias("w_nace"),
            (pl.len().over("isic") > 1).alias("_nace_split"),
        )
        links = (
            shares.join(isic_code, on="isic", how="inner")
            .join(defs, on="naics", how="left")  # NAICS outside every cluster keep cluster null
            .join(emp, on="naics", how="left")
            .with_columns(
                (pl.col("w_isic") * pl.col("w_nace")).alias("w_link"),
                (pl.col("naics_emp").fill_null(0.0) * pl.col("w_isic") * pl.col("w_nace")).alias("emp_link"),
                pl.when(pl.col("_nace_split")).then(pl.lit("equal split")).otherwise(pl.col("link_method")).alias("_how"),
            )
        )
        per = links.group_by("nace_code", "cluster_code").agg(
            exact_sum(pl.col("emp_link")).alias("us_emp"),
            exact_sum(pl.col("emp_link").filter(pl.col("_how") == "equal split")).alias("_eq"),
            exact_sum(pl.col("emp_link").filter(pl.col("_how") == "part-of note")).alias("_note"),
            exact_sum(pl.col("w_link")).alias("links"),
            pl.col("naics").n_unique().alias("n_naics"),
        )
        tot = per.group_by("nace_code").agg(exact_sum(pl.col("us_emp")).alias("tot_emp"), exact_sum(pl.col("links")).alias("tot_links"))
        per = per.join(tot, on="nace_code").filter(pl.col("cluster_code").is_not_null())
        has_emp = pl.col("tot_emp") > 0
        whole = pl.col("us_emp") - pl.col("_eq") - pl.col("_note")
        method = (
            pl.when(~has_emp | (pl.col("us_emp") <= 0)).then(pl.lit("equal split"))
            .when((pl.col("_eq") >= pl.col("_note")) & (pl.col("_eq") > whole)).then(pl.lit("equal split"))
            .when(pl.col("_note") > whole).then(pl.lit("part-of note"))
            .otherwise(pl.lit("employment split"))
        )
        frames.append(
            per.select(
                "nace_code",
                pl.lit(level, dtype=pl.Int8).alias("nace_level"),
                "cluster_code",
                pl.when(has_emp).then(pl.col("us_emp") / pl.col("tot_emp")).otherwise(pl.col("links") / pl.col("tot_links")).alias("weight"),
                pl.col("n_naics").cast(pl.Int64),
                "us_emp",
                pl.when(has_emp)
                .then(pl.lit("NAICS2012>ISIC4>NACE; US employment weights"))
                .otherwise(pl.lit("NAICS2012>ISIC4>NACE; equal split, no US employment"))
                .alias("provenance"),
                method.alias("method"),
                pl.when(has_emp & (pl.col("us_emp") > 0)).then(pl.col("_eq") / pl.col("us_emp")).otherwise(pl.lit(1.0)).alias("equal_split_share"),
            )
        )
    out = pl.concat(frames).filter(pl.col("weight") > 0)
    return out.cast(CONCORDANCE_SCHEMA).sort("nace_level", "nace_code", pl.col("cluster_code").cast(pl.Int32))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# confidential cells


def fill_confidential(df: pl.DataFrame | pl.LazyFrame, levels: Sequence[tuple[str, str]] = PARENT_LEVELS) -> pl.LazyFrame:
    """Fill confidential cells (flag contains 'c', value null) from the parent region.

    European Cluster Observatory rule: parent value minus the known children, the remainder split
    equally over the confidential children (flag 'c', not extra-regio); only they are filled, flagged
    ``<measure>_imputed`` (the original flag is kept). Applied top-down (country → NUTS 1 →
    NUTS 2 → NUTS 3) so filled NUTS 1 cells feed NUTS 2. A negative remainder gives 0.
    Children are the rows of the next NUTS level whose code extends the parent's code, for the
    same year, NACE code and source (never across NUTS versions).
    """
    frame = df.lazy().collect() if isinstance(df, pl.LazyFrame) else df
    key = ["year", "classification", "industry_code", "source_id"]
    for parent_type, child_type in levels:
        for value, flag, imputed in MEASURES:
            # materialise each step: chained self-joins would otherwise re-plan the whole history
            lf = frame.lazy()
            is_int = frame.schema[value] == pl.Int64
            parents = lf.filter(pl.col("region_type") == parent_type).select(
                *key, pl.col("region_code").alias("_parent"), pl.col(value).cast(pl.Float64).alias("_pv")
            )
            kids = lf.filter(pl.col("region_type") == child_type).with_columns(
                pl.col("region_code").str.slice(0, pl.col("region_code").str.len_chars() - 1).alias("_parent")
            )
            # Only confidential children of real territory take a share: ':' without 'c' is a code
            # not published that year (e.g. an older NUTS version of the same territory), and
            # extra-regio codes (FRZZ) are never filled.
            fillable = (
                pl.col(value).is_null()
                & pl.col(flag).fill_null("").str.contains("c")
                & ~pl.col("region_code").str.contains(EXTRA_REGIO)
            )
            stats = kids.group_by(*key, "_parent").agg(
                exact_sum(pl.col(value)).alias("_known"),
                fillable.sum().alias("_nmiss"),
            )
            share = (
                stats.join(parents, on=[*key, "_parent"], how="inner")
                .filter(pl.col("_pv").is_not_null() & (pl.col("_nmiss") > 0))
                .select(*key, "_parent", (pl.max_horizontal(pl.col("_pv") - pl.col("_known"), pl.lit(0.0)) / pl.col("_nmiss")).alias("_share"))
            )
            fill = fillable & pl.col("_share").is_not_null()
            new_val = pl.col("_share").round(0).cast(pl.Int64) if is_int else pl.col("_share").round(6)
            kids = (
                kids.join(share, on=[*key, "_parent"], how="left")
                .with_columns(
                    pl.when(fill).then(new_val).otherwise(pl.col(value)).alias(value),
                    (pl.col(imputed) | fill).alias(imputed),
                )
                .drop("_parent", "_share")
            )
            frame = pl.concat([lf.filter(pl.col("region_type") != child_type), kids], how="vertical_relaxed").collect()
    return frame.lazy()


# --------------------------------------------------------------------------------------------
# apportioning


def select_mapping_rows(ind: pl.LazyFrame) -> pl.LazyFrame:
    """The finest non-overlapping NACE rows per region × year: a division's groups when all of
    them have employment and they add up to the division (±2 %), otherwise the division."""
    base = ind.filter(pl.col("classification") == "NACE_R2")
    rk = ["year", "region_type", "region_code", "nuts_version", "source_id"]
    divs = base.filter(pl.col("industry_level") == 2).with_columns(pl.col("industry_code").alias("_div"))
    groups = base.filter(pl.col("industry_level") == 3).with_columns(pl.col("industry_code").str.slice(0, 3).alias("_div"))
    gstat = groups.group_by(*rk, "_div").agg(
        pl.col("emp").null_count().alias("_nnull"), exact_sum(pl.col("emp")).alias("_gsum")
    )
    check = gstat.join(divs.select(*rk, "_div", pl.col("emp").alias("_demp")), on=[*rk, "_div"], how="left")
    use_groups = check.filter(
        (pl.col("_nnull") == 0)
        & (
            pl.col("_demp").is_null()
            | ((pl.col("_gsum") - pl.col("_demp")).abs() <= GROUP_COVERAGE_TOLERANCE * pl.col("_demp"))
        )
    ).select(*rk, "_div")
    chosen_groups = groups.join(use_groups, on=[*rk, "_div"], how="semi")
    chosen_divs = divs.join(use_groups, on=[*rk, "_div"], how="anti")
    return pl.concat([chosen_divs, chosen_groups], how="vertical_relaxed").drop("_div")


def apportion(ind: pl.LazyFrame, concordance: pl.DataFrame, clusters: pl.DataFrame | None = None) -> pl.LazyFrame:
    """NACE rows × concordance weights → cluster totals per year × region × cluster.

    A sum over only-null cells stays null (never zero). ``emp_payroll`` is the employment of the
    cells whose payroll is known (the wage denominator).
    """
    rows = select_mapping_rows(ind)
    conc = concordance.lazy().select(pl.col("nace_code").alias("industry_code"), "cluster_code", "weight")
    j = rows.join(conc, on="industry_code", how="inner")
    w = pl.col("weight")
    rkey = ["year", "region_type", "region_code", "nuts_version"]
    # The region's whole SBS employment (every mapping row, in a cluster or not): the base of the
    # European Cluster Observatory's LQ and focus, which are on total regional employment.
    totals = rows.group_by(rkey).agg(
        pl.when(pl.col("emp").count() > 0).then(exact_sum(pl.col("emp"))).alias("region_total_emp")
    )

    def wsum(col: str, cond: pl.Expr | None = None) -> pl.Expr:
        v = pl.col(col).cast(pl.Float64) * w
        if cond is not None:
            v = pl.when(cond).then(v)
        # rounded: float sums must not depend on the summation order (content hashes, rank ties)
        return pl.when(v.count() > 0).then(exact_sum(v)).otherwise(None)

    out = j.group_by("year", "region_type", "region_code", "nuts_version", "cluster_code").agg(
        wsum("emp").alias("emp"),
        wsum("emp_reported").alias("emp_reported"),
        wsum("est").alias("est"),
        wsum("payroll").alias("payroll"),
        wsum("emp", pl.col("payroll").is_not_null()).alias("emp_payroll"),
        pl.len().alias("n_industries"),
        pl.col("emp_imputed").sum().cast(pl.Int64).alias("n_imputed"),
        pl.col("emp").null_count().cast(pl.Int64).alias("n_missing"),
        pl.col("nuts_change").first().alias("nuts_change"),
        pl.col("custom_base_type").first().alias("custom_base_type") if "custom_base_type" in ind.collect_schema().names() else pl.lit(None, dtype=pl.String).alias("custom_base_type"),
    )
    out = out.join(totals, on=rkey, how="left", nulls_equal=True).with_columns(
        pl.col("region_code").str.contains(EXTRA_REGIO).alias("extra_regio")
    )
    if clusters is not None:
        out = out.join(clusters.lazy().select("cluster_code", "cluster_name", "traded"), on="cluster_code", how="left")
    return out.sort("region_type", "region_code", pl.col("cluster_code").cast(pl.Int32), "year")


def concordance_report(ind: pl.LazyFrame, concordance: pl.DataFrame, year: int | None = None) -> pl.DataFrame:
    """Where every NACE code's European employment goes: per NACE code used × cluster, the
    weight, how it was derived, and the persons employed it carries in the countries of the data
    (country rows, ``year`` = the latest year by default). The part of a code in no cluster is a
    row with cluster_code null and method 'no cluster'; ``eu_emp_equal_split`` is the employment
    carried by equal splits, the weakest link of the concordance."""
    rows = select_mapping_rows(ind.filter((pl.col("region_type") == "nuts0") & pl.col("emp").is_not_null())).collect()
    if year is None:
        year = rows["year"].max() if rows.height else None
    rows = rows.filter(pl.col("year") == year)
    per_code = rows.group_by(pl.col("industry_code").alias("nace_code")).agg(
        pl.col("industry_level").first().cast(pl.Int8).alias("nace_level"), exact_sum(pl.col("emp")).alias("_code_emp")
    )
    total = per_code.select(exact_sum(pl.col("_code_emp"))).item()
    conc = concordance.select("nace_code", "cluster_code", "weight", "method", "equal_split_share")
    linked = per_code.join(conc, on="nace_code", how="inner")
    rest = per_code.join(
        conc.group_by("nace_code").agg(exact_sum(pl.col("weight")).alias("_w")), on="nace_code", how="left"
    ).select(
        "nace_code", "nace_level", "_code_emp",
        pl.lit(None, dtype=pl.String).alias("cluster_code"),
        (1.0 - pl.col("_w").fill_null(0.0)).alias("weight"),
        pl.lit("no cluster").alias("method"),
        pl.lit(0.0).alias("equal_split_share"),
    ).filter(pl.col("weight") > 1e-9)
    out = pl.concat([linked.select(rest.columns), rest], how="vertical_relaxed")
    return out.select(
        pl.lit(year, dtype=pl.Int32).alias("year"),
        "nace_code",
        "nace_level",
        "cluster_code",
        pl.col("weight").cast(pl.Float64),
        "method",
        pl.col("equal_split_share").cast(pl.Float64),
        (pl.col("_code_emp") * pl.col("weight")).round(3).alias("eu_emp"),
        (pl.col("_code_emp") * pl.col("weight") / total).alias("eu_emp_share"),
        (pl.col("_code_emp") * pl.col("weight") * pl.col("equal_split_share")).round(3).alias("eu_emp_equal_split"),
    ).sort("nace_code", pl.col("cluster_code").cast(pl.Int32), nulls_last=True)


# --------------------------------------------------------------------------------------------
# top level


def _ref(settings: Settings, name: str):
    rid = REFERENCE_IDS[name]
    return fetch(rid, None, settings, mirror_id=rid)  # mirror, else packaged copy; keeps the file's name


def _available(settings: Settings, dataset: str) -> bool:
    if settings.mirror is None or not settings.offline:
        return True
    from pipelines.raw.mirror import load_mirror

    return load_mirror(str(settings.mirror)).lookup(url=eurostat.tsv_url(dataset), entry_id=eurostat.source_id(dataset)) is not None


def load_eu_industry(
    settings: Settings, datasets: Sequence[str] = DEFAULT_DATASETS, client: EurostatClient | None = None
) -> pl.LazyFrame:
    """Fetch and harmonise the regional SBS datasets (before filling and recoding)."""
    client = client or EurostatClient(settings)
    staging = settings.staging_dir / "eurostat"
    staging.mkdir(parents=True, exist_ok=True)
    frames = []
    for ds in datasets:
        if not _available(settings, ds):
            log.warning("%s: offline and not in the mirror; skipped", ds)
            continue
        raws = client.fetch_dataset(ds)
        parts = [
            harmonise_sbs(
                read_raw(raw, eurostat.source_id(ds), staging),
                dataset=ds, source=eurostat.source_id(ds), sha256=raw.sha256, location=raw.url or str(raw.path),
            )
            for raw in raws
        ]
        lo, hi = DATASET_YEARS.get(ds, (0, 9999))
        frames.append(pl.concat(parts).unique().filter(pl.col("year").is_between(lo, hi)))
        log.info("Eurostat %s: %d file(s) read", ds, len(raws))
    if not frames:
        raise SourceError("eurostat", str(settings.mirror), f"none of the datasets {list(datasets)} could be fetched")
    return pl.concat(frames, how="vertical_relaxed")


def collapse_recoded_duplicates(df: pl.DataFrame) -> pl.DataFrame:
    """One row per key after recoding.

    The bulk file carries a region under its old and its new code (e.g. ITD and ITH), each with
    ':' where the other has the value. After recoding both land on one code: keep the row with
    more known measures, and the natively published one when both are complete.
    """
    key = ["year", "region_type", "region_code", "classification", "industry_code", "lfo", "nuts_version"]
    known = sum(pl.col(c).is_not_null().cast(pl.Int8) for c in ("emp", "est", "payroll"))
    imputed = sum(pl.col(c).fill_null(False).cast(pl.Int8) for c in ("emp_imputed", "est_imputed", "payroll_imputed"))
    # Order-independent tie-breaks: more known values, fewer filled ones, natively published,
    # then the published code itself, so equal candidates never depend on the input order.
    order = [*key, "_known", "_imputed", "_recoded", "nuts_code_original", "source_id"]
    return (
        df.with_columns(known.alias("_known"), imputed.alias("_imputed"), (pl.col("nuts_change") != "unchanged").alias("_recoded"))
        .sort(order, descending=[False] * len(key) + [True, False, False, False, False], nulls_last=True, maintain_order=True)
        .unique(subset=key, keep="first", maintain_order=True)
        .drop("_known", "_imputed", "_recoded")
    )


def mirror_concordance(settings: Settings, weight_year: int = WEIGHT_YEAR) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(clusters, nace_cluster_concordance) from the reference files and the CBP state file of
    ``weight_year`` (US national employment weights), all fetched through pipelines.raw.http."""
    from pipelines.sources import cbp, clustermapping
    from pipelines.sources import naics as naics_src
    from pipelines.staging.cbp import parse_cbp_file

    clusters, cluster_naics = clustermapping.parse_cluster_definitions(_ref(settings, "cluster_definitions").path)
    defs12 = cluster_naics.filter(pl.col("naics_vintage") == "2012")
    isic_classes = parse_isic_classes(_ref(settings, "isic_structure").path)
    naics_isic = parse_naics_isic(_ref(settings, "naics_isic").path, isic_classes)
    nace_classes = parse_nace_structure(_ref(settings, "nace_structure").path)
    conc_tab = naics_src.parse_concordance(_ref(settings, "naics_concordance").path)
    sid, url = cbp.source_id(weight_year, "state"), cbp.url(weight_year, "state")
    raw = fetch(sid, url, settings, validate=cbp.validate_zip)
    settings.raw_dir.joinpath(".tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.raw_dir / ".tmp") as work:
        lf = parse_cbp_file(raw.path, year=weight_year, source_id=sid, sha256=raw.sha256, location=url, work_dir=Path(work))
        vintage = "2007" if weight_year < 2012 else "2012"
        naics_emp = us_naics2012_employment(lf, conc_tab, vintage)
    return clusters, build_nace_cluster_concordance(defs12, naics_isic, nace_classes, naics_emp)


def build_eu(
    settings: Settings,
    *,
    datasets: Sequence[str] = DEFAULT_DATASETS,
    target_nuts: str = nuts.DEFAULT_TARGET,
    weight_year: int = WEIGHT_YEAR,
    region_groups: Path | Sequence[Any] | None = None,
    client: EurostatClient | None = None,
) -> dict[str, pl.DataFrame]:
    """Fetch, parse, fill, recode and map to clusters; returns the tables ready to publish:
    eu_industry_employment, nace_cluster_concordance, nace_concordance_report, eu_cluster_totals,
    nuts_crosswalk.

    ``region_groups``: optional YAML file of user-defined regions (see
    assets/region_groups.example.yaml), or already loaded RegionGroup objects; their rows (region_type 'custom') are added to
    eu_industry_employment and eu_cluster_totals.
    """
    ind = load_eu_industry(settings, datasets, client)
    filled = fill_confidential(ind).collect()

    nref = nuts.NutsReference.load(_ref(settings, "sbs_nuts").path, _ref(settings, "nuts2016").path, _ref(settings, "nuts2021").path)
    crosswalks = []
    for sid, part in filled.partition_by("source_id", as_dict=True).items():
        ds = sid[0].split("/", 1)[1]
        crosswalks.append(nuts.build_crosswalk(nref, part["region_code"].unique().to_list(), eurostat.DATASETS.get(ds), target_nuts).with_columns(pl.lit(sid[0]).alias("source_id")))
    cw = pl.concat(crosswalks).sort("source_id", "source_code")
    recoded = pl.concat(
        [
            nuts.recode(filled.filter(pl.col("source_id") == sid).lazy(), cw.filter(pl.col("source_id") == sid).drop("source_id"))
            for sid in sorted(cw["source_id"].unique().to_list())
        ],
        how="vertical_relaxed",
    ).collect()
    recoded = collapse_recoded_duplicates(recoded).with_columns(
        pl.col("region_code").str.contains(EXTRA_REGIO).alias("extra_regio")
    )
    if region_groups:
        from pipelines.staging.region_groups import aggregate_region_groups, load_region_groups

        groups = load_region_groups(region_groups) if isinstance(region_groups, Path) else list(region_groups)
        custom = aggregate_region_groups(recoded, groups, "region groups")
        recoded = pl.concat([recoded, custom], how="diagonal_relaxed")

    clusters, concordance = mirror_concordance(settings, weight_year)
    totals = apportion(recoded.lazy(), concordance, clusters.select("cluster_code", "cluster_name", "traded")).collect()
    report = concordance_report(recoded.lazy().filter(~pl.col("extra_regio") & (pl.col("region_type") != "custom")), concordance)
    return {
        "eu_industry_employment": recoded,
        "nace_cluster_concordance": concordance,
        "nace_concordance_report": report,
        "eu_cluster_totals": totals,
        "nuts_crosswalk": cw,
    }


EU_DEFAULT_PARAMS: dict[str, Any] = {
    # European reference: countries in scope (None = all present) and, when fixed_reference,
    # only those present in every year, so stars and growth compare over time.
    "scope": None,
    "fixed_reference": False,
    # Children of one parent with several NUTS versions whose employment exceeds the parent's by
    # more than this share overlap: the older versions are not ranked.
    "overlap_tolerance": 0.01,
    # European Cluster Observatory (2011): size and focus = top 10 %, specialisation LQ >= 2 on
    # total regional employment.
    "eco2011_top_share": 0.10,
    "eco2011_lq": 2.0,
    # European Observatory for Clusters and Industrial Change (Panorama): size top 10 %,
    # specialisation LQ >= 2 (total employment), productivity = wage per person employed at least
    # 10 % above the cluster's European level (our default: the Panorama reports describe the
    # dimension; set the cut-off to the edition you reproduce).
    "panorama_top_share": 0.10,
    "panorama_lq": 2.0,
    "panorama_productivity_ratio": 1.10,
    # the US strong-cluster rule (pipelines.warehouse.indicators.DEFAULT_PARAMS), on the traded-base LQ
    "strong_lq_pct": 0.75,
    "size_pct": 0.25,
    "min_lq": 1.0,
}


def eu_indicators(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None, table: str = "eu_cluster_indicators") -> pl.DataFrame:
    """Run sql/eu/cluster_indicators.sql on table ``eu_cluster_totals``; creates ``table`` and
    returns it as a Polars frame."""
    sql = (SQL_DIR / "eu" / "cluster_indicators.sql").read_text()
    p = {**EU_DEFAULT_PARAMS, **(params or {})}
    unknown = sorted(set(p) - set(EU_DEFAULT_PARAMS))
    if unknown:
        raise KeyError(f"unknown EU indicator parameters {unknown}; known: {sorted(EU_DEFAULT_PARAMS)}")
    if p["scope"] is not None:
        p["scope"] = [str(c) for c in p["scope"]]
    if not table.isidentifier():
        raise ValueError(f"bad table name {table!r}")
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {sql}", p)
    return pl.from_arrow(con.sql(f"SELECT * FROM {table}").to_arrow_table())  # type: ignore[return-value]
