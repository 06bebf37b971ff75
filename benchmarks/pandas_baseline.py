"""The baseline: the same harmonise + cluster indicator rules, written plainly in pandas.

This is how a peer would write it without thinking about performance: read each CBP zip with
``pd.read_csv`` (every column as text), harmonise the whole file, keep the 6-digit rows, join the
cluster definitions, sum per year × region × cluster, then compute the indicators with
groupby/merge. It shares no code with the pipeline apart from the reference tables it is given
(``clusters`` and ``cluster_naics``, the parsed cluster definitions), so agreement between the two
is a real check of the rules (tests/integration/test_bench_agreement.py).

Rules (see the project brief and sql/*.sql): emp = reported EMP, else the EMPFLAG midpoint;
emp_reported and payroll skip withheld cells; every region present in a year gets every cluster
(true zeros); LQ against the region's traded (or local) employment and the national total, the
national total being the sum of the regions when there are no national rows; strong/strong10
from linear-interpolation percentiles among regions with emp > 0; CAGR and job creation from the
first year each region × cluster appears.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

MIDPOINTS = {
    "A": 10, "B": 60, "C": 175, "E": 375, "F": 750, "G": 1750, "H": 3750,
    "I": 7500, "J": 17500, "K": 37500, "L": 75000, "M": 100000,
}  # fmt: skip
MARKERS = ["N", "D", "S", "X"]
WITHHELD_FLAGS = ["D", "S", "N"]
STRONG_PCT, STRONG10_PCT, SIZE_PCT, MIN_LQ = 0.75, 0.90, 0.25, 1.0
# growth only from sound bases (issue 19): region-year coverage, smallest base in persons
MIN_COVERAGE, MIN_GROWTH_BASE = 0.95, 50.0
KEY = ["year", "region_type", "region_code", "cluster_code"]


def definition_vintage(year: int) -> str:
    """Definitions of a generated file: those of the NAICS vintage its codes are in (CBP's year
    rule; 2022 and 2023 are still NAICS 2017)."""
    if year < 2003:
        return "1997"
    if year < 2008:
        return "2002"
    if year < 2012:
        return "2007"
    if year < 2017:
        return "2012"
    if year < 2024:
        return "2017"
    return "2022"


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=object)
    s = df[col].astype(str).str.strip()
    return s.where((s != "") & df[col].notna())


def _number(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index)
    s = _text(df, col).str.replace(",", "", regex=False)
    s = s.where(~s.isin(MARKERS))
    return pd.to_numeric(s)


def harmonise_file(path: Path, year: int) -> pd.DataFrame:
    """One CBP zip → harmonised rows (region, industry, emp, emp_reported, est, payroll)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.columns = [c.strip().lower() for c in df.columns]
    if "fipscty" in df.columns:
        region_type = "county"
        region = df["fipstate"].str.strip().str.zfill(2) + df["fipscty"].str.strip().str.zfill(3)
    else:
        region_type = "state"
        region = df["fipstate"].str.strip().str.zfill(2)
    naics = df["naics"].str.strip().str.replace(r"[-/]", "", regex=True)
    empflag = _text(df, "empflag")
    emp_nf = _text(df, "emp_nf")
    ap_nf = _text(df, "ap_nf")
    emp_raw = _text(df, "emp")
    ap_raw = _text(df, "ap")
    letter = empflag.isin(list(MIDPOINTS))
    emp_marker = emp_raw.isin(MARKERS) | empflag.isin(MARKERS)
    withheld = letter | emp_marker | emp_nf.isin(WITHHELD_FLAGS)
    emp_reported = _number(df, "emp").where(~withheld)
    midpoint = empflag.map(MIDPOINTS)
    payroll_withheld = letter | ap_raw.isin(MARKERS) | ap_nf.isin(WITHHELD_FLAGS)
    lfo = _text(df, "lfo").fillna("-") if "lfo" in df.columns else "-"
    out = pd.DataFrame(
        {
            "year": year,
            "region_type": region_type,
            "region_code": region,
            "industry_code": naics.where(naics != "", "TOTAL"),
            "industry_level": naics.str.len(),
            "lfo": lfo,
            "emp": emp_reported.fillna(midpoint).astype(float),
            "emp_reported": emp_reported,
            "est": _number(df, "est"),
            "payroll": _number(df, "ap").where(~payroll_withheld),
        }
    )
    return out


def cluster_totals_for_year(
    harmonised: pd.DataFrame, cluster_naics: pd.DataFrame, year: int
) -> pd.DataFrame:
    six = harmonised[(harmonised["industry_level"] == 6) & (harmonised["lfo"] == "-")]
    defs = cluster_naics[cluster_naics["naics_vintage"] == definition_vintage(year)]
    m = six.merge(defs, left_on="industry_code", right_on="naics", how="inner")
    for col in ("emp", "emp_reported", "est", "payroll"):
        m[col] = m[col] * m["weight"]
    sums = m.groupby(KEY, as_index=False).agg(
        emp=("emp", "sum"),
        emp_reported=("emp_reported", lambda s: s.sum(min_count=1)),
        est=("est", "sum"),
        payroll=("payroll", lambda s: s.sum(min_count=1)),
    )
    # apportioned sums are rounded to 1e-6, as in sql/us/cluster_totals.sql
    for col in ("emp", "emp_reported", "est", "payroll"):
        sums[col] = sums[col].round(6)
    # every region in the year × every cluster; a cluster absent from a region is a true zero
    regions = six[["year", "region_type", "region_code"]].drop_duplicates()
    clusters = pd.DataFrame({"cluster_code": sorted(cluster_naics["cluster_code"].unique())})
    frame = regions.merge(clusters, how="cross")
    out = frame.merge(sums, on=KEY, how="left", indicator=True)
    missing = out["_merge"] == "left_only"
    for col in ("emp", "emp_reported", "est", "payroll"):
        out.loc[missing, col] = 0.0
    # coverage: the region-year's 6-digit employment over its file total row (NaN without one)
    region = ["year", "region_type", "region_code"]
    total = harmonised[(harmonised["industry_code"] == "TOTAL") & (harmonised["lfo"] == "-")]
    cov = six.groupby(region, as_index=False)["emp"].sum().merge(
        total[[*region, "emp"]].rename(columns={"emp": "total"}), on=region, how="left"
    )
    cov["coverage"] = _div(cov["emp"], cov["total"])
    out = out.merge(cov[[*region, "coverage"]], on=region, how="left")
    return out.drop(columns="_merge")


def cluster_totals(files: Iterable[tuple[int, Path]], cluster_naics: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for year, path in files:
        harmonised = harmonise_file(path, year)
        parts.append(cluster_totals_for_year(harmonised, cluster_naics, year))
        del harmonised
    return pd.concat(parts, ignore_index=True)


def _div(a: pd.Series, b: pd.Series) -> pd.Series:
    """a / b with NULL for b = 0 (SQL nullif semantics)."""
    return a / b.where(b != 0)


def cluster_indicators(totals: pd.DataFrame, clusters: pd.DataFrame) -> pd.DataFrame:
    t = totals.merge(clusters[["cluster_code", "traded"]], on="cluster_code", how="inner")
    region_base = (
        t.groupby(["year", "region_type", "region_code", "traded"], as_index=False)["emp"]
        .sum()
        .rename(columns={"emp": "region_base_emp"})
    )
    national = (
        t.groupby(["year", "region_type", "cluster_code"], as_index=False)["emp"]
        .sum()
        .rename(columns={"emp": "national_cluster_emp"})
    )
    national = national.merge(clusters[["cluster_code", "traded"]], on="cluster_code")
    national_base = (
        national.groupby(["year", "region_type", "traded"], as_index=False)["national_cluster_emp"]
        .sum()
        .rename(columns={"national_cluster_emp": "national_base_emp"})
    )
    df = t.merge(region_base, on=["year", "region_type", "region_code", "traded"])
    df = df.merge(
        national[["year", "region_type", "cluster_code", "national_cluster_emp"]],
        on=["year", "region_type", "cluster_code"],
        how="left",
    )
    df = df.merge(national_base, on=["year", "region_type", "traded"], how="left")
    df["region_emp_share"] = _div(df["emp"], df["region_base_emp"])
    df["cluster_emp_share"] = _div(df["emp"], df["national_cluster_emp"])
    df["lq"] = _div(
        df["region_emp_share"], _div(df["national_cluster_emp"], df["national_base_emp"])
    )
    df["wage"] = _div(df["payroll"] * 1000.0, df["emp_reported"])

    # a CBP statewide code (county XX999) is not a place: in the sums above, never ranked or strong
    # (the pipeline's macro cbp_statewide); a column, so it follows the rows through the merges
    df["statewide"] = (df["region_type"] == "county") & df["region_code"].str.fullmatch(r"[0-9]{2}999")
    # strong clusters: percentiles per year × region type × cluster among traded, emp > 0
    eligible = df[df["traded"] & (df["emp"] > 0) & ~df["statewide"]]
    grp = eligible.groupby(["year", "region_type", "cluster_code"])
    pct = pd.DataFrame(
        {
            "lq_p_strong": grp["lq"].quantile(STRONG_PCT),
            "lq_p_strong10": grp["lq"].quantile(STRONG10_PCT),
            "emp_p": grp["emp"].quantile(SIZE_PCT),
            "est_p": grp["est"].quantile(SIZE_PCT),
        }
    ).reset_index()
    df = df.merge(pct, on=["year", "region_type", "cluster_code"], how="left")
    qualifies = (
        (df["emp"] > 0)
        & (df["emp"] > df["emp_p"])
        & (df["est"] > df["est_p"])
        & (df["lq"] >= MIN_LQ)
    )
    df["strong"] = (qualifies & (df["lq"] >= df["lq_p_strong"])).astype(object)
    df["strong10"] = (qualifies & (df["lq"] >= df["lq_p_strong10"])).astype(object)
    df.loc[~df["traded"] | df["statewide"], ["strong", "strong10"]] = None

    # growth from the first SOUND year of each region × cluster: coverage ≥ MIN_COVERAGE, emp ≥
    # MIN_GROWTH_BASE and some reported employment behind it; no rate ends in a partial year
    partial = df["coverage"] < MIN_COVERAGE if "coverage" in df.columns else pd.Series(False, index=df.index)
    imputed = (df["emp"] > 0) & (df["emp_reported"].fillna(0) == 0)
    sound = df["emp"].notna() & ~partial & (df["emp"] >= MIN_GROWTH_BASE) & ~imputed
    first = df[sound].sort_values("year")
    first = first.groupby(["region_type", "region_code", "cluster_code"], as_index=False).first()
    first = first[["region_type", "region_code", "cluster_code", "year", "emp"]]
    first = first.rename(columns={"year": "base_year", "emp": "base_emp"})
    df = df.merge(first, on=["region_type", "region_code", "cluster_code"], how="left")
    later = (df["year"] > df["base_year"]) & ~partial
    df["job_creation"] = (df["emp"] - df["base_emp"]).where(later)
    ok = later & (df["base_emp"] > 0) & (df["emp"] >= 0)
    years = (df["year"] - df["base_year"]).where(ok)
    df["cagr"] = ((df["emp"] / df["base_emp"].where(ok)) ** (1.0 / years) - 1).where(ok)

    grp = df[~df["statewide"]].groupby(["year", "region_type", "cluster_code"])
    df["emp_rank"] = grp["emp"].rank(method="min", ascending=False, na_option="bottom")
    df["lq_rank"] = grp["lq"].rank(method="min", ascending=False, na_option="bottom")
    df["cluster_type"] = np.where(df["traded"], "traded", "local")
    cols = [
        "year", "region_type", "region_code", "cluster_code", "cluster_type", "emp",
        "emp_reported", "est", "payroll", "wage", "lq", "region_emp_share", "cluster_emp_share",
        "strong", "strong10", "base_year", "base_emp", "job_creation", "cagr", "emp_rank",
        "lq_rank", "region_base_emp", "national_cluster_emp", "national_base_emp",
    ]  # fmt: skip
    return (
        df[cols]
        .sort_values(["region_type", "region_code", "cluster_code", "year"])
        .reset_index(drop=True)
    )


def region_indicators(ci: pd.DataFrame) -> pd.DataFrame:
    key = ["year", "region_type", "region_code"]
    df = ci[key].copy()
    traded = ci["cluster_type"] == "traded"
    strong = ci["strong"].fillna(False).astype(bool)
    df["traded_emp"] = ci["emp"].where(traded)
    df["local_emp"] = ci["emp"].where(~traded)
    df["cluster_emp"] = ci["emp"]
    df["traded_payroll"] = ci["payroll"].where(traded)
    df["local_payroll"] = ci["payroll"].where(~traded)
    df["traded_rep"] = ci["emp_reported"].where(traded)
    df["local_rep"] = ci["emp_reported"].where(~traded)
    df["n_strong_clusters"] = strong.astype(int)
    df["strong_cluster_emp"] = ci["emp"].where(strong, 0.0)
    out = df.groupby(key, as_index=False).agg(
        traded_emp=("traded_emp", lambda s: s.sum(min_count=1)),
        local_emp=("local_emp", lambda s: s.sum(min_count=1)),
        cluster_emp=("cluster_emp", "sum"),
        traded_payroll=("traded_payroll", lambda s: s.sum(min_count=1)),
        local_payroll=("local_payroll", lambda s: s.sum(min_count=1)),
        traded_rep=("traded_rep", lambda s: s.sum(min_count=1)),
        local_rep=("local_rep", lambda s: s.sum(min_count=1)),
        n_strong_clusters=("n_strong_clusters", "sum"),
        strong_cluster_emp=("strong_cluster_emp", "sum"),
    )
    out["traded_share"] = _div(out["traded_emp"], out["cluster_emp"])
    out["traded_wage"] = _div(out["traded_payroll"] * 1000.0, out["traded_rep"])
    out["local_wage"] = _div(out["local_payroll"] * 1000.0, out["local_rep"])
    out["cluster_strength"] = _div(out["strong_cluster_emp"], out["traded_emp"])
    return out.drop(columns=["traded_payroll", "local_payroll", "traded_rep", "local_rep"])


def run(
    files: Iterable[tuple[int, Path]], clusters: pd.DataFrame, cluster_naics: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """CBP zips (year, path) + reference tables → cluster_totals, cluster_indicators, region_indicators."""
    cluster_naics = cluster_naics.astype({"naics_vintage": str, "naics": str, "cluster_code": str})
    clusters = clusters.astype({"cluster_code": str}).assign(traded=clusters["traded"].astype(bool))
    totals = cluster_totals(files, cluster_naics)
    ci = cluster_indicators(totals, clusters)
    return {
        "cluster_totals": totals,
        "cluster_indicators": ci,
        "region_indicators": region_indicators(ci),
    }


# --- agreement check (used by benchmarks/run.py and tests/integration/test_bench_agreement.py) -------------

COMPARE_KEY = ["year", "region_type", "region_code", "cluster_code"]
RANKED = {"emp_rank": "emp", "lq_rank": "lq"}  # rank column -> the value it ranks


def compare_frames(pipeline, baseline, rtol: float = 1e-9, atol: float = 1e-9) -> list[str]:
    """Differences between two cluster_indicators tables (polars or pandas); [] when they agree.

    Every column the baseline computes is compared on the key year × region × cluster, on the
    region types the baseline computes: same key
    set, same nulls (NaN counts as null), numbers equal within rtol/atol, text and flags equal.
    """
    import polars as pl

    def norm(df) -> pl.DataFrame:
        out = df if isinstance(df, pl.DataFrame) else pl.from_pandas(df)
        casts = []
        for name, dtype in out.schema.items():
            if name in ("year",) or dtype.is_integer() or dtype.is_float():
                casts.append(pl.col(name).cast(pl.Float64).fill_nan(None))
            elif dtype == pl.Boolean:
                casts.append(pl.col(name))
            else:
                casts.append(pl.col(name).cast(pl.String))
        return out.select(casts)

    a, b = norm(pipeline), norm(baseline)
    # region types the pipeline derives beyond the baseline's (economic areas summed from the
    # counties, issue 21) are not the baseline's to check: compare the types it computes
    a = a.filter(pl.col("region_type").is_in(b["region_type"].unique().implode()))
    problems = []
    cols = [c for c in b.columns if c in a.columns and c not in COMPARE_KEY]
    missing = [c for c in b.columns if c not in a.columns]
    if missing:
        problems.append(f"columns missing from the pipeline output: {missing}")
    if a.height != b.height:
        problems.append(f"row counts differ: pipeline {a.height:,}, baseline {b.height:,}")
    j = a.select(COMPARE_KEY + cols).join(
        b.select(COMPARE_KEY + cols), on=COMPARE_KEY, how="full", suffix="_b", coalesce=True
    )
    group = ["year", "region_type", "cluster_code"]
    for c in cols:
        x, y = pl.col(c), pl.col(f"{c}_b")
        if a.schema[c] == pl.Float64 and b.schema[c] == pl.Float64:
            close = (x - y).abs() <= (atol + rtol * pl.max_horizontal(x.abs(), y.abs()))
        else:
            close = x == y
        if c in RANKED and RANKED[c] in cols:
            # Values that are equal in exact arithmetic (e.g. sums of 1/3 weights) can differ in the
            # last bit depending on summation order, and then rank() breaks the tie either way.
            # A rank may differ by less than the size of its group of near-equal values.
            v = pl.col(f"{RANKED[c]}_b")
            near = v.round_sig_figs(10)
            ties = pl.len().over(*group, near)
            close = close | ((x - y).abs() < ties)
        bad = j.filter(~((x.is_null() & y.is_null()) | (x.is_not_null() & y.is_not_null() & close)))
        if bad.height:
            ex = bad.select(*COMPARE_KEY, c, f"{c}_b").head(3).rows()
            problems.append(f"{c}: {bad.height:,} rows differ, e.g. {ex}")
    return problems


def compare_files(pipeline_parquet: Path, baseline_parquet: Path) -> list[str]:
    import polars as pl

    return compare_frames(pl.read_parquet(pipeline_parquet), pl.read_parquet(baseline_parquet))
