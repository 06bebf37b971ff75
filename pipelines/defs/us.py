"""US path: reference tables → CBP by year → DuckDB indicators → release."""


import dagster as dg

from pipelines import stage, warehouse
from pipelines.defs.resources import ObservatoryResource
from pipelines.sources import cbp

CBP_YEARS = [str(y) for y in range(cbp.FIRST_YEAR, 2024)]
cbp_partitions = dg.StaticPartitionsDefinition(CBP_YEARS)

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
    "cluster_totals": "Cluster totals per region × cluster × year (sql/cluster_totals.sql).",
    "unmapped_industries": "6-digit industries no cluster definition covers (reported, not dropped).",
    "cluster_indicators": "LQ, shares, wages, strong clusters, CAGR per region × cluster × year (sql/cluster_indicators.sql).",
    "region_indicators": "Traded/local employment and cluster strength per region × year (sql/region_indicators.sql).",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(name, description=desc, group_name="us_reference", kinds={"polars", "parquet"})
        for name, desc in REFERENCE_DESCRIPTIONS.items()
    ],
    pool="upstream_mirror",
)
def us_reference(context: dg.AssetExecutionContext, observatory: ObservatoryResource):
    """Fetch the clustermapping.us reference files and the NAICS concordance; stage as Parquet."""
    counts = stage.stage_reference(observatory.settings())
    for name in REFERENCE_DESCRIPTIONS:
        yield dg.MaterializeResult(asset_key=name, metadata={"dagster/row_count": counts[name]})


CBP_FILES = {
    "state": "state files (FIPSTATE)",
    "county": "county files (FIPSTATE + FIPSCTY)",
    "msa": "metropolitan/micropolitan area files",
    "us": "national (US) files: the national reference for LQ and shares",
}


def _cbp_asset(geo: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"cbp_{geo}",
        group_name="us_cbp",
        partitions_def=cbp_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"polars", "parquet"},
        pool="upstream_census",
        description=(
            f"County Business Patterns {CBP_FILES[geo]} by year: fetched (mirror or Census), "
            "checked, parsed and harmonised into staging Parquet, one file per year. "
            f"Part of a refresh when OBSERVATORY_CBP_GEOS includes '{geo}'."
        ),
    )
    def _asset(context: dg.AssetExecutionContext, observatory: ObservatoryResource) -> dg.MaterializeResult:
        settings = observatory.settings()
        years = [int(k) for k in context.partition_keys]
        results = stage.stage_cbp_years(settings, years, geo)
        for y, r in results.items():
            context.log.info(
                f"CBP {geo} {y}: {r['rows']} rows, sha256 {r['source']['sha256'][:12]}, changed={r['changed']}"
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(r["rows"] for r in results.values()),
                "years": dg.MetadataValue.json({str(y): r["rows"] for y, r in results.items()}),
                "changed_years": dg.MetadataValue.json([y for y, r in results.items() if r["changed"]]),
                "sources": dg.MetadataValue.md(
                    "\n".join(
                        f"- {r['source']['source_id']}: `{r['source']['sha256']}`" for r in results.values()
                    )
                ),
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
    counts = warehouse.build_us_indicators(observatory.settings())
    for name in WAREHOUSE_DESCRIPTIONS:
        yield dg.MaterializeResult(asset_key=name, metadata={"dagster/row_count": counts[name]})


us_reference_job = dg.define_asset_job("us_reference_job", selection=dg.AssetSelection.assets(us_reference))
cbp_job = dg.define_asset_job("cbp_job", selection=dg.AssetSelection.assets(*CBP_ASSETS.values()))


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[us_reference, *CBP_ASSETS.values(), us_indicators],
        jobs=[us_reference_job, cbp_job],
    )
