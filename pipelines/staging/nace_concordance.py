"""NACE → US benchmark cluster concordance (derived, not official; see assets/eu/README.md).

US cluster definitions (NAICS 2012, 6 digits) → Census NAICS 2012 → ISIC Rev.4 concordance
(many-to-many; a NAICS industry linked to k ISIC classes is split equally over them) → NACE Rev.2
classes (each class names one ISIC class; an ISIC class named by m NACE classes is split equally)
→ aggregated to NACE groups and divisions. The weight of a cluster in a NACE code is the share of
US national employment (CBP, all legal forms, emp incl. EMPFLAG midpoints) of the NAICS
industries behind that code that belong to the cluster.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import polars as pl

from pipelines.config import DecompressionLimits, Settings
from pipelines.errors import SourceError
from pipelines.fixed_point import exact_sum
from pipelines.raw.http import fetch
from pipelines.sources import cbp, clustermapping
from pipelines.sources import naics as naics_src
from pipelines.sources.bounds import inflate_problem
from pipelines.staging.cbp import parse_cbp_file

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
WEIGHT_YEAR = 2011  # CBP year for US employment weights (NAICS 2007 codes, carried to 2012)
# A NAICS→ISIC link whose note names a specific part of the NAICS industry (next to an "except …"
# link carrying the rest) gets this share of the industry's employment; parts together at most
# NOTE_PARTS_MAX. The notes say which products, not how much: 5 % is our documented assumption.
NOTE_PART_SHARE = 0.05
NOTE_PARTS_MAX = 0.5

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
    frames = [
        level_weights(nace_links(shares, nace, defs, emp, col), level)
        for level, col in ((2, "nace_division"), (3, "nace_group"), (4, "nace_class"))
    ]
    out = pl.concat(frames).filter(pl.col("weight") > 0)
    return out.cast(CONCORDANCE_SCHEMA).sort("nace_level", "nace_code", pl.col("cluster_code").cast(pl.Int32))  # type: ignore[arg-type]


def nace_links(
    shares: pl.DataFrame, nace: pl.DataFrame, defs: pl.DataFrame, emp: pl.DataFrame, col: str
) -> pl.DataFrame:
    """Links NAICS industry → ISIC class → NACE code of one level (``col``: nace_division,
    nace_group or nace_class), each with its share of the link (w_link), the US employment it
    carries (emp_link), the NAICS industry's cluster (null outside every cluster) and how it was
    split (_how)."""
    # ISIC class → NACE codes of this level: the share of the ISIC class's NACE classes in the code
    isic_code = nace.group_by("isic", pl.col(col).alias("nace_code")).agg(pl.len().alias("_n")).with_columns(
        (pl.col("_n") / pl.col("_n").sum().over("isic")).alias("w_nace"),
        (pl.len().over("isic") > 1).alias("_nace_split"),
    )
    return (
        shares.join(isic_code, on="isic", how="inner")
        .join(defs, on="naics", how="left")  # NAICS outside every cluster keep cluster null
        .join(emp, on="naics", how="left")
        .with_columns(
            (pl.col("w_isic") * pl.col("w_nace")).alias("w_link"),
            (pl.col("naics_emp").fill_null(0.0) * pl.col("w_isic") * pl.col("w_nace")).alias("emp_link"),
            pl.when(pl.col("_nace_split")).then(pl.lit("equal split")).otherwise(pl.col("link_method")).alias("_how"),
        )
    )


def level_weights(links: pl.DataFrame, level: int) -> pl.DataFrame:
    """The concordance rows of one NACE level from its :func:`nace_links`: per NACE code ×
    cluster the weight, US employment, provenance, method and equal-split share."""
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
    return per.select(
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


# --------------------------------------------------------------------------------------------
# from the reference files


def fetch_reference(settings: Settings, name: str):
    """The reference file REFERENCE_IDS[name] (NUTS and NACE/ISIC/NAICS classifications, cluster
    definitions) through pipelines.raw.http: from the mirror, else the packaged copy. A workbook
    (xlsx: a zip) is refused when a member passes the run's decompression limits."""
    rid = REFERENCE_IDS[name]
    check = partial(zip_within_limits, limits=settings.decompression_limits)
    return fetch(rid, None, settings, mirror_id=rid, validate=check)  # mirror, else packaged copy; keeps the file's name


def zip_within_limits(path: Path, limits: DecompressionLimits) -> None:
    """Raise ValueError when a member of a zip-based file (xlsx) declares a size beyond `limits`;
    other files pass. The declared sizes bound the readers (openpyxl reads through zipfile, which
    never inflates a member past its declared size). Real workbooks: at most 1.2 MB, 8.5x."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            return
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                what = f"zip member {info.filename} (declared size)"
                problem = inflate_problem(what, info.file_size, info.compress_size, limits)
                if problem:
                    raise ValueError(problem)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"corrupt or truncated zip: {exc}") from exc


def mirror_concordance(settings: Settings, weight_year: int = WEIGHT_YEAR) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(clusters, nace_cluster_concordance) from the reference files and the CBP state file of
    ``weight_year`` (US national employment weights), all fetched through pipelines.raw.http."""
    clusters, cluster_naics = clustermapping.parse_cluster_definitions(fetch_reference(settings, "cluster_definitions").path)
    defs12 = cluster_naics.filter(pl.col("naics_vintage") == "2012")
    isic_classes = parse_isic_classes(fetch_reference(settings, "isic_structure").path)
    naics_isic = parse_naics_isic(fetch_reference(settings, "naics_isic").path, isic_classes)
    nace_classes = parse_nace_structure(fetch_reference(settings, "nace_structure").path)
    conc_tab = naics_src.parse_concordance(fetch_reference(settings, "naics_concordance").path)
    naics_emp = cbp_weight_employment(settings, weight_year, conc_tab)
    return clusters, build_nace_cluster_concordance(defs12, naics_isic, nace_classes, naics_emp)


def cbp_weight_employment(settings: Settings, weight_year: int, naics_concordance: pl.DataFrame | None) -> pl.DataFrame:
    """US national employment per NAICS 2012 code (the concordance's weights) from the CBP state
    file of ``weight_year``, fetched through pipelines.raw.http. The zip is checked and inflated
    within the run's decompression limits (OBSERVATORY_MAX_UNCOMPRESSED / _COMPRESSION_RATIO)."""
    sid, url = cbp.source_id(weight_year, "state"), cbp.url(weight_year, "state")
    limits = settings.decompression_limits
    raw = fetch(sid, url, settings, validate=partial(cbp.validate_zip, limits=limits))
    settings.raw_dir.joinpath(".tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.raw_dir / ".tmp") as work:
        lf = parse_cbp_file(
            raw.path, year=weight_year, source_id=sid, sha256=raw.sha256, location=url, work_dir=Path(work), limits=limits
        )
        vintage = "2007" if weight_year < 2012 else "2012"
        return us_naics2012_employment(lf, naics_concordance, vintage)
