"""Expectation suites on injected frames: each bad frame is caught by the intended expectation."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.sources import cbp
from pipelines.staging.harmonise import HARMONISED_SCHEMA
from pipelines.staging.quarantine import QUARANTINE_SCHEMA, cbp_quarantine_split, expand_naics
from pipelines.validation.engines import run_sql_check, validate_frame
from pipelines.validation.report import outcomes_markdown, write_report
from pipelines.validation.results import SuiteResult, cached, save_result
from pipelines.validation.suites import CHECKS_SQL_DIR, load_suite, suite_names

SHA = "a" * 64


def _row(year: int, region: str, code: str, emp: float | None, est: int = 5, **kw) -> dict:
    level = 0 if code == "TOTAL" else len(code)
    return {
        "year": year, "region_type": "state", "region_code": region,
        "classification": "NAICS2007" if year >= 2008 else "NAICS2002",
        "industry_code": code, "industry_level": level, "lfo": "-",
        "emp": emp, "emp_reported": None if emp is None else int(emp), "empflag": None, "emp_nf": None,
        "emp_imputed": False, "est": est, "payroll": 100, "payroll_nf": None, "qp1": None, "qp1_nf": None,
        "source_id": f"census/cbp/state/{year}", "source_sha256": SHA, **kw,
    }  # fmt: skip


def _industry(rows: list[dict] | None = None) -> pl.DataFrame:
    base = []
    for year in (2010, 2011):
        for region in ("01", "06"):
            base += [
                _row(year, region, "TOTAL", 1000.0, 50),
                _row(year, region, "31", 400.0, 20),
                _row(year, region, "311", 400.0, 20),
                _row(year, region, "311111", 300.0, 10),
                _row(year, region, "541", 300.0, 10),
                _row(year, region, "541110", 300.0, 10),
            ]
    return pl.DataFrame(base + (rows or []), schema=HARMONISED_SCHEMA)


CODES = expand_naics(["311111", "541110"])
PARAMS = {
    "naics_codes@2010": CODES, "naics_codes@2011": CODES,
    "classifications@2010": ["NAICS2007"], "classifications@2011": ["NAICS2007"],
}  # fmt: skip


def _run(suite: str, df: pl.DataFrame, **kw) -> SuiteResult:
    return validate_frame(suite, df, **kw)


def test_every_suite_loads_and_names_existing_sql() -> None:
    names = suite_names()
    assert {"cbp_parsed", "harmonised", "cluster_indicators", "eurostat_parsed", "eu_indicators",
            "reference_clusters", "reference_cluster_naics", "reference_regions"} <= set(names)  # fmt: skip
    for n in names:
        s = load_suite(n)
        assert s.expectations and all(e.severity in ("error", "warning") and e.description for e in s.expectations)
        for e in s.by_engine("sql"):
            assert (CHECKS_SQL_DIR / f"{e.sql}.sql").exists()


def test_clean_frames_pass() -> None:
    df = _industry()
    parsed = _run("cbp_parsed", df, params=PARAMS, by="year")
    assert parsed.success, outcomes_markdown(parsed.blocking_failures)
    assert not parsed.warnings
    assert parsed.outcome("naics_known_for_vintage").status == "passed"
    harm = _run("harmonised", df, by="year")
    assert harm.success and not harm.warnings, outcomes_markdown(harm.outcomes)


def test_duplicate_keys_are_caught_by_key_unique() -> None:
    df = _industry([_row(2011, "06", "541110", 5.0)])
    res = _run("harmonised", df, by="year")
    assert res.failed_ids() == {"key_unique"}
    o = res.outcome("key_unique")
    assert o.severity == "error" and o.failing_count == 2
    assert {r["region_code"] for r in o.sample} == {"06"} and o.sample[0]["scope"] == "year=2011"


def test_negative_employment_is_caught() -> None:
    df = _industry([_row(2010, "01", "541", -3.0)]).unique(
        subset=["year", "region_code", "industry_code"], keep="last", maintain_order=True
    )
    res = _run("cbp_parsed", df, params=PARAMS, by="year")
    assert "emp_non_negative" in res.failed_ids("error")
    assert res.outcome("emp_non_negative").failing_count == 1
    assert not res.success


def test_unknown_naics_for_vintage_is_caught() -> None:
    df = _industry([_row(2011, "01", "999999", 1.0)])
    res = _run("cbp_parsed", df, params=PARAMS, by="year")
    assert res.failed_ids("error") == {"naics_known_for_vintage"}
    o = res.outcome("naics_known_for_vintage")
    assert o.failing_count == 1 and o.sample[0]["industry_code"] == "999999"


def test_naics_membership_is_skipped_not_dropped_without_a_code_list() -> None:
    res = _run("cbp_parsed", _industry(), params={}, by="year")
    o = res.outcome("naics_known_for_vintage")
    assert o.status == "skipped" and "naics_codes" in o.message
    assert res.outcome("classification_matches_year").status == "skipped"


def test_bad_fips_and_emp_reported_above_emp() -> None:
    bad = _row(2010, "03", "541110", 10.0)  # FIPS 03 is not assigned
    over = {**_row(2010, "01", "311", 400.0, 20), "emp_reported": 500}
    df = _industry([bad]).filter(~((pl.col("year") == 2010) & (pl.col("region_code") == "01") & (pl.col("industry_code") == "311")))
    df = pl.concat([df, pl.DataFrame([over], schema=HARMONISED_SCHEMA)])
    res = _run("cbp_parsed", df, params=PARAMS, by="year")
    assert {"state_fips_valid", "emp_reported_le_emp"} <= res.failed_ids("error")


def test_six_digit_rows_above_the_total_are_caught() -> None:
    df = _industry().with_columns(
        pl.when((pl.col("industry_code") == "541110") & (pl.col("region_code") == "06") & (pl.col("year") == 2010))
        .then(pl.lit(5000, dtype=pl.Int64)).otherwise(pl.col("emp_reported")).alias("emp_reported"),
        pl.when((pl.col("industry_code") == "541110") & (pl.col("region_code") == "06") & (pl.col("year") == 2010))
        .then(pl.lit(5000.0)).otherwise(pl.col("emp")).alias("emp"),
    )  # fmt: skip
    res = _run("cbp_parsed", df, params=PARAMS, by="year")
    assert res.failed_ids("error") == {"six_digit_within_total"}
    o = res.outcome("six_digit_within_total")
    assert o.failing_count == 1 and o.sample[0]["region_code"] == "06" and o.sample[0]["year"] == 2010


def test_warnings_do_not_block_and_are_reported() -> None:
    est0 = _row(2010, "01", "541", 300.0, 0)
    df = _industry([est0]).unique(subset=["year", "region_code", "industry_code"], keep="last", maintain_order=True)
    # Suppressed cells: all 6-digit rows of Alabama 2011 withheld (imputed).
    df = df.with_columns(
        pl.when((pl.col("region_code") == "01") & (pl.col("year") == 2011) & (pl.col("industry_level") == 6))
        .then(None).otherwise(pl.col("emp_reported")).alias("emp_reported")
    )
    res = _run("cbp_parsed", df, params=PARAMS, by="year")
    assert res.success
    assert {o.id for o in res.warnings} == {"est_positive_where_emp", "suppressed_share"}
    share = res.outcome("suppressed_share")
    assert share.sample[0]["region_code"] == "01" and share.sample[0]["suppressed_share"] == 1.0


def test_year_over_year_jump_warns_with_the_rows() -> None:
    df = _industry().with_columns(
        pl.when((pl.col("region_code") == "06") & (pl.col("year") == 2011) & pl.col("industry_code").is_in(["TOTAL", "31"]))
        .then(pl.col("emp") * 10).otherwise(pl.col("emp")).alias("emp")
    )
    res = _run("harmonised", df, by="year")
    assert res.success and [o.id for o in res.warnings] == ["yoy_jumps"]
    rows = res.outcome("yoy_jumps").sample
    assert {(r["region_code"], r["industry_code"], r["prev_year"], r["year"]) for r in rows} == {
        ("06", "TOTAL", 2010, 2011), ("06", "31", 2010, 2011)}  # fmt: skip


def test_wrong_dtypes_are_caught_by_the_schema_expectation() -> None:
    df = _industry().with_columns(pl.col("emp_reported").cast(pl.Float64), pl.col("year").cast(pl.Int64))
    res = _run("harmonised", df)
    o = res.outcome("schema_dtypes")
    assert o.failed and {r["column"] for r in o.sample} == {"emp_reported", "year"}


# --- cluster indicators ---------------------------------------------------------------------


def _indicators() -> pl.DataFrame:
    rows = []
    for region, (a, b, loc) in {"01": (60.0, 40.0, 100.0), "06": (30.0, 70.0, 50.0)}.items():
        for code, emp, ctype in (("1", a, "traded"), ("2", b, "traded"), ("101", loc, "local")):
            base = a + b if ctype == "traded" else loc
            rows.append({
                "year": 2010, "region_type": "state", "region_code": region, "cluster_code": code,
                "cluster_type": ctype, "emp": emp, "lq": 1.0, "region_emp_share": emp / base,
                "cluster_emp_share": 0.5, "strong": (code == "1") if ctype == "traded" else None,
                "strong10": False if ctype == "traded" else None,
            })  # fmt: skip
    return pl.DataFrame(rows)


CLUSTER_PARAMS = {"cluster_codes": {"1", "2", "101"}}


def _eu(df: pl.DataFrame) -> pl.DataFrame:
    """The indicator frame as EU indicators: NUTS 2 regions, stars instead of strong flags."""
    return df.with_columns(
        pl.lit("nuts2").alias("region_type"),
        pl.col("region_code").replace({"01": "DE11", "06": "FR10"}),
        pl.when(pl.col("strong")).then(2).otherwise(0).alias("eco2011_stars"),
        pl.when(pl.col("strong")).then(1).otherwise(0).alias("panorama_stars"),
        pl.lit(False).alias("extra_regio"),
    ).drop("strong10")


EU_PARAMS = {**CLUSTER_PARAMS, "nuts_codes": {"DE11", "FR10"}}


def test_clean_eu_indicators_pass() -> None:
    res = _run("eu_indicators", _eu(_indicators()), params=EU_PARAMS)
    assert res.success and not res.warnings, outcomes_markdown(res.outcomes)


def test_share_sums_off_negative_lq_and_stars_for_local_are_caught() -> None:
    df = _eu(_indicators()).with_columns(
        pl.when((pl.col("region_code") == "FR10") & (pl.col("cluster_code") == "2"))
        .then(0.5).otherwise(pl.col("region_emp_share")).alias("region_emp_share"),
        pl.when(pl.col("cluster_code") == "2").then(-0.5).otherwise(pl.col("lq")).alias("lq"),
        pl.when(pl.col("cluster_type") == "local").then(1).otherwise(pl.col("eco2011_stars")).alias("eco2011_stars"),
    )
    res = _run("eu_indicators", df, params=EU_PARAMS)
    assert res.failed_ids("error") == {"region_share_sums_to_one", "lq_non_negative", "stars_only_traded"}
    share = res.outcome("region_share_sums_to_one")
    assert share.failing_count == 1 and share.sample[0]["region_code"] == "FR10"
    assert share.sample[0]["cluster_type"] == "traded" and share.sample[0]["share_sum"] == pytest.approx(0.8)


def test_us_cluster_indicator_suite_catches_share_sums_and_unknown_clusters() -> None:
    df = _indicators().with_columns(
        pl.when(pl.col("region_code") == "01").then(pl.col("region_emp_share") * 2).otherwise(pl.col("region_emp_share")).alias("region_emp_share"),
        pl.col("cluster_code").replace({"2": "77"}),
        pl.when(pl.col("cluster_type") == "local").then(True).otherwise(pl.col("strong")).alias("strong"),
    )  # fmt: skip
    res = _run("cluster_indicators", df, params=CLUSTER_PARAMS)
    failed = res.failed_ids("error")
    assert {"region_share_sums_to_one", "region_emp_share_unit", "cluster_code_known", "strong_only_traded"} <= failed
    assert res.outcome("strong_only_traded").failing_count == 2
    # Columns the test frame lacks fail loudly (schema), they are not skipped.
    assert "schema_dtypes" in failed


# --- Eurostat -------------------------------------------------------------------------------


def _eurostat(rows: list[dict] | None = None) -> pl.DataFrame:
    base = [
        {"year": 2012, "region_type": "nuts0", "region_code": "DE", "classification": "NACE_R2", "industry_code": "C10", "emp": 100.0, "est": 4},
        {"year": 2012, "region_type": "nuts1", "region_code": "DE1", "classification": "NACE_R2", "industry_code": "C10", "emp": 60.0, "est": 3},
        {"year": 2012, "region_type": "nuts2", "region_code": "DE11", "classification": "NACE_R2", "industry_code": "C10", "emp": 30.0, "est": 2},
        {"year": 2012, "region_type": "nuts2", "region_code": "DE11", "classification": "NACE_R2", "industry_code": "C", "emp": None, "est": 2},
        {"year": 2012, "region_type": "nuts2", "region_code": "DE11", "classification": "NACE_R2", "industry_code": "M72", "emp": 10.0, "est": 1},
    ]  # fmt: skip
    return pl.DataFrame(base + (rows or []), schema_overrides={"emp": pl.Float64, "est": pl.Int64})


def test_eurostat_clean_frame_passes() -> None:
    res = _run("eurostat_parsed", _eurostat(), params={"nuts_codes": {"DE", "DE1", "DE11"}, "nace_codes": {"C", "C10", "M72"}})
    assert res.success and not res.warnings, outcomes_markdown(res.outcomes)


def test_malformed_nuts_is_caught() -> None:
    bad = {"year": 2012, "region_type": "nuts2", "region_code": "de-11", "classification": "NACE_R2", "industry_code": "C10", "emp": 1.0, "est": 1}
    bad1 = {"year": 2012, "region_type": "nuts1", "region_code": "DE11", "classification": "NACE_R2", "industry_code": "C10", "emp": 1.0, "est": 1}
    res = _run("eurostat_parsed", _eurostat([bad, bad1]), params={"nace_codes": {"C", "C10", "M72"}})
    assert res.failed_ids("error") == {"nuts2_format", "nuts1_format"}
    assert res.outcome("nuts2_format").sample[0]["region_code"] == "de-11"
    assert res.outcome("nuts_known_for_version").status == "skipped"


def test_unknown_nuts_for_version_and_bad_nace_are_caught() -> None:
    rows = [
        {"year": 2012, "region_type": "nuts2", "region_code": "DE1A", "classification": "NACE_R2", "industry_code": "C10", "emp": 1.0, "est": 1},
        {"year": 2012, "region_type": "nuts2", "region_code": "DE12", "classification": "NACE_R2", "industry_code": "10.1", "emp": 1.0, "est": 1},
    ]  # fmt: skip
    res = _run("eurostat_parsed", _eurostat(rows), params={"nuts_codes": {"DE", "DE1", "DE11", "DE12"}, "nace_codes": {"C", "C10", "M72"}})
    assert res.failed_ids("error") == {"nuts_known_for_version", "nace_format", "nace_known"}
    assert res.outcome("nuts_known_for_version").sample[0]["region_code"] == "DE1A"


def test_confidential_share_warns() -> None:
    rows = [{"year": 2012, "region_type": "nuts2", "region_code": "DE11", "classification": "NACE_R2", "industry_code": c, "emp": None, "est": 1} for c in ("C11", "C12")]
    res = _run("eurostat_parsed", _eurostat(rows), params={"nuts_codes": {"DE", "DE1", "DE11"}})
    assert res.success and [o.id for o in res.warnings] == ["confidential_share"]


# --- reports and results --------------------------------------------------------------------


def test_report_lists_every_expectation_and_round_trips(tmp_path: Path) -> None:
    good = _run("harmonised", _industry(), by="year")
    bad = _run("cbp_parsed", _industry([_row(2011, "01", "999999", 1.0)]), params=PARAMS, by="year")
    files = write_report([good, bad], tmp_path)
    data = json.loads(files["results.json"].read_text())
    assert data["success"] is False and data["failed_errors"] == 1
    assert data["expectations"] == len(good.outcomes) + len(bad.outcomes)
    md = files["report.md"].read_text()
    html = files["report.html"].read_text()
    for o in [*good.outcomes, *bad.outcomes]:
        assert f"`{o.id}`" in md and o.id in html
    assert "999999" in md and "FAILED" in md
    back = SuiteResult.from_dict(data["suites"][1])
    assert back.failed_ids() == bad.failed_ids() and not back.success
    # Stored results are reused only for the same fingerprint.
    save_result(tmp_path, bad)
    calls = []
    same = cached(tmp_path, bad.suite, bad.table, bad.scope, "", lambda: calls.append(1) or bad)
    assert calls == [1] and same is bad


# --- quarantine -----------------------------------------------------------------------------

RAW = """FIPSTATE,NAICS,LFO,EMPFLAG,EMP_NF,EMP,AP_NF,AP,EST
01,------,-,,G,1000,G,5000,50
01,541///,-,,G,300,G,900,10
01,541110,-,,G,-5,G,900,10
01,999999,-,,G,20,G,100,2
01,311111,-,,G,300,G,900,10
"""


def _raw_lf(text: str) -> tuple[pl.LazyFrame, cbp.CbpLayout]:
    layout = cbp.detect_layout(text.splitlines()[0].split(","), "test", "test")
    lf = pl.read_csv(io.StringIO(text), infer_schema=False, new_columns=list(layout.columns)).lazy()
    return lf, layout


def test_quarantine_takes_negative_and_unknown_naics_rows_with_the_reason() -> None:
    lf, layout = _raw_lf(RAW)
    clean, bad = cbp_quarantine_split(
        lf, layout.columns, year=2010, geo="state", source_id="census/cbp/state/2010", naics_codes=expand_naics(["541110", "311111"])
    )
    assert bad.schema == pl.Schema(QUARANTINE_SCHEMA)
    assert bad.select("line", "industry_code", "reason").rows() == [
        (4, "541110", "negative emp"), (5, "999999", "NAICS code not in NAICS2007")]  # fmt: skip
    assert json.loads(bad["record"][0])["emp"] == "-5"
    kept = clean.collect()
    assert kept["naics"].to_list() == ["------", "541///", "311111"] and kept.columns == list(layout.columns)
    cbp.check_rows(clean, layout, "test", "test")  # what is left parses


def test_quarantine_leaves_structural_errors_to_the_parser() -> None:
    lf, layout = _raw_lf(RAW + "01,54X110,-,,G,12,G,100,2\n")
    clean, bad = cbp_quarantine_split(lf, layout.columns, year=2010, geo="state", source_id="s", naics_codes=None)
    assert bad.height == 1 and bad["reason"][0] == "negative emp"  # no code list: NAICS rule off
    with pytest.raises(Exception, match="malformed"):
        cbp.check_rows(clean, layout, "test", "test")


def test_stage_hook_writes_the_quarantine_and_stages_the_rest(tmp_path: Path) -> None:
    import zipfile

    from pipelines.staging.cbp import parse_cbp_file

    raw = tmp_path / "cbp10st.zip"
    with zipfile.ZipFile(raw, "w") as zf:
        zf.writestr("cbp10st.txt", RAW)
    q = tmp_path / "quarantine.parquet"
    lf = parse_cbp_file(
        raw, year=2010, source_id="census/cbp/state/2010", sha256=SHA, location="test", work_dir=tmp_path / "w",
        quarantine=q, naics_codes=expand_naics(["541110", "311111"]),
    )  # fmt: skip
    staged = lf.collect()
    assert staged["industry_code"].to_list() == ["TOTAL", "541", "311111"]
    assert pl.read_parquet(q)["reason"].to_list() == ["negative emp", "NAICS code not in NAICS2007"]
    res = _run("cbp_parsed", staged, params=PARAMS, by="year")
    assert res.success


def test_sql_checks_run_through_the_one_sql_runner() -> None:
    """sql/checks/*.sql follow the runner's rules: an unset parameter names the check file, a bad
    table name is refused before any SQL runs, values are bound."""
    with duckdb.connect() as con:
        con.execute("CREATE TABLE industry_employment (year INTEGER, region_type VARCHAR, region_code VARCHAR, industry_code VARCHAR, industry_level INTEGER, emp DOUBLE, classification VARCHAR)")
        with pytest.raises(KeyError, match=r"sql/checks/unmapped_share.sql parameters without a value: \['max_unmapped_share'\]"):
            run_sql_check(con, "unmapped_share", {}, table="industry_employment")
        with pytest.raises(ValueError, match="bad table name"):
            run_sql_check(con, "unmapped_share", {"max_unmapped_share": 0.01}, table="industry_employment; DROP TABLE x")
