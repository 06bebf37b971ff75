"""Coverage of the 6-digit detail (region_indicators.coverage): the rule by hand, the warning
check, agreement with the raw mirror files and their notes, and the release description that
discloses partial inputs."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from pipelines.config import Settings
from pipelines.layout import reference_dir
from pipelines.raw.mirror import Mirror
from pipelines.release import notes
from pipelines.release.publish import publish_release
from pipelines.staging.cbp import stage_cbp, staged_cbp_paths
from pipelines.staging.reference import stage_reference
from pipelines.validation import engines
from pipelines.validation.results import Outcome
from pipelines.validation.suites import load_suite
from pipelines.warehouse import database
from pipelines.warehouse.indicators import build_cluster_tables, indicators_from_totals
from pipelines.warehouse.sql import fetch_frame, register_frame
from tests.helpers.release_samples import DAY, sample_tables
from tests.helpers.release_samples import sources as sample_sources

CLUSTERS = pl.DataFrame({"cluster_code": ["1", "101"], "traded": [True, False]})
CLUSTER_NAICS = pl.DataFrame(
    {"naics_vintage": ["2007", "2007"], "naics": ["111110", "111120"], "cluster_code": ["1", "101"], "weight": [1.0, 1.0]}
)


def _industry(rows: list[tuple]) -> pl.DataFrame:
    """(region, industry_code, lfo, emp, emp_reported) rows of 2010, harmonised columns."""
    return pl.DataFrame(
        [
            (2010, "state", r, "NAICS2007", code, 0 if code == "TOTAL" else len(code), lfo, emp, rep, 1, None, None, rep is None)
            for r, code, lfo, emp, rep in rows
        ],
        schema={
            "year": pl.Int32, "region_type": pl.String, "region_code": pl.String, "classification": pl.String,
            "industry_code": pl.String, "industry_level": pl.Int8, "lfo": pl.String, "emp": pl.Float64,
            "emp_reported": pl.Float64, "est": pl.Int64, "payroll": pl.Int64, "qp1": pl.Int64, "emp_imputed": pl.Boolean,
        },
        orient="row",
    )  # fmt: skip


def _region_indicators(ind: pl.DataFrame, groups: dict[str, list[str]] | None = None) -> pl.DataFrame:
    with duckdb.connect() as con:
        register_frame(con, "industry_employment", ind)
        register_frame(con, "cluster_naics", CLUSTER_NAICS)
        register_frame(con, "clusters", CLUSTERS)
        if groups is not None:
            register_frame(con, "custom_regions", pl.DataFrame(
                {"region_type": "custom", "region_code": list(groups), "base_type": "state", "members": list(groups.values())},
                schema_overrides={"members": pl.List(pl.String)},
            ))  # fmt: skip
        build_cluster_tables(con)
        return fetch_frame(con, "SELECT * FROM region_indicators ORDER BY region_type, region_code")


def test_coverage_by_hand() -> None:
    """6-digit rows of all legal forms (reported + midpoints) over the TOTAL row; other legal
    forms and coarser codes left out; null without a total row, also for a group missing one."""
    ind = _industry([
        ("01", "TOTAL", "-", 1000.0, 1000.0),
        ("01", "111110", "-", 500.0, 500.0),
        ("01", "111120", "-", 300.0, None),  # suppressed: EMPFLAG midpoint
        ("01", "111110", "C", 999.0, 999.0),  # a legal form: already inside the '-' row
        ("01", "11111", "-", 800.0, 800.0),  # 5-digit parent: not detail
        ("02", "111110", "-", 40.0, 40.0),  # no total row in the file
        ("03", "TOTAL", "-", 200.0, 200.0),
        ("03", "111110", "-", 210.0, 210.0),  # midpoints/rounding can exceed the total: kept as is
    ])  # fmt: skip
    ri = _region_indicators(ind, {"G12": ["01", "02"], "G13": ["01", "03"]})
    by = {r["region_code"]: r for r in ri.to_dicts()}
    assert by["01"]["total_emp"] == 1000 and by["01"]["six_digit_emp"] == 800
    assert by["01"]["coverage"] == pytest.approx(0.8) and by["01"]["coverage_reported"] == pytest.approx(0.5)
    assert by["02"]["coverage"] is None and by["02"]["total_emp"] is None and by["02"]["six_digit_emp"] == 40
    assert by["03"]["coverage"] == pytest.approx(1.05)
    assert by["G12"]["coverage"] is None and by["G12"]["total_emp"] is None  # 02 has no total: never half a group
    assert by["G13"]["coverage"] == pytest.approx(1010 / 1200) and by["G13"]["coverage_reported"] == pytest.approx(710 / 1200)


def test_coverage_is_null_for_supplied_cluster_totals() -> None:
    """Cluster totals from elsewhere carry no total row: coverage unknown, not zero."""
    t = pl.DataFrame(
        {"year": [2010, 2010], "region_type": ["state"] * 2, "region_code": ["A", "A"], "cluster_code": ["1", "101"],
         "emp": [10.0, 20.0], "emp_reported": [10.0, 20.0], "est": [1.0, 1.0], "payroll": [5.0, 5.0]},
        schema_overrides={"year": pl.Int32},
    )  # fmt: skip
    ri = indicators_from_totals(t, CLUSTERS)["region_indicators"]
    assert {"coverage", "coverage_reported", "total_emp", "six_digit_emp"} <= set(ri.columns)
    assert ri["coverage"].to_list() == [None] and ri["total_emp"].to_list() == [None]


def _sql_outcomes(ri: pl.DataFrame) -> dict[str, Outcome]:
    """The region_indicators suite's SQL checks (GX would add a minute here, and is not the subject)."""
    suite = load_suite("region_indicators")
    with duckdb.connect() as con:
        register_frame(con, "region_indicators", ri)
        return {o.id: o for o in engines._run_sql(suite, con, {})}


def test_coverage_warning_below_threshold() -> None:
    """The warning check lists region-years under the suite's threshold, ignores null, never blocks."""
    threshold = notes.coverage_threshold()
    assert threshold == 0.95  # the rule: warn below 95 %
    spec = load_suite("region_indicators")
    assert next(e for e in spec.expectations if e.id == "coverage_below_min").severity == "warning"
    base = sample_tables(years=(2010,), n_states=3)["region_indicators"]
    out = _sql_outcomes(base.with_columns(coverage=pl.Series([threshold - 0.001, threshold + 0.001, None])))["coverage_below_min"]
    assert out.failed and out.failing_count == 1 and out.severity == "warning"
    assert out.sample[0]["region_code"] == base["region_code"][0]
    assert out.sample[0]["coverage"] == pytest.approx(threshold - 0.001)
    assert not _sql_outcomes(base.with_columns(coverage=pl.lit(threshold)))["coverage_below_min"].failed


# --- against the mirror: the raw files and what their notes say ------------------------------

# EMPFLAG employment-size classes of the CBP record layout (pre-2017): range midpoints.
CENSUS_EMPFLAG_MIDPOINT = {"A": 10, "B": 60, "C": 175, "E": 375, "F": 750, "G": 1750, "H": 3750, "I": 7500,
                           "J": 17500, "K": 37500, "L": 75000, "M": 100000}  # fmt: skip


def _raw_coverage(zip_path: Path) -> pl.DataFrame:
    """Per state, straight from the upstream-format zip: 6-digit employment over '------'."""
    with zipfile.ZipFile(zip_path) as zf:
        text = zf.read(zf.namelist()[0])
    df = pl.read_csv(io.BytesIO(text), infer_schema=False).rename(str.upper)
    if "LFO" in df.columns:
        df = df.filter(pl.col("LFO") == "-")
    emp = (
        pl.when(pl.col("EMPFLAG").fill_null("") != "")
        .then(pl.col("EMPFLAG").replace_strict(CENSUS_EMPFLAG_MIDPOINT, default=None, return_dtype=pl.Float64))
        .otherwise(pl.col("EMP").cast(pl.Float64))
    )
    df = df.with_columns(emp=emp)
    six = df.filter(pl.col("NAICS").str.contains(r"^[0-9]{6}$")).group_by("FIPSTATE").agg(six=pl.col("emp").sum())
    tot = df.filter(pl.col("NAICS") == "------").select("FIPSTATE", total=pl.col("emp"))
    return six.join(tot, on="FIPSTATE").select(region_code="FIPSTATE", raw=pl.col("six") / pl.col("total"), six="six", total="total")


def _stated_range(note: str) -> tuple[float, float]:
    """The coverage the mirror's note states, as a fraction range ('99.9-100.5 %', 'about 87 %')."""
    m = re.search(r"(\d+(?:\.\d+)?)\s*[-–]\s*(\d+(?:\.\d+)?)\s*%", note)
    if m:
        return float(m[1]) / 100 - 0.0005, float(m[2]) / 100 + 0.0005
    m = re.search(r"about (\d+(?:\.\d+)?)\s*%", note)
    assert m, f"mirror note states no coverage: {note!r}"
    return float(m[1]) / 100 - 0.01, float(m[1]) / 100 + 0.01


def test_coverage_matches_the_raw_files_and_the_mirror_notes(mirror_dir: Path, tmp_path: Path) -> None:
    """Published coverage = the raw file's own arithmetic for every state, and the pooled figure
    is what the mirror says of the file (one NAICS 1997 year, one NAICS 2007 year)."""
    years = (2001, 2010)
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, cbp_years=years, offline=True, eurostat=False)
    stage_reference(settings)
    for y in years:
        stage_cbp(settings, y)
    with duckdb.connect() as con:
        database.build_indicators(con, staged_cbp_paths(settings), reference_dir(settings))
        ri = fetch_frame(con, "SELECT * FROM region_indicators")
        by_year = {r["year"]: r for r in notes.coverage_by_year(con) if r["region_type"] == "state"}
    mirror = Mirror(mirror_dir)
    for y in years:
        entry = mirror.by_id(f"census/cbp/state/{y}")
        raw = _raw_coverage(entry.path)
        got = ri.filter(pl.col("year") == y).join(raw, on="region_code", how="full", coalesce=True)
        assert got.height == raw.height == by_year[y]["regions"] and got["coverage"].null_count() == 0
        assert (got["coverage"] - got["raw"]).abs().max() < 1e-9, y
        pooled = raw["six"].sum() / raw["total"].sum()
        assert by_year[y]["coverage"] == pytest.approx(pooled, abs=1e-6)
        lo, hi = _stated_range(entry.note)
        assert lo <= pooled <= hi, (y, pooled, entry.note)


# --- the release says what it covers ----------------------------------------------------------

PARTIAL_NOTE = "Partial: 6-digit rows cover about 87 % of the state total; construction detail absent."


def _coverage_meta(rows: list[tuple[int, float, float, float, int]]) -> dict:
    return {
        "years_present": {"United States": {"state": [r[0] for r in rows]}, "Europe": {"nuts2": [2008, 2009]}},
        "six_digit": {"threshold": 0.95, "by_year": [
            {"year": y, "region_type": "state", "regions": 6, "regions_with_total": 6, "coverage": c,
             "coverage_reported": c - 0.05, "coverage_min": lo, "coverage_max": hi, "regions_below": below}
            for y, c, lo, hi, below in rows
        ]},
    }  # fmt: skip


def _publish(tmp_path: Path, partial: bool) -> Path:
    srcs = sample_sources()
    if partial:
        srcs[0] = {**srcs[0], "mirror_kind": "partial-reconstruction", "note": PARTIAL_NOTE}
    srcs.append({"source_id": "eurostat/sbs_r_nuts06_r2", "url": "https://ec.europa.eu/eurostat/x.tsv.gz", "sha256": "3" * 64,
                 "bytes": 9, "mirror_kind": "upstream-file", "attribution": "Eurostat, Structural business statistics (CC BY 4.0)"})  # fmt: skip
    cov = _coverage_meta([(2010, 0.8712, 0.83, 0.94, 6 if partial else 0), (2011, 1.0049, 0.992, 1.033, 0)])
    if not partial:
        cov["six_digit"]["by_year"][0].update(coverage=0.99, coverage_min=0.97)
    res = publish_release(sample_tables(years=(2010, 2011)), releases_dir=tmp_path / "releases", sources=srcs,
                          params={"p": 1}, today=DAY, metadata={"coverage": cov}, bundle=False)  # fmt: skip
    assert res.path is not None
    return res.path


def test_release_built_on_partial_inputs_says_so_first(tmp_path: Path) -> None:
    rel = _publish(tmp_path, partial=True)
    pkg = json.loads((rel / "datapackage.json").read_text())
    desc = pkg["description"]
    first, rest = desc.split(". ", 1)
    assert "Regional cluster indicators" in first and rest.startswith("PARTIAL DATA.")
    assert "census/cbp/state/2011" in desc and "2010 87.1 %" in desc and "2011 100.5 %" in desc
    assert "single regions 83.0 %–103.3 %" in desc and "Below 95 %: 6 of 12 state-years" in desc
    assert "United States: state 2010–2011" in desc and "Europe: nuts2 2008–2009" in desc
    cff = yaml.safe_load((rel / "CITATION.cff").read_text())
    assert cff["abstract"] == desc
    cited = " ".join(r["title"] for r in cff["references"])
    assert "Eurostat" in cited and "County Business Patterns" in cited and "clustermapping.us" in cited
    changelog = (rel / "CHANGELOG.md").read_text().split("\n")
    assert changelog[2].startswith("## ") and changelog[4].startswith("**PARTIAL DATA.**")
    page = (rel / "index.html").read_text()
    assert '<div class="notice"><strong>Partial data.</strong>' in page and PARTIAL_NOTE in page
    # the overview says so before any figure: the profiles and maps come after it
    overview = page.index('id="overview"')
    assert overview < page.index("PARTIAL DATA.") < page.index('id="region-profile"') < page.index('id="maps"')
    ld = json.loads((rel / "dataset.jsonld").read_text())
    assert ld["description"] == desc and ld["temporalCoverage"] == "2008/2011"
    places = {p["name"]: p["description"] for p in ld["spatialCoverage"]}
    assert places.keys() == {"United States", "Europe"} and places["Europe"].endswith("nuts2 2008–2009")
    assert any(c.startswith("Eurostat, Structural business statistics (CC BY 4.0): eurostat/sbs_r_nuts06_r2.") for c in ld["citation"])
    assert any("Delgado" in c for c in ld["citation"])
    eurostat = next(s for s in pkg["sources"] if s["title"].startswith("eurostat/"))
    assert "CC BY" in eurostat["licenses"][0]["title"] or eurostat["licenses"][0]["name"] == "CC-BY-4.0"


def test_release_on_complete_inputs_has_no_caveat(tmp_path: Path) -> None:
    rel = _publish(tmp_path, partial=False)
    desc = json.loads((rel / "datapackage.json").read_text())["description"]
    assert "PARTIAL" not in desc and "PARTIAL" not in (rel / "CHANGELOG.md").read_text()
    assert "Partial data" not in (rel / "index.html").read_text()
    assert "Region types and years present" in desc
    assert "European" not in desc.split(". ")[0]  # no EU table in this release: no claim about Europe


def test_years_present_are_the_tables_years_and_europe_only_when_released() -> None:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE region_indicators AS SELECT * FROM (VALUES (2001, 'state'), (2002, 'state'), (2005, 'state'), (2002, 'custom')) t(year, region_type)")
        con.execute("CREATE TABLE eu_cluster_indicators AS SELECT * FROM (VALUES (2008, 'nuts2'), (2009, 'nuts2')) t(year, region_type)")
        both = notes.years_present(con)
        us_only = notes.years_present(con, europe=False)  # stale EU tables in the warehouse, not released
    assert both == {"United States": {"custom": [2002], "state": [2001, 2002, 2005]}, "Europe": {"nuts2": [2008, 2009]}}
    assert us_only == {"United States": {"custom": [2002], "state": [2001, 2002, 2005]}}
