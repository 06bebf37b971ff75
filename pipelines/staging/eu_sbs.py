"""Europe: EU industry employment from the Eurostat regional SBS, apportioned to clusters.

Pipeline (:func:`build_eu`): Eurostat regional SBS (sbs_r_nuts06_r2, sbs_r_nuts2021) → long
industry table (harmonised, next to the US rows) → confidential cells filled from the parent
region → NUTS codes recoded to the target version → NACE rows apportioned to the 51 traded + 16
local US clusters → ``eu_cluster_totals`` (input of sql/eu/cluster_indicators.sql).

The NACE → cluster weights come from pipelines.staging.nace_concordance.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.fixed_point import exact_sum
from pipelines.layout import eurostat_work_dir
from pipelines.raw.eurostat_client import EurostatClient
from pipelines.raw.mirror import load_mirror
from pipelines.sources import eurostat
from pipelines.staging import nuts
from pipelines.staging.eurostat import harmonise_sbs, read_raw
from pipelines.staging.nace_concordance import WEIGHT_YEAR, fetch_reference, mirror_concordance
from pipelines.staging.region_groups import aggregate_region_groups, load_region_groups

log = logging.getLogger(__name__)

DEFAULT_DATASETS = ("sbs_r_nuts06_r2", "sbs_r_nuts2021")
# Years each dataset is used for (the successor takes over in 2021).
DATASET_YEARS = {"sbs_r_nuts06_r2": (2008, 2020), "sbs_r_nuts2021": (2021, 9999)}
GROUP_COVERAGE_TOLERANCE = 0.02
EXTRA_REGIO = r"^[A-Z]{2}Z+$"  # NUTS extra-regio territories (FRZ, FRZZ, FRZZZ)
MEASURES = (("emp", "empflag", "emp_imputed"), ("est", "est_flag", "est_imputed"), ("payroll", "payroll_flag", "payroll_imputed"))
PARENT_LEVELS = (("nuts0", "nuts1"), ("nuts1", "nuts2"), ("nuts2", "nuts3"))


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


def eurostat_available(settings: Settings, dataset: str) -> bool:
    """Whether a Eurostat dataset can be fetched: yes, unless offline with a mirror that lacks it."""
    if settings.mirror is None or not settings.offline:
        return True
    return load_mirror(str(settings.mirror)).lookup(url=eurostat.tsv_url(dataset), entry_id=eurostat.source_id(dataset)) is not None


def load_eu_industry(
    settings: Settings, datasets: Sequence[str] = DEFAULT_DATASETS, client: EurostatClient | None = None
) -> pl.LazyFrame:
    """Fetch and harmonise the regional SBS datasets (before filling and recoding)."""
    client = client or EurostatClient(settings)
    staging = eurostat_work_dir(settings)
    staging.mkdir(parents=True, exist_ok=True)
    frames = []
    for ds in datasets:
        if not eurostat_available(settings, ds):
            log.warning("%s: offline and not in the mirror; skipped", ds)
            continue
        raws = client.fetch_dataset(ds)
        parts = [
            harmonise_sbs(
                read_raw(raw, eurostat.source_id(ds), staging, settings.decompression_limits),
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

    nref = nuts.NutsReference.load(fetch_reference(settings, "sbs_nuts").path, fetch_reference(settings, "nuts2016").path, fetch_reference(settings, "nuts2021").path)
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
