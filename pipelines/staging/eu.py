"""Europe: staged Parquet for the EU tables and the code lists their validation checks against.

EU staging is skipped when every input (re-fetched, so a changed upstream is noticed) and the
code are unchanged since the last build: the Eurostat chain is the slowest step of a refresh.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import polars as pl

from pipelines.config import Settings
from pipelines.fingerprints import code_fingerprint
from pipelines.layout import eu_dir
from pipelines.raw.http import fetch, record_fetches
from pipelines.staging import nuts, nuts_names
from pipelines.staging.custom_regions import eu_groups
from pipelines.staging.eu_sbs import build_eu
from pipelines.staging.files import write_json_atomic, write_staging_parquet
from pipelines.staging.nace_concordance import fetch_reference
from pipelines.staging.region_groups import RegionGroup

EU_TABLES = (
    "eu_industry_employment", "nace_cluster_concordance", "nace_concordance_report", "eu_cluster_totals", "nuts_crosswalk",
    "nuts_regions",
)  # fmt: skip


def _inputs_unchanged(settings: Settings, previous: list[dict[str, Any]]) -> bool:
    for rec in previous:
        raw = fetch(rec["source_id"], rec.get("url"), settings, mirror_id=rec["source_id"])
        if raw.sha256 != rec["sha256"]:
            return False
    return True


def stage_eu(settings: Settings) -> dict[str, Any]:
    """Build the EU tables (pipelines.staging.eu_sbs.build_eu) into staging; returns row counts."""

    out_dir = eu_dir(settings)
    meta_path = out_dir / "sources.json"
    groups = eu_groups(settings)
    key = {"code": code_fingerprint(), "groups": [asdict(g) for g in groups]}
    if meta_path.exists() and all((out_dir / f"{t}.parquet").exists() for t in EU_TABLES):
        prev = json.loads(meta_path.read_text())
        if prev.get("key") == json.loads(json.dumps(key)) and _inputs_unchanged(settings, prev["sources"]):
            return {"rows": prev["rows"], "changed": False, "sources": prev["sources"]}
    with record_fetches() as fetched:
        tables = build_eu(settings, region_groups=groups)
        tables["nuts_regions"] = nuts_names.eu_nuts_regions(settings, tables)  # issue 21: names as data
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out_dir / "code_lists.json", _code_lists(settings, groups))
    tables["eu_industry_employment"] = with_group_columns(tables["eu_industry_employment"])
    rows = {name: write_staging_parquet(tables[name], out_dir / f"{name}.parquet") for name in EU_TABLES}
    unique = {r.source_id: r.source_record() for r in fetched}
    sources = sorted(unique.values(), key=lambda r: r["source_id"])
    write_json_atomic(meta_path, {"key": key, "rows": rows, "sources": sources})
    return {"rows": rows, "changed": True, "sources": sources}


GROUP_COLUMNS = ("custom_base_type", "custom_name")  # filled only on region-group rows


def with_group_columns(df: pl.DataFrame) -> pl.DataFrame:
    """The documented region-group columns, null when no EU group applies (no groups file, or a
    US-only one): the table's schema must not depend on the settings, or the release refuses it."""
    missing = [c for c in GROUP_COLUMNS if c not in df.columns]
    return df.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing) if missing else df


NACE_CODE_LIST = "eurostat-classifications/sbs_dsd_nace_r2"


def _code_lists(settings: Settings, groups: list[RegionGroup]) -> dict[str, list[str]]:
    """NUTS and NACE code lists the EU validation suites check membership against."""
    ref = nuts.NutsReference.load(fetch_reference(settings, "sbs_nuts").path, fetch_reference(settings, "nuts2016").path, fetch_reference(settings, "nuts2021").path)
    nace = fetch(NACE_CODE_LIST, None, settings, mirror_id=NACE_CODE_LIST)
    nace_codes = pl.read_csv(nace.path, infer_schema=False, encoding="utf8-lossy")
    named = nuts.nuts_names(fetch_reference(settings, "sbs_nuts").path, fetch_reference(settings, "nuts2016").path)["code"].to_list()
    return {
        "named_region_codes": sorted(set(named) | {g.code for g in groups if g.name and g.name.strip()}),
        "nuts_codes": sorted(set(ref.sbs_codes["code"].to_list()) | ref.codes_2016 | ref.codes_2021 | {g.code for g in groups}),
        "nace_codes": sorted(nace_codes[nace_codes.columns[0]].str.strip_chars().to_list()),
    }


def eu_code_lists(settings: Settings) -> dict[str, list[str]]:
    path = eu_dir(settings) / "code_lists.json"
    return json.loads(path.read_text()) if path.exists() else {}


def staged_eu_sources(settings: Settings) -> list[dict[str, Any]]:
    path = eu_dir(settings) / "sources.json"
    return json.loads(path.read_text())["sources"] if path.exists() else []
