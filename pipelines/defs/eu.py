"""Europe: Eurostat regional SBS → NACE-based clusters → EU indicators (DuckDB)."""

import dagster as dg

from pipelines import layout
from pipelines.defs import metadata
from pipelines.defs.resources import ObservatoryResource
from pipelines.staging.eu import stage_eu
from pipelines.warehouse import database

EU_DESCRIPTIONS = {
    "eu_industry_employment": (
        "Eurostat regional SBS (sbs_r_nuts06_r2, successor sbs_r_nuts2021) harmonised: persons employed, "
        "local units, wages by NUTS region × NACE × year; flags kept, confidential cells filled from the parent."
    ),
    "nace_cluster_concordance": "NACE Rev.2 → US benchmark clusters via NAICS 2012 → ISIC Rev.4, apportioned by US employment.",
    "nace_concordance_report": (
        "Where each NACE code's European employment goes: clusters, weights, method (employment split, "
        "part-of note, equal split) and the persons employed each carries."
    ),
    "eu_cluster_totals": "Cluster totals per NUTS region × cluster × year (apportioned NACE rows).",
    "nuts_crosswalk": "NUTS codes recoded to the target version; splits and merges flagged, never mixed.",
    "nuts_regions": "Name, level and version of every NUTS code in the EU tables (each named from its own version's list).",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name, description=desc, group_name="eu", kinds={"polars", "parquet"}, deps=["clusters"],
            metadata=metadata.spec_metadata(name),
        )
        for name, desc in EU_DESCRIPTIONS.items()
    ],
    pool="upstream_eurostat",
)
def eurostat_sbs(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """Fetch, parse, fill, recode and map the Eurostat data to clusters; stage as Parquet."""
    settings = observatory.settings()
    result = stage_eu(settings)
    if not result["changed"]:
        context.log.info("Eurostat inputs and code unchanged: staged EU tables reused")
    for name in EU_DESCRIPTIONS:
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": result["rows"][name],
                "rebuilt": result["changed"],
                **metadata.parquet_metadata(name, layout.eu_dir(settings) / f"{name}.parquet"),
            },
        )


@dg.asset(
    group_name="eu",
    deps=["eu_cluster_totals", "nace_cluster_concordance"],
    kinds={"duckdb"},
    automation_condition=dg.AutomationCondition.eager(),
    pool="duckdb_warehouse",
    metadata=metadata.spec_metadata("eu_cluster_indicators"),
    description=(
        "EU cluster indicators per NUTS region × cluster × year: employment, local units, wages, wage per "
        "employee, US-style LQ and strong flag, LQ on total employment, shares, CAGR, and two named star "
        "systems: European Cluster Observatory 2011 (eco2011_*) and Panorama (panorama_*), against one "
        "European reference of countries per year (sql/eu/cluster_indicators.sql)."
    ),
)
def eu_cluster_indicators(context: dg.AssetExecutionContext, observatory: ObservatoryResource) -> dg.MaterializeResult:
    settings = observatory.settings()
    counts = database.build_eu_indicators(settings)
    table = metadata.duckdb_metadata(settings, ["eu_cluster_indicators"])["eu_cluster_indicators"]
    return dg.MaterializeResult(metadata={"dagster/row_count": counts["eu_cluster_indicators"], **table})


EU_ASSETS = [eurostat_sbs, eu_cluster_indicators]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=EU_ASSETS)
