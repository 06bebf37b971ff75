"""Blocking data-validation asset checks: thin wrappers around pipelines/validation/gate.py.

Every suite gives two checks on its asset: `<suite>_errors` (blocking: a failure stops the
downstream assets, so no release) and `<suite>_warnings` (reported, non-blocking). Each result
carries a markdown table of every expectation (observed value, failing count) and samples of the
failing rows. Results are also stored in <warehouse>/validation/, where the release step picks
them up for the validation report it publishes.
"""

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from pipelines.config import Settings
from pipelines.defs.resources import ObservatoryResource
from pipelines.release.integrity import heal_latest
from pipelines.staging.cbp import naics_vintage_evidence
from pipelines.staging.eu import eu_code_lists
from pipelines.staging.quarantine import quarantine_frame
from pipelines.validation.gate import (
    EU_WAREHOUSE_SUITES,
    US_REFERENCE_SUITES,
    US_WAREHOUSE_SUITES,
    completeness_params,
    eu_completeness_params,
    us_warehouse_params,
    validate_cbp_year,
    validate_reference,
    validate_warehouse_table,
)
from pipelines.validation.report import (
    format_cell,
    markdown_table,
    outcomes_markdown,
    write_run_report,
)
from pipelines.validation.results import Outcome, SuiteResult
from pipelines.validation.suites import load_suite
from pipelines.warehouse.database import connect

log = logging.getLogger(__name__)


def _metadata(results: Sequence[SuiteResult], severity: str) -> dict:
    outs: list[Outcome] = [o for r in results for o in r.outcomes if o.severity == severity]
    failed = [o for o in outs if o.failed]
    scopes = [r.scope for r in results if r.scope]
    meta: dict = {
        "suite": ", ".join(sorted({r.suite for r in results})),
        "expectations": len(outs),
        "failed_expectations": dg.MetadataValue.json(sorted({o.id for o in failed})),
        "failing_rows": sum(o.failing_count for o in failed),
        "summary": dg.MetadataValue.md(outcomes_markdown(outs, samples=False) if outs else "(none)"),
    }
    if scopes:
        meta["scopes"] = dg.MetadataValue.json(scopes)
    if failed:
        blocks = []
        for r in results:
            for o in r.outcomes:
                if o.failed and o.severity == severity:
                    head = f"### {o.id}{f' ({r.scope})' if r.scope else ''}\n\n{o.description}\n\n"
                    head += f"expectation: `{o.expectation}` — observed: `{format_cell(o.observed, 120)}` — failing: {o.failing_count}\n\n"
                    blocks.append(head + (markdown_table(o.sample) or o.message))
        meta["failing_samples"] = dg.MetadataValue.md("\n\n".join(blocks))
    return meta


def _results(
    asset_key: str, suite: str, results: Sequence[SuiteResult]
) -> Iterable[dg.AssetCheckResult]:
    """One blocking error result and one warning result for a suite's results."""
    errors = [o for r in results for o in r.blocking_failures]
    warnings = [o for r in results for o in r.warnings]
    yield dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=f"{suite}_errors",
        passed=not errors,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=_metadata(results, "error"),
    )
    yield dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=f"{suite}_warnings",
        passed=not warnings,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=_metadata(results, "warning"),
    )


def _report(context: dg.AssetCheckExecutionContext, settings: Settings, results: Sequence[SuiteResult]) -> None:
    """Add the results to this run's validation report, so a blocked run leaves its own report."""
    write_run_report(settings.warehouse, results, context.op_execution_context.run_id)


def _specs(asset_key: str, suite: str) -> list[dg.AssetCheckSpec]:
    s = load_suite(suite)
    return [
        dg.AssetCheckSpec(
            f"{suite}_errors", asset=asset_key, blocking=True,
            description=f"{s.title}: error-level expectations (blocking). assets/expectations/{suite}.yaml",
        ),
        dg.AssetCheckSpec(
            f"{suite}_warnings", asset=asset_key, blocking=False,
            description=f"{s.title}: warning-level expectations (reported only).",
        ),
    ]  # fmt: skip


# --- reference tables -----------------------------------------------------------------------


@dg.multi_asset_check(
    specs=[spec for suite, table in US_REFERENCE_SUITES.items() for spec in _specs(table, suite)],
    name="reference_checks",
    description="Expectation suites on the staged reference tables.",
)
def reference_checks(context: dg.AssetCheckExecutionContext, observatory: ObservatoryResource):
    settings = observatory.settings()
    by_table = {r.table: r for r in validate_reference(settings)}
    for suite, table in US_REFERENCE_SUITES.items():
        res = by_table.get(table)
        if res is None:
            missing = Outcome(
                "staged", "table staged", "error", f"{table} must be staged", "failed", failing_count=1,
                message=f"reference table {table} not staged",
            )  # fmt: skip
            res = SuiteResult(suite, table, "", [missing])
        by_table[table] = res
    _report(context, settings, list(by_table.values()))
    for suite, table in US_REFERENCE_SUITES.items():
        yield from _results(table, suite, [by_table[table]])


# --- CBP, one staged year at a time ---------------------------------------------------------


def _cbp_years(context: dg.AssetCheckExecutionContext, settings) -> list[int]:
    op_ctx = context.op_execution_context
    try:
        if op_ctx.has_partition_key_range or op_ctx.has_partition_key:
            return sorted(int(k) for k in op_ctx.partition_keys)
    except (dg.DagsterInvariantViolationError, AttributeError, ValueError):
        pass
    return list(settings.cbp_years)


CBP_GEOS = ("state", "county", "msa", "us")


def _cbp_checks(geo: str) -> dg.AssetChecksDefinition:
    asset = f"cbp_{geo}"

    @dg.multi_asset_check(
        specs=[
            *_specs(asset, "cbp_parsed"),
            dg.AssetCheckSpec(
                "cbp_quarantine", asset=asset, blocking=False,
                description="Rows set aside during harmonisation (negative counts, NAICS codes unknown in the vintage).",
            ),
            dg.AssetCheckSpec(
                "cbp_naics_vintage", asset=asset, blocking=False,
                description="NAICS vintage detected in each file's codes; warns where it is not the year rule's.",
            ),
        ],
        name=f"{asset}_checks",
        description=f"cbp_parsed suite on each staged CBP {geo} year, and the quarantine report.",
    )
    def _checks(context: dg.AssetCheckExecutionContext, observatory: ObservatoryResource):
        settings = observatory.settings()
        years = _cbp_years(context, settings)
        results = []
        for y in years:
            r = validate_cbp_year(settings, y, geo)
            context.log.debug(f"cbp_parsed {geo} {y}: {len(r.blocking_failures)} errors, {len(r.warnings)} warnings")
            results.append(r)
        _report(context, settings, results)
        yield from _results(asset, "cbp_parsed", results)

        q = quarantine_frame(settings, years, [geo])
        by_reason = q.group_by("year", "reason").len().sort("year", "reason") if q.height else q
        yield dg.AssetCheckResult(
            asset_key=asset,
            check_name="cbp_quarantine",
            passed=q.height == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "quarantined_rows": q.height,
                "by_reason": dg.MetadataValue.md(markdown_table(by_reason.to_dicts(), 50) or "(none)"),
                "sample": dg.MetadataValue.md(
                    markdown_table(q.drop("record").head(10).to_dicts()) or "(none)"
                ),
            },
        )
        yield _vintage_check(asset, settings, years, geo)

    return _checks


def _vintage_check(asset: str, settings: Settings, years: list[int], geo: str) -> dg.AssetCheckResult:
    """Per staged year: the NAICS vintage its codes say, the year rule's, and the shares behind it
    (from the staging sidecar). Fails (warning) where the two disagree: the file is mapped by its
    codes, but a reader should know."""
    rows = naics_vintage_evidence(settings, years, geo)
    disagree = [r for r in rows if r["naics_vintage"] != r["year_rule"]]
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name="cbp_naics_vintage",
        passed=not disagree,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "disagreeing_years": dg.MetadataValue.json([r["year"] for r in disagree]),
            "vintages": dg.MetadataValue.md(markdown_table(rows, 50) or "(none staged)"),
        },
    )


CBP_CHECKS_BY_GEO = {geo: _cbp_checks(geo) for geo in CBP_GEOS}


# --- warehouse tables -----------------------------------------------------------------------


def table_suite_checks(
    name: str,
    suites: Mapping[str, str],
    params: Callable[[Settings], Mapping[str, Any]] | None = None,
    description: str = "",
) -> dg.AssetChecksDefinition:
    """Blocking/warning checks running suites on DuckDB warehouse tables, asset key = table name.

    suites: {suite name in assets/expectations: warehouse table}. params: runtime parameters
    per run (e.g. the NUTS codes of the version for the EU suites); absent ones are reported as
    skipped expectations. For the EU side, e.g.::

        table_suite_checks("eu_checks", {"eurostat_parsed": "eu_industry_employment",
                                         "eu_indicators": "eu_cluster_indicators"}, eu_params)
    """

    @dg.multi_asset_check(
        specs=[spec for suite, table in suites.items() for spec in _specs(table, suite)],
        name=name,
        description=description or "Expectation suites and SQL checks on warehouse tables (one year at a time).",
        pool="duckdb_warehouse",  # reads the DuckDB file: never beside a writer (file lock)
    )
    def _checks(context: dg.AssetCheckExecutionContext, observatory: ObservatoryResource):
        settings = observatory.settings()
        extra = dict(params(settings)) if params else {}
        results = {}
        with connect(settings, read_only=True) as con:
            for suite, table in suites.items():
                res = validate_warehouse_table(settings, con, suite, table, params=extra)
                context.log.debug(f"{suite} on {table}: {len(res.blocking_failures)} errors, {len(res.warnings)} warnings")
                results[suite] = res
        _report(context, settings, list(results.values()))
        for suite, table in suites.items():
            yield from _results(table, suite, [results[suite]])

    return _checks


def _us_params(settings: Settings) -> Mapping[str, Any]:
    return us_warehouse_params()


# Includes the blocking cluster_mapping gate (sql/checks/unmapped_share.sql): 6-digit employment
# mapped to no cluster above max_unmapped_share of a geography-year stops the release.
warehouse_checks = table_suite_checks(
    "warehouse_checks",
    US_WAREHOUSE_SUITES,
    params=_us_params,
    description="Expectation suites and SQL checks on the DuckDB indicator tables (one year at a time), "
    "including the cluster_mapping gate (unmapped 6-digit employment ≤ max_unmapped_share).",
)
def _eu_params(settings: Settings) -> Mapping[str, Any]:
    return eu_code_lists(settings)


eu_checks = table_suite_checks(
    "eu_checks",
    EU_WAREHOUSE_SUITES,
    params=_eu_params,
    description="Eurostat and EU indicator suites on the DuckDB EU tables (NUTS and NACE code lists from the mirror).",
)


def healed(params: Callable[[Settings], Mapping[str, Any]]) -> Callable[[Settings], Mapping[str, Any]]:
    """`params` after healing latest.json: the shrink checks compare with the previous release,
    which must be one that verifies — a run launched from the UI does not pass through the CLI's
    heal at start (issue 20), and an unreadable pointer or release must not fail the checks."""

    def run(settings: Settings) -> Mapping[str, Any]:
        line = heal_latest(settings.releases_dir)
        if line:
            log.warning(line)
        return params(settings)

    return run


completeness_checks = table_suite_checks(
    "completeness_checks",
    {"completeness": "industry_employment"},
    params=healed(completeness_params),
    description=(
        "Blocking: every requested CBP year × geography has rows, and none lost more than "
        "OBSERVATORY_MAX_SHRINK of its rows or employment against the previous release."
    ),
)


eu_completeness_checks = table_suite_checks(
    "eu_completeness_checks",
    {"eu_completeness": "eu_industry_employment"},
    params=healed(eu_completeness_params),
    description=(
        "Blocking: every Eurostat dataset fetched has rows, and no year × NUTS level lost more than "
        "OBSERVATORY_MAX_SHRINK of its rows or persons employed against the previous release."
    ),
)


REFERENCE_CHECKS = [reference_checks]
CBP_CHECKS = list(CBP_CHECKS_BY_GEO.values())
WAREHOUSE_CHECKS = [warehouse_checks, completeness_checks]
EU_CHECKS = [eu_checks, eu_completeness_checks]
ALL_CHECKS = [*REFERENCE_CHECKS, *CBP_CHECKS, *WAREHOUSE_CHECKS, *EU_CHECKS]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=ALL_CHECKS)
