"""Issue 22: GX expectations run on distinct rows / projected columns give the outcomes the whole
frame gives (same status, failing_count, element_count and sample rows), for planted faults among
many repeated good rows; aggregates still see every row. The reference is the engine as before
(`_whole_frame`: every expectation on the whole frame), on frames, Parquet files and DuckDB tables."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.staging.harmonise import HARMONISED_SCHEMA
from pipelines.staging.quarantine import expand_naics
from pipelines.validation import gx_engine, gx_plan
from pipelines.validation.engines import validate_frame, validate_parquet, validate_table
from pipelines.validation.gx_rows import FrameRows, TableRows
from pipelines.validation.suites import ExpectationSpec, Suite

SHA = "b" * 64
CODES = expand_naics(["311111", "541110"])
PARAMS = {"naics_codes@2012": CODES, "classifications@2012": ["NAICS2007"]}
REGIONS = [("state", "01"), ("state", "06"), ("county", "01001"), ("county", "06037"), ("msa", "12420"), ("country", "US")]


def _row(region_type: str, region: str, code: str, emp: float | None, est: int = 5, **kw) -> dict:
    return {
        "year": 2012, "region_type": region_type, "region_code": region, "classification": "NAICS2007",
        "industry_code": code, "industry_level": 0 if code == "TOTAL" else len(code), "lfo": "-",
        "emp": emp, "emp_reported": None if emp is None else int(emp), "empflag": None, "emp_nf": None,
        "emp_imputed": False, "est": est, "payroll": 100, "payroll_nf": None, "qp1": None, "qp1_nf": None,
        "source_id": "census/cbp/county/2012", "source_sha256": SHA, **kw,
    }  # fmt: skip


def _good(copies: int = 40) -> pl.DataFrame:
    """Clean rows, each region × industry repeated under `copies` legal forms (a few distinct values)."""
    rows = [
        _row(rt, rc, code, emp, est, lfo=str(i), payroll=100 + i % 3)
        for i in range(copies)
        for rt, rc in REGIONS
        for code, emp, est in (("TOTAL", 1000.0, 50), ("31", 400.0, 20), ("311111", 300.0, 10), ("541110", 300.0, 10))
    ]
    return pl.DataFrame(rows, schema=HARMONISED_SCHEMA)


BAD = {
    "state_fips_valid": _row("state", "03", "311111", 10.0, lfo="x1"),  # FIPS 03 is not assigned
    "county_fips_format": _row("county", "1234", "311111", 10.0, lfo="x2"),
    "emp_non_negative": _row("county", "01001", "541110", -3.0, lfo="x3", emp_reported=None),
    "emp_reported_le_emp": _row("state", "06", "541110", 300.0, lfo="x4", emp_reported=500),
    "est_positive_where_emp": _row("msa", "12420", "311111", 20.0, 0, lfo="x5"),
    "emp_present": _row("county", "06037", "311111", None, lfo="x6"),
    "naics_known_for_vintage": _row("state", "01", "999999", 1.0, lfo="x7"),
}


def _planted() -> pl.DataFrame:
    good = _good()
    # each bad row sits in the middle of the good rows, once
    return pl.concat([good.head(500), pl.DataFrame(list(BAD.values()), schema=HARMONISED_SCHEMA), good.slice(500)])


def _whole_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine as before issue 22: every GX expectation on the whole frame."""
    monkeypatch.setattr(gx_plan, "kind", lambda etype, kwargs: "full")


def _outcomes(res) -> dict[str, dict]:
    return {o.id: asdict(o) for o in res.outcomes}


def test_planted_row_faults_give_the_whole_frame_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    df = _planted()
    new = validate_frame("cbp_parsed", df, params=PARAMS, by="year")
    for eid, bad in BAD.items():
        o = new.outcome(eid)
        assert o.failed and o.failing_count == 1, (eid, o)
        assert [(r["region_code"], r["lfo"]) for r in o.sample] == [(bad["region_code"], bad["lfo"])], eid
    assert new.failed_ids() - {"suppressed_share", "six_digit_within_total"} == set(BAD)
    # a passing row-wise expectation counts the rows, not the distinct values (with its row condition)
    assert new.outcome("region_type_known").element_count == df.height
    assert new.outcome("msa_code_format").element_count == df.filter(pl.col("region_type") == "msa").height
    assert new.outcome("country_code").status == "passed"
    with monkeypatch.context() as m:
        _whole_frame(m)
        old = validate_frame("cbp_parsed", df, params=PARAMS, by="year")
    assert _outcomes(new) == _outcomes(old)


def test_clean_frame_outcomes_match_the_whole_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    df = _good()
    new = validate_frame("cbp_parsed", df, params=PARAMS, by="year")
    assert new.success and new.outcome("est_positive_where_emp").element_count == df.height
    _whole_frame(monkeypatch)
    old = validate_frame("cbp_parsed", df, params=PARAMS, by="year")
    assert _outcomes(new) == _outcomes(old)


def test_aggregates_and_column_order_see_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    dup = BAD["state_fips_valid"] | {"region_code": "01"}
    imputed = _row("county", "01001", "31", 400.0, lfo="x8", emp_imputed=True, emp_reported=400)
    df = pl.concat([_good(), pl.DataFrame([dup, dup, dup, imputed], schema=HARMONISED_SCHEMA)])
    new = validate_frame("harmonised", df.select(reversed(df.columns)), by="year")
    assert new.outcome("key_unique").failing_count == 3  # every copy of the duplicated key
    assert new.outcome("imputed_not_reported").failing_count == 1
    assert new.outcome("columns_in_order").failed
    assert new.outcome("emp_imputed_not_null").element_count == df.height
    assert validate_frame("harmonised", _good(), by="year").outcome("columns_in_order").status == "passed"
    with monkeypatch.context() as m:
        _whole_frame(m)
        old = validate_frame("harmonised", df.select(reversed(df.columns)), by="year")
    assert _outcomes(new) == _outcomes(old)


def _suite(*specs: ExpectationSpec) -> Suite:
    return Suite("t", "t", "", "t", ("id",), specs, "")


def test_mostly_counts_rows_not_distinct_values(monkeypatch: pytest.MonkeyPatch) -> None:
    # 90 rows of one bad value, 10 distinct good ones: 10 % of rows pass (< mostly), 10 of 11 values do
    df = pl.DataFrame({"id": [str(i) for i in range(100)], "v": [-1] * 90 + list(range(10))})
    spec = ExpectationSpec("v_pos", "expect_column_values_to_be_between", "error", "",
                           kwargs={"column": "v", "min_value": 0, "mostly": 0.5})  # fmt: skip
    (o,) = gx_engine.run_gx(_suite(spec), df, {})
    assert o.failed and o.failing_count == 90 and o.element_count == 100


def test_unknown_types_and_options_run_on_the_whole_frame() -> None:
    assert gx_plan.kind("expect_column_values_to_be_in_set", {"column": "a", "value_set": [1]}) == "row"
    assert gx_plan.kind("expect_column_values_to_be_in_set", {"column": "a", "value_set": [1], "mostly": 0.9}) == "full"
    assert gx_plan.kind("expect_column_values_to_be_null", {"column": "a", "row_condition": {"col": "b"}}) == "full"
    assert gx_plan.kind("expect_compound_columns_to_be_unique", {"column_list": ["a", "b"]}) == "aggregate"
    assert gx_plan.kind("expect_table_columns_to_match_ordered_list", {"column_list": ["a"]}) == "columns"
    assert gx_plan.kind("expect_column_kl_divergence_to_be_less_than", {"column": "a"}) == "full"
    assert gx_plan.kind("expect_table_row_count_to_equal", {"value": 3}) == "full"


def test_row_condition_columns_are_part_of_the_distinct_key() -> None:
    cols = ["year", "region_type", "region_code", "emp", "odd name"]
    kw = {"column": "region_code", "row_condition": 'region_type=="state" and emp > 0 and `odd name` != "x"'}
    assert gx_plan.referenced_columns(kw, cols) == ["region_type", "region_code", "emp", "odd name"]
    specs = [
        ("a", "expect_column_values_to_match_regex", {**kw, "regex": "^[0-9]{2}$"}),
        ("b", "expect_column_values_to_be_in_set", {**kw, "value_set": ["01"]}),
        ("c", "expect_column_values_to_not_be_null", {"column": "year"}),
        ("d", "expect_compound_columns_to_be_unique", {"column_list": ["year", "region_code"]}),
    ]
    batches = {b.ids: b for b in gx_plan.plan(specs, cols, ["year", "region_type"])}
    assert batches[("a", "b")].columns == ("region_type", "region_code", "emp", "odd name")
    assert batches[("c",)].columns == ("year",)
    assert batches[("d",)].kind == "aggregate" and batches[("d",)].columns == ("year", "region_type", "region_code")


def test_large_value_sets_are_cut_to_the_codes_present(monkeypatch: pytest.MonkeyPatch) -> None:
    codes = [f"C{i:04d}" for i in range(500)]
    spec = ExpectationSpec("known", "expect_column_values_to_be_in_set", "error", "",
                           kwargs={"column": "code", "value_set": "$codes"})  # fmt: skip
    good = pl.DataFrame({"id": [str(i) for i in range(3000)], "code": [codes[i % 7] for i in range(3000)]})
    bad = pl.concat([good.head(1500), pl.DataFrame({"id": ["x"], "code": ["C9999"]}), good.slice(1500)])
    assert gx_plan.narrowed(spec.type, {"column": "code", "value_set": codes}, good.unique("code"))["value_set"] == codes[:7]
    new = [gx_engine.run_gx(_suite(spec), df, {"codes": codes})[0] for df in (good, bad)]
    assert new[0].status == "passed" and new[0].element_count == 3000
    assert new[0].kwargs["value_set"][-1] == "… (500 values)"  # the suite's set is reported, not the cut one
    assert new[1].failing_count == 1 and new[1].sample == [{"id": "x", "code": "C9999"}]
    _whole_frame(monkeypatch)
    old = [gx_engine.run_gx(_suite(spec), df, {"codes": codes})[0] for df in (good, bad)]
    assert [asdict(o) for o in new] == [asdict(o) for o in old]


UNIQUE_CASES = {  # b's values and type, the status when Polars decides (None: GX on the rows decides)
    "all-missing rows ignored": ({"a": ["x", None, None, "y"], "b": [1, None, None, 2]}, pl.Int32, "passed"),
    "missing equals missing": ({"a": ["x", "x", None, "x"], "b": [None, None, None, 1]}, pl.Int32, None),
    "plain duplicate": ({"a": ["x", "x", "y", "y"], "b": [1, 1, 2, 3]}, pl.Int64, None),
    "unique": ({"a": ["x", "x", "y", "y"], "b": [1, 2, 2, 3]}, pl.Int32, "passed"),
    "unique int64 (GX decides)": ({"a": ["x", "x", "y", "y"], "b": [1, 2, 2, 3]}, pl.Int64, None),
    "float NaN vs null": ({"a": ["x", "x", "y", "y"], "b": [float("nan"), None, 2.0, 3.0]}, pl.Float64, None),
    "int64 with nulls": ({"a": ["x", "x", "y", "z"], "b": [2**53, 2**53 + 1, None, 3]}, pl.Int64, None),
}


@pytest.mark.parametrize("case", UNIQUE_CASES)
def test_compound_uniqueness_proven_in_polars_gives_the_gx_outcome(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cols, btype, status = UNIQUE_CASES[case]
    df = pl.DataFrame({"id": [str(i) for i in range(4)], **cols}, schema_overrides={"b": btype})
    spec = ExpectationSpec("u", "expect_compound_columns_to_be_unique", "error", "", kwargs={"column_list": ["a", "b"]})
    cols = gx_plan.unique_check_columns(spec.type, dict(spec.kwargs), df.schema)
    proven = cols is not None and not FrameRows(df).has_duplicates(cols)
    assert proven == (status == "passed")
    with duckdb.connect() as con:
        con.register("t", df.to_arrow())
        assert (cols is not None and not TableRows(con, "t").has_duplicates(cols)) == proven
    (new,) = gx_engine.run_gx(_suite(spec), df, {})
    # NaN and null, 2**53 and 2**53 + 1 (with a null: float64) are equal in GX's pandas copy
    assert new.element_count == 4 and new.status == ("passed" if case.startswith(("all-missing", "unique")) else "failed")
    _whole_frame(monkeypatch)
    (old,) = gx_engine.run_gx(_suite(spec), df, {})
    assert asdict(new) == asdict(old)


def test_validate_table_on_duckdb_parts_gives_the_whole_frame_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    planted = _planted()
    later = planted.with_columns(pl.lit(2013, dtype=pl.Int32).alias("year"))
    df = pl.concat([planted, later, later.slice(3, 1)])  # a duplicated key in 2013
    # 2013 is declared NAICS 2012 (its rows say 2007): that rule differs by year, so runs by year
    params = {**PARAMS, "naics_codes@2013": CODES, "classifications@2013": ["NAICS2012"]}
    with duckdb.connect() as con:
        con.register("src", df.to_arrow())
        con.execute("CREATE TABLE industry_employment AS SELECT * FROM src")
        harm = validate_table(con, "harmonised", params={})
        parsed = validate_table(con, "cbp_parsed", params=params)
        key = harm.outcome("key_unique")
        assert key.failing_count == 2 and key.sample[0]["scope"] == "year=2013" and key.element_count == df.height
        assert harm.outcome("schema_dtypes").status == "passed" and harm.outcome("columns_in_order").status == "passed"
        for eid, bad in BAD.items():  # found in both years, counted and sampled on the rows
            o = parsed.outcome(eid)
            assert o.failing_count == 2 and [(r["scope"], r["lfo"]) for r in o.sample] == [
                ("year=2012", bad["lfo"]), ("year=2013", bad["lfo"])], eid  # fmt: skip
        assert parsed.outcome("msa_code_format").element_count == df.filter(pl.col("region_type") == "msa").height
        wrong = parsed.outcome("classification_matches_year")
        assert wrong.failing_count == later.height + 1 and {r["scope"] for r in wrong.sample} == {"year=2013"}
        assert not TableRows(con, "industry_employment", "year", 2012).has_duplicates(["year", "lfo", "region_code", "industry_code"])
        _whole_frame(monkeypatch)
        old = [validate_table(con, "harmonised", params={}), validate_table(con, "cbp_parsed", params=params)]
    assert [_outcomes(harm), _outcomes(parsed)] == [_outcomes(r) for r in old]


@pytest.mark.parametrize("years", [(2012,), (2013, 2012), ()])
def test_validate_parquet_gives_the_frame_outcomes(years: tuple[int, ...], tmp_path: Path) -> None:
    planted = _planted()
    df = pl.concat([planted.with_columns(pl.lit(y, dtype=pl.Int32).alias("year")) for y in years]) if years else planted.head(0)
    params = {**PARAMS, "naics_codes@2013": CODES, "classifications@2013": ["NAICS2007"]}
    df.write_parquet(tmp_path / "staged.parquet")
    framed = validate_frame("cbp_parsed", df, params=params, by="year", scope="county")
    read = validate_parquet("cbp_parsed", tmp_path / "staged.parquet", params=params, by="year", scope="county")
    assert _outcomes(read) == _outcomes(framed) and read.rows == df.height
    if years:
        assert read.outcome("emp_non_negative").failing_count == len(years)
        assert [r["scope"] for r in read.outcome("county_fips_format").sample] == [f"year={y}" for y in years]
