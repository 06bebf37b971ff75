"""The whole warehouse built without Dagster, stage by stage, as the assets run it."""

from __future__ import annotations

from pipelines.config import Settings
from pipelines.staging.cbp import stage_cbp
from pipelines.staging.eu import stage_eu
from pipelines.staging.reference import stage_reference
from pipelines.warehouse import database


def build(settings: Settings) -> None:
    """Every stage the assets run, without Dagster: reference, CBP, EU, indicators."""
    stage_reference(settings)
    for year in settings.cbp_years:
        stage_cbp(settings, year, "state")
    stage_eu(settings)
    database.build_us_indicators(settings)
    database.build_eu_indicators(settings)
