"""The release gate: which suites run on which staged and warehouse tables (with their runtime
parameters: code lists, the previous release's totals), and `release_validation`, which raises
ValidationError so nothing is published when an error-level expectation fails."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.layout import (
    cbp_staged_path,
    read_latest,
    reference_dir,
    report_dir,
)
from pipelines.raw.archive import sha256_file
from pipelines.sources import cbp, eurostat
from pipelines.staging.eu import eu_code_lists
from pipelines.staging.eu_sbs import DEFAULT_DATASETS, eurostat_available
from pipelines.staging.harmonise import cbp_naics_vintage
from pipelines.staging.quarantine import us_naics_codes
from pipelines.validation.engines import validate_frame, validate_parquet, validate_table
from pipelines.validation.report import write_report
from pipelines.validation.results import SuiteResult, cached, fingerprint, table_fingerprint
from pipelines.validation.suites import load_suite
from pipelines.warehouse.database import connect
from pipelines.warehouse.indicators import DEFAULT_PARAMS


class ValidationError(RuntimeError):
    """Raised when error-level expectations fail where data must not go on (e.g. publishing)."""

    def __init__(self, results: Sequence[SuiteResult]):
        self.results = list(results)
        failed = [f"{r.suite}/{o.id} ({r.scope or 'all'}): {o.failing_count} failing" for r in results for o in r.blocking_failures]
        super().__init__("validation failed (error-level expectations):\n  " + "\n  ".join(failed[:30]))


US_WAREHOUSE_SUITES = {
    "harmonised": "industry_employment",
    "cluster_mapping": "industry_employment",
    "cluster_indicators": "cluster_indicators",
    "region_indicators": "region_indicators",
    "cluster_timeseries": "cluster_timeseries",  # issue 19: the constant-definition series
}
US_REFERENCE_SUITES = {
    "reference_clusters": "clusters",
    "reference_cluster_naics": "cluster_naics",
    "reference_regions": "regions",
}


def cbp_year_params(settings, years: Iterable[int], geo: str = "state") -> dict[str, Any]:
    """Per-year code lists of the cbp_parsed suite: those of the NAICS vintage detected in the
    staged file (its sidecar), else the year rule's."""
    codes = us_naics_codes(settings)
    params: dict[str, Any] = {}
    for y in years:
        sidecar = cbp_staged_path(settings, y, geo).with_suffix(".json")
        detected = json.loads(sidecar.read_text()).get("naics_vintage") if sidecar.exists() else None
        v = detected or cbp_naics_vintage(y)
        params[f"classifications@{y}"] = [f"NAICS{v}"]
        if v in codes:
            params[f"naics_codes@{y}"] = codes[v]
    return params


def validate_cbp_year(settings, year: int, geo: str = "state", *, use_cache: bool = True) -> SuiteResult:
    """cbp_parsed on one staged CBP year (cached on the staged file and the suite)."""
    path = cbp_staged_path(settings, year, geo)
    if not path.exists():
        raise FileNotFoundError(f"CBP {year} not staged ({path})")
    suite = load_suite("cbp_parsed")
    params = cbp_year_params(settings, [year], geo)
    fp = fingerprint(suite, sha256_file(path), params)

    def run() -> SuiteResult:
        res = validate_parquet("cbp_parsed", path, params=params, by="year", scope=f"{geo} {year}")
        res.table = f"cbp_{geo}"
        return res

    return cached(settings.warehouse, suite.name, f"cbp_{geo}", f"{geo} {year}", fp if use_cache else "", run)


def validate_reference(settings, *, use_cache: bool = True) -> list[SuiteResult]:
    ref = reference_dir(settings)
    clusters = ref / "clusters.parquet"
    params = {"cluster_codes": set(pl.read_parquet(clusters)["cluster_code"].to_list())} if clusters.exists() else {}
    out = []
    for suite_name, table in US_REFERENCE_SUITES.items():
        path = ref / f"{table}.parquet"
        if not path.exists():
            continue
        suite = load_suite(suite_name)
        fp = fingerprint(suite, sha256_file(path), params)
        out.append(
            cached(
                settings.warehouse, suite_name, table, "", fp if use_cache else "",
                lambda s=suite_name, p=path: validate_frame(s, pl.read_parquet(p), params=params),
            )
        )
    return out


def validate_warehouse_table(
    settings,
    con: duckdb.DuckDBPyConnection,
    suite_name: str,
    table: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    use_cache: bool = True,
) -> SuiteResult:
    """A suite on a DuckDB table (cached on the table contents, the suite and the parameters).

    `cluster_codes` is filled from the clusters table when present; pass other runtime
    parameters (e.g. `nuts_codes`, `nace_codes` for the EU suites) in `params`."""
    table = table or US_WAREHOUSE_SUITES.get(suite_name) or load_suite(suite_name).table
    params = dict(params or {})
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "clusters" in tables and "cluster_codes" not in params:
        params["cluster_codes"] = {r[0] for r in con.execute("SELECT cluster_code FROM clusters").fetchall()}
    if "cluster_naics" in tables:  # the cluster_mapping gate reads it: a new definition re-validates
        params.setdefault("cluster_naics_fingerprint", table_fingerprint(con, "cluster_naics"))
    for name in SUITE_READS.get(suite_name, ()):  # tables its SQL checks read besides its own
        if name in tables:
            params.setdefault(f"{name}_fingerprint", table_fingerprint(con, name))
    suite = load_suite(suite_name)
    fp = fingerprint(suite, table_fingerprint(con, table), params)
    return cached(
        settings.warehouse, suite_name, table, "", fp if use_cache else "",
        lambda: validate_table(con, suite_name, table, params=params),
    )  # fmt: skip


CBP_REGION_TYPES = {"state": "state", "county": "county", "msa": "msa", "us": "country"}


def completeness_params(settings) -> dict[str, Any]:
    """Runtime parameters of the `completeness` suite: the requested CBP year × geography pairs
    (with their source ids) and, per pair requested again, the previous release's row count and
    employment (from the release's own industry_employment.parquet), plus the shrink threshold."""
    pairs = [(y, CBP_REGION_TYPES[g], cbp.source_id(y, g)) for g in settings.cbp_geos for y in settings.cbp_years]
    params: dict[str, Any] = {
        "expected_year": [p[0] for p in pairs],
        "expected_region_type": [p[1] for p in pairs],
        "expected_source": [p[2] for p in pairs],
        "max_shrink": float(settings.max_shrink),
        "previous_release": "",
        "prev_year": [], "prev_region_type": [], "prev_rows": [], "prev_emp": [],
    }  # fmt: skip
    wanted = pl.DataFrame({"year": params["expected_year"], "region_type": params["expected_region_type"]},
                          schema={"year": pl.Int32, "region_type": pl.String})  # fmt: skip
    params.update(_previous_totals(settings, "industry_employment", wanted))
    return params


def _previous_totals(settings, table: str, wanted: pl.DataFrame | None = None) -> dict[str, Any]:
    """count(*) and sum(emp) per year × region_type of `table` in the latest release, as the
    parallel-list parameters of sql/checks/shrink_vs_previous.sql (only `wanted` pairs if given)."""
    empty: dict[str, Any] = {"previous_release": "", "prev_year": [], "prev_region_type": [], "prev_rows": [], "prev_emp": []}
    latest = read_latest(settings.releases_dir)
    path = settings.releases_dir / str((latest or {}).get("version", "")) / "data" / f"{table}.parquet"
    if not latest or not path.is_file():
        return empty
    prev = (
        pl.scan_parquet(path)
        .filter(pl.col("region_type") != "custom")  # user-defined regions may change freely
        .group_by("year", "region_type")
        # summed exactly (each term to 1e-6, as DECIMAL): a float sum depends on the order the
        # parallel group-by adds in, and these totals are in the suite's cache key (an unchanged
        # run must find its stored results)
        .agg(pl.len().alias("rows"), pl.col("emp").cast(pl.Decimal(38, 6)).sum().cast(pl.Float64).alias("emp"))
    )
    if wanted is not None:
        prev = prev.join(wanted.lazy(), on=["year", "region_type"], how="semi")
    df = prev.sort("year", "region_type").collect()
    return {
        "previous_release": str(latest["version"]),
        "prev_year": df["year"].to_list(),
        "prev_region_type": df["region_type"].to_list(),
        "prev_rows": df["rows"].to_list(),
        "prev_emp": df["emp"].to_list(),
    }


def eu_completeness_params(settings) -> dict[str, Any]:
    """Runtime parameters of the `eu_completeness` suite: the Eurostat datasets the refresh
    fetches (those an offline mirror holds) and the previous release's totals per year × level."""
    return {
        "expected_source": [eurostat.source_id(ds) for ds in DEFAULT_DATASETS if eurostat_available(settings, ds)],
        "max_shrink": float(settings.max_shrink),
        **_previous_totals(settings, "eu_industry_employment"),
    }


def validate_completeness(settings, con: duckdb.DuckDBPyConnection, *, use_cache: bool = True) -> SuiteResult:
    """The `completeness` suite on industry_employment: requested years present, none shrunk."""
    return validate_warehouse_table(
        settings, con, "completeness", "industry_employment", params=completeness_params(settings), use_cache=use_cache
    )


# Suites whose SQL checks read other tables than their own: a change there re-validates (the
# stored results are keyed on the suite's table, the suite and the parameters).
SUITE_READS = {
    "eu_families": (
        "eu_diversification", "eu_cluster_links", "eu_relatedness_density", "eu_cluster_relatedness",
        "eu_shift_share", "eu_emerging_clusters",
    ),
}
EU_WAREHOUSE_SUITES = {
    "eurostat_parsed": "eu_industry_employment",
    "eu_indicators": "eu_cluster_indicators",
    # the EU family tables are built with eu_cluster_indicators (same asset): checked against it
    "eu_families": "eu_cluster_indicators",
}


def validate_eu(settings, con: duckdb.DuckDBPyConnection) -> list[SuiteResult]:
    """The EU suites on the warehouse EU tables, with the staged NUTS/NACE code lists."""
    params = eu_code_lists(settings)
    out = [validate_warehouse_table(settings, con, s, t, params=params) for s, t in EU_WAREHOUSE_SUITES.items()]
    out.append(
        validate_warehouse_table(settings, con, "eu_completeness", "eu_industry_employment", params=eu_completeness_params(settings))
    )
    return out


def validate_us(settings, con: duckdb.DuckDBPyConnection | None = None) -> list[SuiteResult]:
    """Every US suite on the current staging and warehouse (stored results reused when the data
    and suites are unchanged)."""
    results = validate_reference(settings)
    for geo in settings.cbp_geos:
        for y in settings.cbp_years:
            results.append(validate_cbp_year(settings, y, geo))
    params = us_warehouse_params()
    if con is None:
        with connect(settings, read_only=True) as c:
            results += [validate_warehouse_table(settings, c, s, params=params) for s in US_WAREHOUSE_SUITES]
            results.append(validate_completeness(settings, c))
    else:
        results += [validate_warehouse_table(settings, con, s, params=params) for s in US_WAREHOUSE_SUITES]
        results.append(validate_completeness(settings, con))
    return results


def us_warehouse_params() -> dict[str, Any]:
    """Runtime parameters of the US warehouse suites: the release parameters they gate on
    (pipelines.warehouse.indicators.DEFAULT_PARAMS, recorded in every release)."""
    return {"max_unmapped_share": DEFAULT_PARAMS["max_unmapped_share"]}


@dataclass
class ReleaseValidation:
    files: dict[str, Path]  # relative path in the release → file
    metadata: dict[str, Any]  # the datapackage `validation` entry
    results: list[SuiteResult]


def release_validation(settings, con: duckdb.DuckDBPyConnection | None = None) -> ReleaseValidation:
    """Validate everything a US release carries and write the report; raises ValidationError
    (so nothing is published) when an error-level expectation failed."""
    results = validate_us(settings, con)
    if getattr(settings, "eurostat", False):
        if con is None:
            with connect(settings, read_only=True) as c:
                results += validate_eu(settings, c)
        else:
            results += validate_eu(settings, con)
    dest = report_dir(settings.warehouse)
    files = write_report(results, dest, "Cluster Observatory validation report")
    if not all(r.success for r in results):
        raise ValidationError(results)
    meta = {
        "results": "validation/results.json",
        "report": "validation/report.md",
        "report_html": "validation/report.html",
        "success": True,
        "suite_runs": len(results),
        "expectations": sum(len(r.outcomes) for r in results),
        "failed_warnings": sum(len(r.warnings) for r in results),
        "quarantine_table": "cbp_quarantine",
        "note": "Every expectation run on the released data (assets/expectations/, sql/checks/); "
        "error-level failures block publishing, warnings are listed in the report.",
    }
    return ReleaseValidation({f"validation/{name}": path for name, path in files.items()}, meta, results)

