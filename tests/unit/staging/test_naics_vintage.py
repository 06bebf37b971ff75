"""Issue 11 (US): every CBP file is mapped with the cluster definitions of its own NAICS vintage.

The vintage is detected from the file's codes (the year rule is only the prior), recorded per
file, and the release is stopped when a geography-year's 6-digit employment does not map.
Files are written by the tests in the upstream layouts; code lists come from the mirror."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.layout import cbp_staged_path, reference_dir
from pipelines.raw.archive import RawArchive
from pipelines.release.notes import naics_vintage_notes
from pipelines.sources import cbp
from pipelines.staging.cbp import parse_cbp_file_vintage, stage_cbp, staged_sources
from pipelines.staging.harmonise import cbp_naics_vintage, detect_naics_vintage
from pipelines.staging.quarantine import naics_codes_from
from pipelines.staging.reference import stage_reference
from pipelines.validation.engines import run_sql_check
from pipelines.validation.gate import US_WAREHOUSE_SUITES, us_warehouse_params
from pipelines.validation.suites import load_suite
from pipelines.warehouse.indicators import (
    DEFAULT_PARAMS,
    build_cluster_tables,
    indicators_from_totals,
)
from pipelines.warehouse.sql import fetch_frame, register_frame
from tests.helpers.cbp_files import write_zip

# --- the year rule (the prior) ---------------------------------------------------------------

# Both sides of every boundary: CBP 1998–2002 NAICS 1997, 2003–2007 2002, 2008–2011 2007,
# 2012–2016 2012, 2017–2023 2017 (2022 and 2023 are still NAICS 2017 upstream), then 2022.
YEAR_RULE = {
    1998: "1997", 2002: "1997", 2003: "2002", 2007: "2002", 2008: "2007", 2011: "2007", 2012: "2012",
    2016: "2012", 2017: "2017", 2021: "2017", 2022: "2017", 2023: "2017", 2024: "2022", 2030: "2022",
}  # fmt: skip


@pytest.mark.parametrize(("year", "vintage"), sorted(YEAR_RULE.items()))
def test_year_rule_on_both_sides_of_every_boundary(year: int, vintage: str) -> None:
    assert cbp_naics_vintage(year) == vintage


# --- detection from the codes ----------------------------------------------------------------

LISTS = {
    "2007": {"111111", "222222", "333333"},
    "2012": {"111111", "222222", "444444"},
    "2017": {"111111", "222222", "444444", "555555"},
}


def test_the_codes_decide_over_the_year_rule() -> None:
    ev = detect_naics_vintage(pl.Series(["111111", "333333", "TOTAL", "33", "3333"]), 2012, LISTS)
    assert (ev.vintage, ev.year_rule, ev.agrees) == ("2007", "2012", False)
    assert ev.codes == 2  # only distinct 6-digit codes count
    assert ev.shares == {"2007": 1.0, "2012": 0.5, "2017": 0.5}


def test_a_tie_goes_to_the_year_rule_then_to_the_nearest_vintage() -> None:
    common = pl.Series(["111111", "222222"])
    assert detect_naics_vintage(common, 2014, LISTS).vintage == "2012"
    assert detect_naics_vintage(common, 2010, LISTS).vintage == "2007"
    assert detect_naics_vintage(common, 2019, LISTS).vintage == "2017"
    # 2012 and 2017 tie at 1.0, the prior (2007) has 0.5: the nearest to it wins
    assert detect_naics_vintage(pl.Series(["111111", "444444"]), 2010, LISTS).vintage == "2012"


def test_without_evidence_the_year_rule_stands() -> None:
    assert detect_naics_vintage(pl.Series(["TOTAL", "31"]), 2012, LISTS).vintage == "2012"
    assert detect_naics_vintage(pl.Series(["333333"]), 2022, None).vintage == "2017"
    assert detect_naics_vintage(pl.Series(["333333"]), 2022, {}).shares == {}


# --- real code lists: a file on each side of every boundary ----------------------------------


@pytest.fixture(scope="module")
def reference(mirror_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = Settings(warehouse=tmp_path_factory.mktemp("ref"), mirror=mirror_dir, offline=True)
    stage_reference(settings)
    return reference_dir(settings)


@pytest.fixture(scope="module")
def codes(reference: Path) -> dict[str, set[str]]:
    return naics_codes_from(reference)


@pytest.fixture(scope="module")
def definitions(reference: Path) -> pl.DataFrame:
    return pl.read_parquet(reference / "cluster_naics.parquet")


def _six(codes: set[str]) -> set[str]:
    return {c for c in codes if len(c) == 6}


def cbp_text(year: int, rows: list[tuple[str, str, int]]) -> str:
    """A CBP state file in the layout of its year: (state, NAICS code, employment) rows plus
    each state's total row; codes are padded as upstream."""
    totals: dict[str, int] = {}
    for st, _, emp in rows:
        totals[st] = totals.get(st, 0) + emp
    body = [(st, "------", emp) for st, emp in totals.items()] + rows
    if year >= 2017:  # noise-flag layout, lower-case header
        lines = ["fipstate,naics,emp_nf,emp,ap_nf,ap,est"]
        lines += [f'"{st}","{n}","G",{e},"G",{e * 40},{max(e // 10, 1)}' for st, n, e in body]
    else:
        lines = ['"FIPSTATE","NAICS","EMPFLAG","EMP_NF","EMP","AP_NF","AP","EST"']
        lines += [f'"{st}","{n}","","G",{e},"G",{e * 40},{max(e // 10, 1)}' for st, n, e in body]
    return "\n".join(lines) + "\n"


def _parse(path: Path, year: int, vintage_codes: dict[str, set[str]] | None, work: Path):
    q = work / f"quarantine-{year}.parquet"
    lf, ev = parse_cbp_file_vintage(
        path, year=year, source_id=cbp.source_id(year, "state"), sha256="0" * 64, location=str(path),
        work_dir=work, quarantine=q, vintage_codes=vintage_codes,
    )  # fmt: skip
    return lf.collect(), ev, pl.read_parquet(q)


def _cluster_tables(ind: pl.DataFrame, reference: Path) -> tuple[pl.DataFrame, pl.DataFrame, tuple[int, list]]:
    """cluster_totals, unmapped_industries and the cluster_mapping gate on harmonised rows."""
    with duckdb.connect() as con:
        register_frame(con, "industry_employment", ind)
        for name in ("cluster_naics", "clusters"):
            register_frame(con, name, pl.read_parquet(reference / f"{name}.parquet"))
        build_cluster_tables(con)
        gate = run_sql_check(
            con, "unmapped_share", {"max_unmapped_share": DEFAULT_PARAMS["max_unmapped_share"]}, table="industry_employment"
        )
        return fetch_frame(con, "SELECT * FROM cluster_totals"), fetch_frame(con, "SELECT * FROM unmapped_industries"), gate


# (year, its vintage, the vintage across the boundary a year rule off by one would pick)
BOUNDARY_FILES = [
    (2002, "1997", "2002"), (2003, "2002", "1997"),
    (2007, "2002", "2007"), (2008, "2007", "2002"),
    (2011, "2007", "2012"), (2012, "2012", "2007"),
    (2016, "2012", "2017"), (2017, "2017", "2012"),
    (2021, "2017", "2022"), (2022, "2017", "2022"),  # CBP 2022 is NAICS 2017, not 2022
    (2023, "2017", "2022"), (2024, "2022", "2017"),
]  # fmt: skip


@pytest.mark.parametrize(("year", "own", "other"), BOUNDARY_FILES)
def test_a_file_of_its_own_vintage_is_detected_and_fully_mapped(
    year: int, own: str, other: str, codes: dict[str, set[str]], definitions: pl.DataFrame, reference: Path,
    tmp_path: Path,
) -> None:
    mapped = set(definitions.filter(pl.col("naics_vintage") == own)["naics"])
    only_own = sorted((mapped & _six(codes[own])) - _six(codes[other]))[:6]
    assert len(only_own) >= 3, f"no codes valid only in NAICS {own} against {other}"
    rows = [(st, c, 100 + 10 * i) for i, c in enumerate(only_own) for st in ("01", "06")]
    z = write_zip(tmp_path / f"cbp{year % 100:02d}st.zip", f"cbp{year % 100:02d}st.txt", cbp_text(year, rows))

    ind, ev, quarantined = _parse(z, year, codes, tmp_path)
    assert (ev.vintage, ev.year_rule, ev.agrees) == (own, own, True)
    assert ev.shares[own] == 1.0 and ev.shares[other] == 0.0
    assert ind["classification"].unique().to_list() == [f"NAICS{own}"]
    assert quarantined.height == 0

    totals, unmapped, (failing, _) = _cluster_tables(ind, reference)
    six_emp = ind.filter(pl.col("industry_level") == 6)["emp"].sum()
    assert unmapped.height == 0 and failing == 0
    assert totals["emp"].sum() == pytest.approx(six_emp)  # no employment lost (split weights sum to 1)
    assert set(totals["definition_vintage"]) == {own}


def test_a_file_whose_codes_contradict_the_year_rule_is_mapped_by_its_codes(
    codes: dict[str, set[str]], definitions: pl.DataFrame, reference: Path, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 2012 file still coded in NAICS 2007: detected as 2007, warned about, and quarantined /
    mapped with the 2007 lists (the year's list would set every code aside)."""
    mapped = set(definitions.filter(pl.col("naics_vintage") == "2007")["naics"])
    only_2007 = sorted(mapped - _six(codes["2012"]))[:5]
    z = write_zip(tmp_path / "cbp12st.zip", "cbp12st.txt", cbp_text(2012, [("01", c, 50) for c in only_2007]))
    with caplog.at_level(logging.WARNING, logger="pipelines.staging.cbp"):
        ind, ev, quarantined = _parse(z, 2012, codes, tmp_path)
    assert (ev.vintage, ev.year_rule, ev.agrees) == ("2007", "2012", False)
    assert "codes say NAICS 2007, the year rule says NAICS 2012" in caplog.text
    assert ind["classification"].unique().to_list() == ["NAICS2007"] and quarantined.height == 0
    _, unmapped, (failing, _) = _cluster_tables(ind, reference)
    assert unmapped.height == 0 and failing == 0


# --- real values recoded to a later vintage: nothing may go unmapped -------------------------


def _recoded_2011(mirror_dir: Path, reference: Path, target: str, year: int, out: Path) -> Path:
    """The mirror's real 2011 state file (NAICS 2007), 6-digit rows recoded to NAICS `target`
    through the concordance (a code going to several takes the first), written as a `year` file."""
    raw = mirror_dir / "www2.census.gov/programs-surveys/cbp/datasets/2011/cbp11st.zip"
    with zipfile.ZipFile(raw) as zf:
        text = zf.read(zf.namelist()[0])
    df = pl.read_csv(io.BytesIO(text), infer_schema=False).filter(pl.col("NAICS").str.contains(r"^[0-9]{6}$"))
    df = df.filter(pl.col("LFO") == "-") if "LFO" in df.columns else df
    conc = pl.read_parquet(reference / "naics_concordance.parquet")
    link = conc.group_by("naics_2007").agg(pl.col(f"naics_{target}").min().alias("to"))
    mid = {"A": 10, "B": 60, "C": 175, "E": 375, "F": 750, "G": 1750, "H": 3750, "I": 7500, "J": 17500, "K": 37500, "L": 75000, "M": 100000}  # fmt: skip
    emp = pl.when(pl.col("EMPFLAG").is_in(list(mid))).then(pl.col("EMPFLAG").replace_strict(mid, default=None)).otherwise(pl.col("EMP").cast(pl.Int64))
    rec = (
        df.join(link, left_on="NAICS", right_on="naics_2007", how="inner")
        .group_by("FIPSTATE", "to")
        .agg(emp.sum().alias("emp"))
        .sort("FIPSTATE", "to")
    )
    rows = [(st, code, int(e)) for st, code, e in rec.iter_rows()]
    return write_zip(out / f"cbp{year % 100:02d}st.zip", f"cbp{year % 100:02d}st.txt", cbp_text(year, rows))


@pytest.mark.parametrize(("target", "year"), [("2012", 2012), ("2017", 2022)])
def test_real_values_recoded_lose_no_employment_and_the_old_mapping_is_stopped(
    target: str, year: int, mirror_dir: Path, codes: dict[str, set[str]], reference: Path, tmp_path: Path
) -> None:
    z = _recoded_2011(mirror_dir, reference, target, year, tmp_path)
    ind, ev, quarantined = _parse(z, year, codes, tmp_path)
    assert ev.vintage == target and ev.agrees and quarantined.height == 0
    _, unmapped, (failing, _) = _cluster_tables(ind, reference)
    assert unmapped.height == 0 and failing == 0

    # What the pipeline did before issue 11: 2012 joined to the 2007 definitions, 2022 to 2022.
    old = {"2012": "NAICS2007", "2017": "NAICS2022"}[target]
    _, unmapped_old, (failing_old, sample) = _cluster_tables(ind.with_columns(classification=pl.lit(old)), reference)
    six = ind.filter(pl.col("industry_level") == 6)
    share = unmapped_old["emp"].sum() / six["emp"].sum()
    print(f"{target} file mapped as {old}: {share:.1%} of 6-digit employment unmapped")
    assert share > DEFAULT_PARAMS["max_unmapped_share"]
    assert failing_old > 0  # the gate stops it, naming year, geography and codes
    assert {"year", "region_type", "region_code", "unmapped_share", "top_unmapped_codes"} <= set(sample[0])
    assert sample[0]["year"] == year and sample[0]["top_unmapped_codes"]


# --- the release gate ------------------------------------------------------------------------


def _industry(rows: list[tuple[str, str, float]], year: int = 2012, classification: str = "NAICS2012") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "year": [year] * len(rows), "region_type": ["state"] * len(rows), "region_code": [r[0] for r in rows],
            "classification": [classification] * len(rows), "industry_code": [r[1] for r in rows],
            "industry_level": [len(r[1]) for r in rows], "lfo": ["-"] * len(rows), "emp": [r[2] for r in rows],
        },
        schema_overrides={"year": pl.Int32, "industry_level": pl.Int8},
    )


CLUSTER_NAICS = pl.DataFrame({"naics_vintage": ["2012", "2012"], "naics": ["111111", "222222"], "cluster_code": ["1", "2"], "weight": [1.0, 1.0]})


def _gate(ind: pl.DataFrame, threshold: float) -> tuple[int, list]:
    with duckdb.connect() as con:
        register_frame(con, "industry_employment", ind)
        register_frame(con, "cluster_naics", CLUSTER_NAICS)
        return run_sql_check(con, "unmapped_share", {"max_unmapped_share": threshold}, table="industry_employment")


def test_gate_threshold_is_a_share_of_the_geography_years_six_digit_employment() -> None:
    at = _industry([("01", "111111", 600.0), ("01", "222222", 390.0), ("01", "999999", 10.0), ("01", "99", 5000.0)])
    assert _gate(at, 0.01)[0] == 0  # exactly 1 % passes; 2-digit rows do not count
    over = _industry([("01", "111111", 600.0), ("01", "222222", 389.0), ("01", "999999", 11.0), ("06", "111111", 50.0)])
    n, sample = _gate(over, 0.01)
    assert n == 1
    assert sample[0]["region_code"] == "01" and sample[0]["year"] == 2012
    assert sample[0]["unmapped_share"] == pytest.approx(0.011) and sample[0]["top_unmapped_codes"] == ["999999 (11)"]
    assert _gate(over, 0.02)[0] == 0  # the named parameter decides
    # the codes are read in their own vintage: the same rows as NAICS 2007 map to nothing
    assert _gate(over.with_columns(classification=pl.lit("NAICS2007")), 0.01)[0] == 2


def test_gate_default_is_the_release_parameter_and_the_suite_blocks() -> None:
    assert DEFAULT_PARAMS["max_unmapped_share"] == 0.01
    suite = load_suite("cluster_mapping")
    spec = suite.expectations[0]
    assert spec.severity == "error" and spec.params == {"max_unmapped_share": DEFAULT_PARAMS["max_unmapped_share"]}
    assert US_WAREHOUSE_SUITES["cluster_mapping"] == "industry_employment"
    assert us_warehouse_params() == {"max_unmapped_share": 0.01}


# --- growth across a definition break --------------------------------------------------------


def test_growth_spanning_a_definition_vintage_is_flagged() -> None:
    clusters = pl.DataFrame({"cluster_code": ["1"], "traded": [True]})
    rows = [
        (2002, "01", 100.0, "1997"), (2003, "01", 120.0, "2002"), (2004, "01", 130.0, "2002"),
        (2003, "06", 50.0, "2002"), (2004, "06", 55.0, "2002"),
    ]  # fmt: skip
    totals = pl.DataFrame(
        {
            "year": [r[0] for r in rows], "region_type": ["state"] * len(rows), "region_code": [r[1] for r in rows],
            "cluster_code": ["1"] * len(rows), "emp": [r[2] for r in rows], "emp_reported": [r[2] for r in rows],
            "est": [10.0] * len(rows), "payroll": [1000.0] * len(rows), "definition_vintage": [r[3] for r in rows],
        },
        schema_overrides={"year": pl.Int32},
    )
    ci = indicators_from_totals(totals, clusters)["cluster_indicators"].sort("region_code", "year")
    got = {(r["region_code"], r["year"]): (r["definition_vintage"], r["vintage_break"]) for r in ci.iter_rows(named=True)}
    assert got == {
        ("01", 2002): ("1997", None), ("01", 2003): ("2002", True), ("01", 2004): ("2002", True),
        ("06", 2003): ("2002", None), ("06", 2004): ("2002", False),
    }
    # researcher-supplied totals without the column: unknown, never a silent False
    bare = indicators_from_totals(totals.drop("definition_vintage"), clusters)["cluster_indicators"]
    assert bare["vintage_break"].null_count() == bare.height


def test_release_note_lists_each_files_vintage_and_the_breaks() -> None:
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE cluster_indicators AS SELECT * FROM (VALUES "
            "(2002, '1997', NULL), (2003, '2002', true), (2007, '2002', true), (2008, '2007', true)) "
            "AS t(year, definition_vintage, vintage_break)"
        )
        sources = [
            {"source_id": "census/cbp/state/2012", "naics_vintage": "2007",
             "naics_vintage_evidence": {"year_rule": "2012", "shares": {"2007": 1.0, "2012": 0.8}}},
            {"source_id": "clustermapping/regions"},
        ]  # fmt: skip
        text = naics_vintage_notes(con, sources)
    assert text is not None
    assert "- 2002 → 2003: NAICS 1997 → NAICS 2002 definitions" in text
    assert "- 2007 → 2008: NAICS 2002 → NAICS 2007 definitions" in text
    assert "| census/cbp/state/2012 | 2007 | 2012 (disagrees) | 1.0000 | 2012 (0.8000) |" in text
    assert "(3 rows)" in text and "clustermapping/regions" not in text


# --- recorded per file: staging sidecar, raw-archive manifest, release sources ---------------


def test_staging_records_the_vintage_in_the_sidecar_and_the_archive_manifest(settings: Settings) -> None:
    stage_reference(settings)
    stage_cbp(settings, 2002)
    side = json.loads(cbp_staged_path(settings, 2002, "state").with_suffix(".json").read_text())
    assert side["naics_vintage"] == "1997" and side["naics_vintage_evidence"]["agrees"] is True
    assert side["naics_vintage_evidence"]["shares"]["1997"] > side["naics_vintage_evidence"]["shares"]["2002"]
    archive = RawArchive(settings.raw_dir)
    sid = cbp.source_id(2002, "state")
    [entry] = archive.entries(sid)
    assert entry["naics_vintage"] == "1997" and archive.latest(sid).naics_vintage == "1997"
    lines = archive.manifest_path(sid).read_text().splitlines()
    assert len(lines) == 2  # the file record, then one annotation (append-only)
    # a re-stage that finds the same vintage writes nothing; another vintage is appended, not rewritten
    assert archive.record_naics_vintage(sid, entry["sha256"], {"naics_vintage": "1997"}) is False
    assert archive.record_naics_vintage(sid, entry["sha256"], {"naics_vintage": "2002"}) is True
    assert archive.manifest_path(sid).read_text().splitlines()[:2] == lines
    assert archive.entries(sid)[0]["naics_vintage"] == "2002"
    src = next(s for s in staged_sources(Settings(warehouse=settings.warehouse, mirror=settings.mirror, cbp_years=(2002,))) if s["source_id"] == sid)
    assert src["naics_vintage"] == "1997"
    with pytest.raises(KeyError, match="no archived file"):
        archive.record_naics_vintage(sid, "f" * 64, {"naics_vintage": "2002"})


def test_researcher_totals_keep_their_definition_vintage(tmp_path: Path) -> None:
    from pipelines.warehouse.indicators import read_cluster_totals

    csv = tmp_path / "totals.csv"
    csv.write_text(
        "year,region_type,region_code,cluster_code,emp,emp_reported,est,payroll,definition_vintage\n"
        "2016,state,01,1,100,100,1,100,2012\n2017,state,01,1,120,120,1,120,2017\n"
    )
    # supplied totals carry no definition effect: a vintage change is flagged (unknown = material)
    ci = indicators_from_totals(read_cluster_totals(csv), pl.DataFrame({"cluster_code": ["1"], "traded": [True]}))
    assert ci["cluster_indicators"].sort("year")["vintage_break"].to_list() == [None, True]


def test_dagster_registers_the_gate_as_blocking_and_warns_on_a_disagreeing_year(tmp_path: Path) -> None:
    from pipelines.defs import checks

    specs = {(s.asset_key.to_user_string(), s.name): s for s in checks.warehouse_checks.check_specs}
    assert specs[("industry_employment", "cluster_mapping_errors")].blocking
    cbp_specs = {s.name: s for s in checks.CBP_CHECKS_BY_GEO["state"].check_specs}
    assert not cbp_specs["cbp_naics_vintage"].blocking

    settings = Settings(warehouse=tmp_path / "wh", mirror=None)
    for year, found in ((2011, "2007"), (2012, "2007")):
        side = cbp_staged_path(settings, year, "state").with_suffix(".json")
        side.parent.mkdir(parents=True, exist_ok=True)
        ev = {"naics_vintage": found, "year_rule": cbp_naics_vintage(year), "shares": {found: 1.0}}
        side.write_text(json.dumps({"naics_vintage_evidence": ev}))
    res = checks._vintage_check("cbp_state", settings, [2011, 2012], "state")
    assert not res.passed and res.metadata["disagreeing_years"].value == [2012]
    assert checks._vintage_check("cbp_state", settings, [2011], "state").passed
