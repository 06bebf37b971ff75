"""The one resource: where the pipeline reads and writes (env vars, overridable per run)."""


from dataclasses import replace
from pathlib import Path

import dagster as dg

from pipelines.config import Settings, parse_geos, parse_years


class ObservatoryResource(dg.ConfigurableResource):
    """Warehouse, mirror, CBP years and geographies; unset fields come from OBSERVATORY_* env vars."""

    warehouse: str | None = None
    mirror: str | None = None
    cbp_years: str | None = None
    cbp_geos: str | None = None
    region_groups: str | None = None  # path; "" = none; unset = OBSERVATORY_REGION_GROUPS/default
    offline: bool | None = None
    eurostat: bool | None = None
    max_shrink: float | None = None  # unset = OBSERVATORY_MAX_SHRINK / default
    allow_narrower: bool = False  # publish a release narrower than the latest (release/scope.py)

    def settings(self) -> Settings:
        base = Settings.from_env()
        # replace(): settings this resource does not name (DuckDB memory cap, EU reference, HTTP
        # limits …) keep their OBSERVATORY_* values instead of falling back to the defaults.
        return replace(
            base,
            warehouse=Path(self.warehouse).resolve() if self.warehouse else base.warehouse,
            mirror=Path(self.mirror).resolve() if self.mirror else base.mirror,
            cbp_years=tuple(parse_years(self.cbp_years)) if self.cbp_years else base.cbp_years,
            offline=base.offline if self.offline is None else self.offline,
            cbp_geos=parse_geos(self.cbp_geos) if self.cbp_geos else base.cbp_geos,
            eurostat=base.eurostat if self.eurostat is None else self.eurostat,
            max_shrink=base.max_shrink if self.max_shrink is None else self.max_shrink,
            allow_narrower=self.allow_narrower,
            region_groups=(
                base.region_groups
                if self.region_groups is None
                else (Path(self.region_groups).resolve() if self.region_groups else None)
            ),
        )


def observatory_resource(settings: Settings) -> ObservatoryResource:
    """A resource naming `settings`' warehouse, mirror, years, geographies and limits: how the CLI
    hands its settings to in-process Dagster runs (settings it does not name come from OBSERVATORY_*)."""
    return ObservatoryResource(
        warehouse=str(settings.warehouse),
        mirror=str(settings.mirror) if settings.mirror else None,
        cbp_years=",".join(str(y) for y in settings.cbp_years),
        cbp_geos=",".join(settings.cbp_geos),
        region_groups=str(settings.region_groups) if settings.region_groups else "",
        offline=settings.offline,
        eurostat=settings.eurostat,
        max_shrink=settings.max_shrink,
        allow_narrower=settings.allow_narrower,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"observatory": ObservatoryResource()})
