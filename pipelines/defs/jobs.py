"""Named jobs that `observatory run/refresh` launch, so CLI runs show by name in the Dagster UI.

The CLI runs the same jobs as the UI (us_reference_job and cbp_job in us.py, these two here),
narrowed with an asset selection to the configured geographies and sources.
"""

import dagster as dg

refresh_publish_job = dg.define_asset_job(
    "refresh_publish_job",
    selection=dg.AssetSelection.groups("us_indicators", "eu", "release"),
    description="Refresh: US indicators, Eurostat and EU indicators (when enabled) and the release.",
)
eurostat_refresh_job = dg.define_asset_job(
    "eurostat_refresh_job",
    selection=dg.AssetSelection.groups("eu"),
    description="Refresh of the Eurostat side only (`observatory refresh --sources eurostat`).",
)
REFRESH_JOBS = [refresh_publish_job, eurostat_refresh_job]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=REFRESH_JOBS)
