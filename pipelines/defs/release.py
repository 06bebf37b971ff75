"""The release: every published table, validated, as an immutable versioned folder."""

import dagster as dg

from pipelines.defs.resources import ObservatoryResource
from pipelines.release import build
from pipelines.release.publish import release_reason
from pipelines.runs.lock import warehouse_lock


@dg.asset(
    group_name="release",
    deps=[
        "cluster_indicators", "region_indicators", "unmapped_industries", "custom_regions",
        "eu_cluster_indicators", "eu_industry_employment", "nace_cluster_concordance", "nuts_crosswalk", "nuts_regions",
        "clusters", "cluster_naics", "regions",
    ],
    kinds={"parquet"},
    automation_condition=dg.AutomationCondition.eager(),
    pool="duckdb_warehouse",
    description=(
        "Versioned, immutable Parquet release (US and EU tables, reference tables, validation report) "
        "with datapackage.json and SHA256SUMS; nothing is published when inputs and code are unchanged."
    ),
)
def release(context: dg.AssetExecutionContext, observatory: ObservatoryResource) -> dg.MaterializeResult:
    settings = observatory.settings()
    context.log.info("release: checking and writing the tables")
    with warehouse_lock(settings, "release asset"):  # re-entrant: `observatory run` already holds it
        result = build.publish_us_release(settings)
    reason = release_reason(result)
    context.log.debug(reason)  # the CLI prints its own summary; the UI shows the reason in the metadata
    return dg.MaterializeResult(
        metadata={
            "reason": reason,
            "version": result.version or "",
            "path": dg.MetadataValue.path(str(result.path)) if result.path else "",
            "published": not result.unchanged,
            "fingerprint": result.fingerprint,
            "tables": dg.MetadataValue.json(result.tables),
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[release])
