"""CBP files: fetch → parse → harmonise → staged Parquet per year and geography, no Dagster needed.

Each staged file has a JSON sidecar holding the raw-archive record it was built from, so the
release can cite every input and an unchanged input is not parsed twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.config import DecompressionLimits, Settings
from pipelines.errors import SourceError
from pipelines.layout import cbp_quarantine_path, cbp_staged_path, reference_dir
from pipelines.raw.archive import RawArchive
from pipelines.raw.http import fetch
from pipelines.sources import cbp
from pipelines.staging.files import write_json_atomic, write_staging_parquet
from pipelines.staging.harmonise import (
    VintageEvidence,
    cbp_row_rules,
    detect_naics_vintage,
    harmonise_cbp,
    join_reasons,
    naics_code_rule,
)
from pipelines.staging.quarantine import quarantine_rows, us_naics_codes

PARSER_VERSION = "3"  # 2: NAICS vintage detected from the codes; 3: short/long rows rejected, file line numbers

log = logging.getLogger(__name__)






def parse_cbp_file(
    raw_zip: Path, *, year: int, source_id: str, sha256: str, location: str, work_dir: Path,
    quarantine: Path | None = None, naics_codes: set[str] | None = None,
    vintage_codes: Mapping[str, set[str]] | None = None, limits: DecompressionLimits | None = None,
) -> pl.LazyFrame:
    """Raw CBP zip → harmonised LazyFrame (the caller sinks it before work_dir is removed).

    With `quarantine`, rows failing a row-level rule (negative counts, NAICS codes not in
    `naics_codes`) are written there with the reason instead of failing the whole file. With
    `vintage_codes` (code lists per NAICS vintage) the file's vintage is detected from its codes
    (`parse_cbp_file_vintage`) and its list is the quarantine's."""
    return parse_cbp_file_vintage(
        raw_zip, year=year, source_id=source_id, sha256=sha256, location=location, work_dir=work_dir,
        quarantine=quarantine, naics_codes=naics_codes, vintage_codes=vintage_codes, limits=limits,
    )[0]  # fmt: skip


def parse_cbp_file_vintage(
    raw_zip: Path, *, year: int, source_id: str, sha256: str, location: str, work_dir: Path,
    quarantine: Path | None = None, naics_codes: set[str] | None = None,
    vintage_codes: Mapping[str, set[str]] | None = None, limits: DecompressionLimits | None = None,
) -> tuple[pl.LazyFrame, VintageEvidence]:
    """parse_cbp_file, and the evidence for the file's NAICS vintage: the vintage is decided from
    the share of its 6-digit codes valid in each vintage, the year rule as the prior
    (pipelines.staging.harmonise.detect_naics_vintage); a disagreement with the year rule is logged."""
    member = cbp.extract_member(raw_zip, work_dir, source_id, limits)  # within the decompression limits
    lf, layout = cbp.scan_cbp(member, source_id, location)
    # One pass: parse (only the used columns), clean, check and harmonise together. The rules that
    # need the file's NAICS vintage (its code list, its classification) are applied after, on the
    # harmonised codes; the text is read again only to describe rows that fail or are held (rare).
    keep = ("_short", "_line") if "_line" in lf.collect_schema().names() else ("_short",)
    rules = cbp_row_rules(layout, year=year, quarantine=quarantine is not None)
    try:
        df = harmonise_cbp(lf, layout, year=year, source_id=source_id, sha256=sha256, rules=rules, keep=keep).collect()
    except pl.exceptions.PolarsError as exc:  # e.g. a row with more fields than the header
        cbp.raise_ragged(member, layout, source_id, location)
        raise SourceError(source_id, location, f"{member.name}: unreadable CSV: {exc}") from exc
    cbp.check_fields(df, member, layout, source_id, location)  # short/long rows, header only
    evidence = _detect_vintage(df, year=year, source_id=source_id, location=location, vintage_codes=vintage_codes)
    if naics_codes is None and vintage_codes:
        naics_codes = vintage_codes.get(evidence.vintage)
    reason = pl.col("_reason")
    if quarantine is not None and naics_codes:
        reason = join_reasons([reason, naics_code_rule(pl.col("industry_code"), pl.col("_naics_ok"), naics_codes, evidence.vintage)])
    df = df.with_columns(pl.lit(f"NAICS{evidence.vintage}").alias("classification"), reason.alias("_reason"))
    held = df["_reason"].is_not_null()
    malformed = df["_malformed"] & ~held
    # Each row's line in the file (scan_cbp numbers them when it filters rows out).
    line = df["_line"].cast(pl.Int64) if "_line" in df.columns else pl.int_range(2, df.height + 2, eager=True)
    if malformed.any():
        text = _text_rows(member, source_id, location, exclude=line.filter(held))
        cbp.check_rows(text, layout, source_id, location, member.name)  # raises, naming the rows
        lines = line.filter(malformed).head(10).to_list()
        raise SourceError(source_id, location, f"{member.name}: malformed CBP rows", rows=f"lines {lines}")
    if quarantine is not None:
        held_lines = line.filter(held)
        tagged = pl.concat(
            [
                _text_rows(member, source_id, location, only=held_lines).drop("line").collect(),
                df.filter(held).select("region_code", "industry_code", "_reason"),
                held_lines.alias("_line").to_frame(),
            ],
            how="horizontal",
        )
        write_staging_parquet(
            quarantine_rows(tagged, layout.columns, year=year, geo=layout.geo, source_id=source_id), quarantine
        )
        if held.any():
            df = df.filter(~held)
    return df.drop("_malformed", "_reason", "_naics_ok", *keep).lazy(), evidence


def _text_rows(
    member: Path, source_id: str, location: str, *, only: pl.Series | None = None, exclude: pl.Series | None = None
) -> pl.LazyFrame:
    """The file's used text columns with each row's `line`, read again: the rows of the lines
    `only` (none when empty, without reading past the header), or all but those of `exclude`."""
    lf = cbp.scan_cbp(member, source_id, location)[0].drop("_short")
    lf = lf.rename({"_line": "line"}) if "_line" in lf.collect_schema().names() else lf.with_row_index("line", offset=2)
    lf = lf.with_columns(pl.col("line").cast(pl.Int64))
    if only is not None:
        return lf.clear() if only.is_empty() else lf.filter(pl.col("line").is_in(only.implode()))
    return lf if exclude is None or exclude.is_empty() else lf.filter(~pl.col("line").is_in(exclude.implode()))


def _detect_vintage(
    df: pl.DataFrame, *, year: int, source_id: str, location: str, vintage_codes: Mapping[str, set[str]] | None,
) -> VintageEvidence:
    """The NAICS vintage of a parsed CBP file from its (harmonised) industry codes; a disagreement
    with the year rule is logged."""
    evidence = detect_naics_vintage(df.select("industry_code"), year, vintage_codes)
    if not evidence.agrees:
        log.warning(
            "%s (%s): codes say NAICS %s, the year rule says NAICS %s for %s (shares valid: %s)",
            source_id, location, evidence.vintage, evidence.year_rule, year, evidence.record()["shares"],
        )  # fmt: skip
    return evidence


def _vintage_codes(settings: Settings) -> dict[str, set[str]]:
    """Industry codes of every NAICS vintage with a complete list staged (empty before the
    reference tables are staged: then the year rule decides and nothing is quarantined)."""
    return us_naics_codes(settings)


def stage_cbp(settings: Settings, year: int, geo: str = "state") -> dict[str, Any]:
    """Fetch, check, parse and harmonise one CBP file into staging; skip work when unchanged."""
    source_id = cbp.source_id(year, geo)
    url = cbp.url(year, geo)
    limits = settings.decompression_limits
    raw = fetch(source_id, url, settings, validate=partial(cbp.validate_zip, limits=limits))
    dest = cbp_staged_path(settings, year, geo)
    sidecar = dest.with_suffix(".json")
    quarantine = cbp_quarantine_path(settings, year, geo)
    vintage_codes = _vintage_codes(settings)
    rules = hashlib.sha256(
        json.dumps({v: sorted(c) for v, c in sorted(vintage_codes.items())}).encode()
    ).hexdigest()[:16]
    if dest.exists() and sidecar.exists() and quarantine.exists():
        prev = json.loads(sidecar.read_text())
        if (
            prev.get("sha256") == raw.sha256
            and prev.get("parser_version") == PARSER_VERSION
            and prev.get("quarantine_rules") == rules
        ):
            log.info("CBP %s %s: %s rows (unchanged)", geo, year, f"{prev['rows']:,}")
            return {"rows": prev["rows"], "path": str(dest), "source": prev, "changed": False}
    rows, evidence = _stage_cbp_file(
        raw.path, dest, year=year, source_id=source_id, sha256=raw.sha256, location=url,
        work_dir=settings.raw_dir / ".tmp", quarantine=quarantine, vintage_codes=vintage_codes, limits=limits,
    )
    vintage = evidence.record()
    # The archive keeps what the file was found to be, beside what it is (append-only manifest).
    RawArchive(settings.raw_dir).record_naics_vintage(source_id, raw.sha256, vintage)
    rec = {
        **raw.source_record(), "naics_vintage": vintage["naics_vintage"], "naics_vintage_evidence": vintage,
        "rows": rows, "year": year, "geo": geo, "parser_version": PARSER_VERSION,
        "quarantine_rules": rules, "quarantined": pl.scan_parquet(quarantine).select(pl.len()).collect().item(),
    }
    write_json_atomic(sidecar, rec)
    log.info("CBP %s %s: %s rows staged", geo, year, f"{rows:,}")
    return {"rows": rows, "path": str(dest), "source": rec, "changed": True}


def stage_cbp_file(
    raw_zip: Path, dest: Path, *, year: int, source_id: str, sha256: str, location: str,
    work_dir: Path | None = None, quarantine: Path | None = None, naics_codes: set[str] | None = None,
    vintage_codes: Mapping[str, set[str]] | None = None, limits: DecompressionLimits | None = None,
) -> int:
    """One raw CBP zip → harmonised staged Parquet at `dest` (atomic); returns the row count.

    The same path the assets run, usable on files outside the archive (benchmarks)."""
    return _stage_cbp_file(
        raw_zip, dest, year=year, source_id=source_id, sha256=sha256, location=location, work_dir=work_dir,
        quarantine=quarantine, naics_codes=naics_codes, vintage_codes=vintage_codes, limits=limits,
    )[0]  # fmt: skip


def _stage_cbp_file(
    raw_zip: Path, dest: Path, *, year: int, source_id: str, sha256: str, location: str,
    work_dir: Path | None = None, quarantine: Path | None = None, naics_codes: set[str] | None = None,
    vintage_codes: Mapping[str, set[str]] | None = None, limits: DecompressionLimits | None = None,
) -> tuple[int, VintageEvidence]:
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir) as work:
        lf, evidence = parse_cbp_file_vintage(
            raw_zip, year=year, source_id=source_id, sha256=sha256, location=location, work_dir=Path(work),
            quarantine=quarantine, naics_codes=naics_codes, vintage_codes=vintage_codes, limits=limits,
        )
        return write_staging_parquet(lf, dest), evidence


def stage_cbp_years(
    settings: Settings, years: list[int], geo: str = "state", workers: int = 2
) -> dict[int, dict[str, Any]]:
    """stage_cbp for several years, `workers` at a time: much of a year's parsing is
    single-threaded string work, so two years in flight keep both cores busy."""
    if workers <= 1 or len(years) <= 1:
        return {y: stage_cbp(settings, y, geo) for y in years}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {y: pool.submit(stage_cbp, settings, y, geo) for y in years}
        return {y: f.result() for y, f in futures.items()}


def staged_cbp_paths(settings: Settings, geos: tuple[str, ...] | None = None) -> list[Path]:
    """Staged files of every configured CBP year and geography (all must exist)."""
    paths = [cbp_staged_path(settings, y, g) for g in (geos or settings.cbp_geos) for y in settings.cbp_years]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"CBP years not staged yet: {missing}")
    return paths


def staged_sources(settings: Settings) -> list[dict[str, Any]]:
    """Raw-archive records of every input behind the current staging (reference + CBP years)."""
    ref = reference_dir(settings) / "sources.json"
    out: list[dict[str, Any]] = json.loads(ref.read_text()) if ref.exists() else []
    for p in staged_cbp_paths(settings):
        rec = json.loads(p.with_suffix(".json").read_text())
        # The detected NAICS vintage stays in the source entry: the release names each file's vintage.
        out.append({k: v for k, v in rec.items() if k not in {"rows", "year", "geo", "parser_version", "quarantine_rules", "quarantined"}})
    return out


def naics_vintage_evidence(settings: Settings, years: Sequence[int], geo: str) -> list[dict[str, Any]]:
    """Per staged year, from its sidecar: the NAICS vintage its codes say, the year rule's, and
    the shares of its 6-digit codes valid in each vintage (years not staged are left out)."""
    rows = []
    for y in years:
        side = cbp_staged_path(settings, y, geo).with_suffix(".json")
        ev = json.loads(side.read_text()).get("naics_vintage_evidence") if side.exists() else None
        if ev:
            rows.append({"year": y, "naics_vintage": ev["naics_vintage"], "year_rule": ev["year_rule"], "shares": ev["shares"]})
    return rows
