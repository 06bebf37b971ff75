"""US path: reference tables → CBP by year → DuckDB indicators → release."""

import warnings

import dagster as dg

from pipelines import layout
from pipelines.defs import metadata
from pipelines.defs.resources import ObservatoryResource
from pipelines.sources import cbp
from pipelines.staging.cbp import stage_cbp_years
from pipelines.staging.reference import stage_reference
from pipelines.warehouse import database

# One partition per CBP year from the first NAICS-based year up to last year: the range grows with
# the calendar, so a year published later (2024, 2025, ...) is a partition the new-vintage sensor
# can request without a code change (same rule as pipelines.raw.vintages.available_years).
cbp_partitions = dg.TimeWindowPartitionsDefinition(
    start=str(cbp.FIRST_YEAR), fmt="%Y", cron_schedule="0 0 1 1 *", timezone="UTC"
)

REFERENCE_DESCRIPTIONS = {
    "clusters": "51 traded + 16 local clusters (US benchmark definitions, clustermapping.us).",
    "cluster_naics": "6-digit NAICS → cluster for every vintage; 2017/2022 derived through the concordance.",
    "naics_cluster_splits": "Derived NAICS codes whose 2012 parents sit in several clusters (apportioned).",
    "subclusters": "Subclusters of each cluster.",
    "naics_subclusters": "NAICS 2012 code → cluster and subcluster.",
    "related_clusters": "Related-cluster pairs and relatedness measures.",
    "regions": "States, counties, MSAs, economic areas and the US.",
    "region_members": "Member counties of MSAs and economic areas.",
    "naics_concordance": "6-digit NAICS concordance 2002/2007/2012/2017/2022.",
}
WAREHOUSE_DESCRIPTIONS = {
    "custom_regions": "User-defined regions (OBSERVATORY_REGION_GROUPS): US groups summed from member rows.",
    "industry_employment": "Harmonised long table: employment, establishments and payroll by region × industry × year.",
    "cluster_totals": "Cluster totals per region × cluster × year (sql/us/cluster_totals.sql).",
    "unmapped_industries": "6-digit industries no cluster definition covers (reported, not dropped).",
    "cluster_indicators": "LQ, shares, wages, strong clusters, CAGR per region × cluster × year (sql/us/cluster_indicators.sql).",
    "region_indicators": "Traded/local employment and cluster strength per region × year (sql/us/region_indicators.sql).",
    "cluster_timeseries": (
        "Constant-definition series (issue 19): every year on the 2012-based definitions through the NAICS "
        "concordance, NAICS 1997 years left out (pipelines/warehouse/timeseries.py); the EU asset adds its rows."
    ),
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name, description=desc, group_name="us_reference", kinds={"polars", "parquet"},
            metadata=metadata.spec_metadata(name),
        )
        for name, desc in REFERENCE_DESCRIPTIONS.items()
    ],
    pool="upstream_mirror",
)
def us_reference(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """Fetch the clustermapping.us reference files and the NAICS concordance; stage as Parquet."""
    settings = observatory.settings()
    counts = stage_reference(settings)
    for name in REFERENCE_DESCRIPTIONS:
        path = layout.reference_dir(settings) / f"{name}.parquet"
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={"dagster/row_count": counts[name], **metadata.parquet_metadata(name, path)},
        )


CBP_FILES = {
    "state": "state files (FIPSTATE)",
    "county": "county files (FIPSTATE + FIPSCTY)",
    "msa": "metropolitan/micropolitan area files",
    "us": "national (US) files: the national reference for LQ and shares",
}


def _cbp_asset(geo: str) -> dg.AssetsDefinition:
    # backfill_policy is a beta parameter in Dagster 1.13; single-run backfills are deliberate here
    # (one run parses a year range two years at a time), so its BetaWarning is silenced for this
    # decorator only instead of repeating on every load of the code location.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
        return _cbp_asset_def(geo)


def _cbp_asset_def(geo: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"cbp_{geo}",
        group_name="us_cbp",
        partitions_def=cbp_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"polars", "parquet"},
        pool="upstream_census",
        metadata=metadata.spec_metadata("industry_employment"),
        description=(
            f"County Business Patterns {CBP_FILES[geo]} by year: fetched (mirror or Census), "
            "checked, parsed and harmonised into staging Parquet, one file per year. "
            f"Part of a refresh when OBSERVATORY_CBP_GEOS includes '{geo}'."
        ),
    )
    def _asset(context: dg.AssetExecutionContext, observatory: ObservatoryResource) -> dg.MaterializeResult:
        settings = observatory.settings()
        years = [int(k) for k in context.partition_keys]
        results = stage_cbp_years(settings, years, geo)
        for y, r in results.items():
            context.log.debug(  # the console has a line per year from staging (pipelines.staging.cbp)
                f"CBP {geo} {y}: {r['rows']} rows, sha256 {r['source']['sha256'][:12]}, changed={r['changed']}"
            )
            # A single-run backfill records one materialisation per year: each gets its own row
            # count, source and preview, not the range's.
            context.add_asset_metadata(
                {
                    "dagster/row_count": r["rows"],
                    "changed": r["changed"],
                    "source": f"{r['source']['source_id']}: {r['source']['sha256']}",
                    **metadata.parquet_metadata("industry_employment", layout.cbp_staged_path(settings, y, geo)),
                },
                partition_key=str(y),
            )
        return dg.MaterializeResult(
            metadata={
                # the run's years; the publish follow-up sensor reads changed_years
                "run_years": dg.MetadataValue.json({str(y): r["rows"] for y, r in results.items()}),
                "changed_years": dg.MetadataValue.json([y for y, r in results.items() if r["changed"]]),
            }
        )

    return _asset


CBP_ASSETS = {geo: _cbp_asset(geo) for geo in CBP_FILES}
cbp_state = CBP_ASSETS["state"]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            description=desc,
            group_name="us_indicators",
            kinds={"duckdb"},
            metadata=metadata.spec_metadata(name),
            # Follows new CBP years / reference tables when the automation sensor is on.
            automation_condition=dg.AutomationCondition.eager(),
            deps=[*(f"cbp_{g}" for g in CBP_FILES), *REFERENCE_DESCRIPTIONS] if name in {"industry_employment", "custom_regions"} else
            (["industry_employment", "cluster_naics"] if name in {"cluster_totals", "unmapped_industries"} else
             ["cluster_totals", "clusters"] if name == "cluster_indicators" else ["cluster_indicators"]),
        )
        for name, desc in WAREHOUSE_DESCRIPTIONS.items()
    ],
    pool="duckdb_warehouse",  # one DuckDB writer at a time (file lock)
)
def us_indicators(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """Load staged data into DuckDB and run the indicator SQL in sql/."""
    settings = observatory.settings()
    counts = database.build_us_indicators(settings)
    tables = metadata.duckdb_metadata(settings, list(WAREHOUSE_DESCRIPTIONS))
    for name in WAREHOUSE_DESCRIPTIONS:
        yield dg.MaterializeResult(
            asset_key=name, metadata={"dagster/row_count": counts[name], **tables[name]}
        )


us_reference_job = dg.define_asset_job("us_reference_job", selection=dg.AssetSelection.assets(us_reference))
cbp_job = dg.define_asset_job("cbp_job", selection=dg.AssetSelection.assets(*CBP_ASSETS.values()))


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[us_reference, *CBP_ASSETS.values(), us_indicators],
        jobs=[us_reference_job, cbp_job],
    )
