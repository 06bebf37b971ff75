"""The constant-definition series (issue 19, pipelines/warehouse/timeseries.py) and the growth
rules of cluster_indicators, on hand-made industry rows: every year on the 2012-based definitions
through the concordance, NAICS 1997 years left out, the definition effect, growth only from
sound bases, vintage_break only where the definition effect is material."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines.sources.naics import derive_definitions
from pipelines.warehouse.indicators import build_cluster_tables
from pipelines.warehouse.sql import fetch_frame, register_frame
from pipelines.warehouse.timeseries import constant_definitions, splits_report

CLUSTERS = pl.DataFrame({"cluster_code": ["1", "2"], "traded": [True, True], "cluster_name": ["One", "Two"]})
# native definitions: 100001 is cluster 1 in every vintage; 200001 (2002 codes) is cluster 2 in the
# 2002 definitions, but in 2012 its two successors sit in clusters 1 and 2 → split by the successors'
# employment in 2008 (the first NAICS 2007 year): 200 / 440 to cluster 1, 240 / 440 to cluster 2
NATIVE = [
    ("1997", "100001", "1"), ("1997", "200001", "2"),
    ("2002", "100001", "1"), ("2002", "200001", "2"),
    ("2007", "100001", "1"), ("2007", "200011", "1"), ("2007", "200012", "2"),
    ("2012", "100001", "1"), ("2012", "200011", "1"), ("2012", "200012", "2"),
]  # fmt: skip
CONCORDANCE = pl.DataFrame(
    {
        "naics_2002": ["100001", "200001", "200001"],
        "naics_2007": ["100001", "200011", "200012"],
        "naics_2012": ["100001", "200011", "200012"],
        "naics_2017": ["100001", "200011", "200012"],
        "naics_2022": ["100001", "200011", "200012"],
    }
)
W1, W2 = 200 / 440, 240 / 440  # 200001's employment weights (successors 200011, 200012 in 2008)
# (year, NAICS vintage, {code: emp}) for states A and B; B's 2004 total row is twice its 6-digit sum
YEARS = {
    2002: ("1997", {"100001": 1000, "200001": 400}),
    2003: ("2002", {"100001": 1000, "200001": 400}),
    2004: ("2002", {"100001": 1100, "200001": 420}),
    2008: ("2007", {"100001": 1200, "200011": 200, "200012": 240}),
    2012: ("2012", {"100001": 1300, "200011": 210, "200012": 250}),
}


def _industry(years: tuple[int, ...] = tuple(YEARS)) -> pl.DataFrame:
    rows = []
    for year, (vintage, codes) in YEARS.items():
        if year not in years:
            continue
        for region, f in (("A", 1.0), ("B", 0.02)):
            six = 0.0
            for code, emp in codes.items():
                rows.append((year, region, f"NAICS{vintage}", code, 6, emp * f, emp * f))
                six += emp * f
            total = six * (2 if (region, year) == ("B", 2004) else 1)
            rows.append((year, region, f"NAICS{vintage}", "TOTAL", 0, total, total))
    return pl.DataFrame(
        rows,
        schema={"year": pl.Int32, "region_code": pl.String, "classification": pl.String, "industry_code": pl.String,
                "industry_level": pl.Int8, "emp": pl.Float64, "emp_reported": pl.Float64},
        orient="row",
    ).with_columns(
        region_type=pl.lit("state"), lfo=pl.lit("-"), est=pl.col("emp") / 10, payroll=pl.col("emp") * 40,
        qp1=pl.lit(None, pl.Float64), emp_imputed=pl.lit(False),
    )  # fmt: skip


def _build(years: tuple[int, ...] = tuple(YEARS), **params):
    native = pl.DataFrame(NATIVE, schema=["naics_vintage", "naics", "cluster_code"], orient="row").with_columns(
        weight=pl.lit(1.0), derived_from=pl.lit(None, pl.String), naics_title=pl.lit(None, pl.String)
    )
    con = duckdb.connect()
    register_frame(con, "industry_employment", _industry(years))
    register_frame(con, "cluster_naics", native)
    register_frame(con, "naics_concordance", CONCORDANCE)
    register_frame(con, "clusters", CLUSTERS)
    build_cluster_tables(con, params or None)
    return con


def _rows(con, table, **where):
    df = fetch_frame(con, f"SELECT * FROM {table}")
    for k, v in where.items():
        df = df.filter(pl.col(k) == v)
    return df


def test_constant_definitions_reuse_the_2017_2022_apportioning():
    native = pl.DataFrame(NATIVE, schema=["naics_vintage", "naics", "cluster_code"], orient="row").with_columns(
        weight=pl.lit(1.0), derived_from=pl.lit(None, pl.String)
    )
    defs = constant_definitions(native, CONCORDANCE)
    assert set(defs["naics_vintage"]) == {"2002", "2007", "2012", "2017", "2022"}  # never 1997
    split = defs.filter(pl.col("naics_vintage") == "2002", pl.col("naics") == "200001").sort("cluster_code")
    assert split["cluster_code"].to_list() == ["1", "2"] and split["weight"].to_list() == [0.5, 0.5]
    derived, _ = derive_definitions(native, CONCORDANCE, "2002")
    assert split.select("cluster_code", "weight").equals(
        derived.filter(pl.col("naics") == "200001").sort("cluster_code").select("cluster_code", "weight")
    )


def _split(defs: pl.DataFrame, vintage: str, code: str) -> dict[str, tuple[float, str, int | None]]:
    rows = defs.filter(pl.col("naics_vintage") == vintage, pl.col("naics") == code)
    return {r["cluster_code"]: (r["weight"], r["method"], r["successor_year"]) for r in rows.to_dicts()}


def test_split_codes_follow_their_successors_employment():
    """326199 Plastics (2002) has the successors 326199 (plastics) and 336612 (Boat Building): an
    equal split sends half its jobs to boats; the successors' employment sends a tenth here (no old
    2002 year in the run: 336612 has one predecessor, so it goes to 326199 whole)."""
    native = pl.DataFrame(
        [("2012", "326199", "1"), ("2012", "336612", "2"), ("2012", "400011", "1"), ("2012", "400012", "2")],
        schema=["naics_vintage", "naics", "cluster_code"], orient="row",
    ).with_columns(weight=pl.lit(1.0), derived_from=pl.lit(None, pl.String))
    conc = pl.DataFrame(
        {"naics_2002": ["326199", "326199", "400001", "400001"], "naics_2007": ["326199", "336612", "400001", "400001"],
         "naics_2012": ["326199", "336612", "400011", "400012"]}
    ).with_columns(naics_2017=pl.col("naics_2012"), naics_2022=pl.col("naics_2012"))  # fmt: skip
    emp = pl.DataFrame(
        [("2007", "326199", 2008, 900.0), ("2007", "336612", 2008, 100.0), ("2007", "400001", 2008, 40.0),
         ("2012", "400011", 2012, 30.0), ("2012", "400012", 2012, 10.0)],
        schema={"naics_vintage": pl.String, "naics": pl.String, "year": pl.Int32, "emp": pl.Float64}, orient="row",
    )  # fmt: skip
    defs = constant_definitions(native, conc, emp)
    got = _split(defs, "2002", "326199")
    assert got["1"] == (pytest.approx(0.9), "employment", 2008) and got["2"] == (pytest.approx(0.1), "employment", 2008)
    # 2007 → 2012 by the 2012 successors; a 2002 code chains through its 2007 successor's weights
    assert _split(defs, "2007", "400001") == {"1": (0.75, "employment", 2012), "2": (0.25, "employment", 2012)}
    assert _split(defs, "2002", "400001") == {"1": (0.75, "employment", 2008), "2": (0.25, "employment", 2008)}
    assert _split(defs, "2002", "326199") != _split(constant_definitions(native, conc), "2002", "326199")
    # no successor year in the run (or zero employment): the equal split, and it says so
    for none in (emp.filter(pl.col("naics_vintage") == "1997"), emp.with_columns(emp=pl.lit(0.0)), None):
        fallback = constant_definitions(native, conc, none)
        assert _split(fallback, "2002", "326199") == {"1": (0.5, "equal", None), "2": (0.5, "equal", None)}
    assert splits_report(defs)["method"].unique().sort().to_list() == ["employment"]
    # a 2002 code whose 2007 successor is itself split equally (no 2012 year) inherits that split: equal
    no_2012 = constant_definitions(native, conc, emp.filter(pl.col("naics_vintage") == "2007"))
    assert _split(no_2012, "2002", "400001") == {"1": (0.5, "equal", None), "2": (0.5, "equal", None)}


def test_the_release_records_the_weights_and_their_method():
    splits = _rows(_build(), "constant_definition_splits").sort("cluster_code")
    assert splits.select("naics_vintage", "naics", "cluster_code", "method", "successor_year").rows() == [
        ("2002", "200001", "1", "employment", 2008), ("2002", "200001", "2", "employment", 2008),
    ]  # fmt: skip
    assert splits["weight"].to_list() == pytest.approx([W1, W2])  # national: states A and B summed
    # the FIRST NAICS 2007 year sets the weights: a later one with other employment changes nothing
    con = _build()
    later = _industry().filter(pl.col("year") == 2008).with_columns(
        year=pl.lit(2009, pl.Int32), emp=pl.when(pl.col("industry_code") == "200011").then(pl.col("emp") * 5).otherwise(pl.col("emp"))
    )
    register_frame(con, "industry_employment", pl.concat([_industry(), later]))
    build_cluster_tables(con)
    again = _rows(con, "constant_definition_splits").sort("cluster_code")
    assert again["weight"].to_list() == pytest.approx([W1, W2]) and set(again["successor_year"]) == {2008}
    # without a NAICS 2007 year the run has no successor employment: equal, said per code
    equal = _rows(_build((2002, 2003, 2004, 2012)), "constant_definition_splits")
    assert equal["method"].to_list() == ["equal", "equal"] and equal["weight"].to_list() == [0.5, 0.5]


def test_series_is_on_one_definition_and_leaves_naics_1997_out():
    con = _build()
    ts = _rows(con, "cluster_timeseries", region_code="A")
    assert sorted(set(ts["year"])) == [2003, 2004, 2008, 2012]  # 2002 is NAICS 1997: no bridge
    assert set(ts["side"]) == {"us"} and set(ts["definition"]) == {"US benchmark clusters, NAICS 2012 definitions"}
    got = {(r["year"], r["cluster_code"]): r for r in ts.to_dicts()}
    # 2003 (NAICS 2002 codes): 200001 split over clusters 1 and 2 by its successors' 2008 employment
    assert got[(2003, "1")]["emp"] == pytest.approx(1000 + 400 * W1)
    assert got[(2003, "2")]["emp"] == pytest.approx(400 * W2)
    assert got[(2003, "1")]["native_emp"] == pytest.approx(1000) and got[(2003, "1")]["bridged"] is True
    # on the same definitions (2008: NAICS 2007 codes map one to one; 2012) the series IS the native view
    for y in (2008, 2012):
        for c in ("1", "2"):
            assert got[(y, c)]["emp"] == got[(y, c)]["native_emp"]
            assert got[(y, c)]["definition_effect"] == 0.0
    assert got[(2012, "1")]["bridged"] is False
    # the native table keeps every year
    assert sorted(set(_rows(con, "cluster_indicators")["year"])) == [2002, 2003, 2004, 2008, 2012]


def test_definition_effect_is_national_native_over_constant():
    con = _build()
    eff = {(r["year"], r["cluster_code"]): r for r in _rows(con, "definition_effect").to_dicts()}
    # national (sum of A and B), 2003: native cluster 1 = 1020, constant = 1020 + W1 × 408
    assert eff[(2003, "1")]["definition_effect"] == pytest.approx(1020 / (1020 + 408 * W1) - 1)
    assert eff[(2003, "2")]["definition_effect"] == pytest.approx(408 / (408 * W2) - 1)
    assert eff[(2002, "1")]["definition_effect"] is None and eff[(2002, "1")]["constant_emp"] is None
    assert eff[(2012, "2")]["definition_effect"] == 0.0


def test_growth_only_from_sound_bases_and_material_definition_breaks():
    con = _build()
    ci = {(r["region_code"], r["year"], r["cluster_code"]): r for r in _rows(con, "cluster_indicators").to_dicts()}
    a = ci[("A", 2012, "1")]
    # A's first sound year is 2002 (coverage 1); 2002 → 2012 crosses definitions whose effect is
    # material (2003 cluster 1: −15 %) or unknown (2002): flagged
    assert a["base_year"] == 2002 and a["vintage_break"] is True
    # B is 2 % of A: its 2002 base of 20 jobs in cluster 1 is under min_growth_base (50)
    b = ci[("B", 2012, "1")]
    assert ci[("B", 2002, "1")]["growth_basis"] == "small_base"
    assert b["base_year"] is None and b["cagr"] is None and b["emp"] == pytest.approx(30.2)
    con = _build(min_growth_base=10)
    ci = {(r["region_code"], r["year"], r["cluster_code"]): r for r in _rows(con, "cluster_indicators").to_dicts()}
    # B 2004 covers half of its total row: no rate ends there; the base stays 2002
    assert ci[("B", 2004, "1")]["growth_basis"] == "partial_coverage"
    assert ci[("B", 2004, "1")]["cagr"] is None and ci[("B", 2004, "1")]["job_creation"] is None
    assert ci[("B", 2012, "1")]["base_year"] == 2002
    assert ci[("B", 2012, "1")]["cagr"] == pytest.approx((30.2 / 20) ** 0.1 - 1)
    # on the series, 2008 → 2012 crosses a NAICS vintage change with no definition effect: not flagged
    ts = {(r["region_code"], r["year"], r["cluster_code"]): r for r in _rows(con, "cluster_timeseries").to_dicts()}
    assert ts[("A", 2012, "2")]["base_year"] == 2003
    assert ts[("A", 2012, "2")]["vintage_break"] is True  # 2003 cluster 2: +83 % definition effect
    assert ts[("A", 2012, "2")]["cagr"] == pytest.approx((250 / (400 * W2)) ** (1 / 9) - 1)


def test_imputed_base_is_not_a_base():
    ind = _industry().with_columns(
        emp_reported=pl.when((pl.col("region_code") == "A") & (pl.col("year") == 2003) & (pl.col("industry_code") == "100001"))
        .then(None).otherwise(pl.col("emp_reported"))
    )
    con = _build()
    register_frame(con, "industry_employment", ind)
    build_cluster_tables(con)
    ts = {(r["year"], r["cluster_code"]): r for r in _rows(con, "cluster_timeseries", region_code="A").to_dicts()}
    # cluster 1 in 2003 = 1000 (withheld, midpoint) + 400 × W1 reported: not wholly imputed
    assert ts[(2003, "1")]["growth_basis"] == "ok"
    ci = {(r["year"], r["cluster_code"]): r for r in _rows(con, "cluster_indicators", region_code="A").to_dicts()}
    assert ci[(2003, "1")]["growth_basis"] == "imputed_base"  # native cluster 1 = 100001 only


def test_native_vintage_break_only_where_the_definition_effect_is_material():
    years = (2003, 2004, 2008, 2012)
    ci = {(r["year"], r["cluster_code"]): r for r in _rows(_build(years), "cluster_indicators", region_code="A").to_dicts()}
    assert ci[(2008, "1")]["base_year"] == 2003 and ci[(2008, "1")]["vintage_break"] is True  # 2003: −15 %
    assert ci[(2004, "1")]["vintage_break"] is False  # same vintage
    loose = _build(years, max_definition_effect=0.5)
    ci = {(r["year"], r["cluster_code"]): r for r in _rows(loose, "cluster_indicators", region_code="A").to_dicts()}
    assert ci[(2008, "1")]["vintage_break"] is False  # |−15 %| and 0 % are under 50 %
    assert ci[(2008, "2")]["vintage_break"] is True  # 2003 cluster 2: +83 %


def test_release_notes_say_what_the_growth_figures_rest_on():
    from pipelines.release.series_notes import definition_effect_note, evaluation_note
    from pipelines.warehouse.families import build_families

    con = _build()
    note = definition_effect_note(con)
    assert "| 2002 | 1997 | state | no (no bridge) |" in note
    assert "| 2003 | One (1) | 1,020 | 1,205.5 | -15.4 % |" in note
    assert "| 2002 | 200001 | One (1) | 0.4545 | employment | 2008 |" in note  # the weights used, and how
    con.execute("CREATE OR REPLACE TABLE custom_regions (region_code VARCHAR, base_type VARCHAR, members VARCHAR[])")
    con.execute("CREATE TABLE related_clusters (cluster_code VARCHAR, related_cluster_code VARCHAR, related_avg DOUBLE)")
    build_families(con, "us")
    text = evaluation_note(con)
    assert "The series runs 2003–2012; the native view 2002–2012" in text
    # full window on the series: 2003 → 2012, reference = both states (covered in 2003 and 2012)
    assert "Published full window 2003→2012 on the constant series, reference = 2 states" in text


def test_release_gate_on_the_series():
    from pipelines.validation.engines import run_sql_check

    con = _build()
    assert run_sql_check(con, "series_consistent", {"tolerance": 1e-9}, table="cluster_timeseries")[0] == 0
    con.execute("UPDATE cluster_timeseries SET emp = emp + 1 WHERE year = 2012 AND region_code = 'A' AND cluster_code = '1'")
    failing, sample = run_sql_check(con, "series_consistent", {"tolerance": 1e-9}, table="cluster_timeseries")
    assert failing == 1 and sample[0]["rule"] == "differs from native"
    con = _build()
    con.execute("UPDATE cluster_timeseries SET naics_vintage = '1997' WHERE year = 2003 AND region_code = 'A' AND cluster_code = '1'")
    con.execute("UPDATE cluster_timeseries SET growth_basis = 'small_base' WHERE year = 2003 AND region_code = 'A' AND cluster_code = '2'")
    failing, sample = run_sql_check(con, "series_consistent", {"tolerance": 1e-9}, table="cluster_timeseries")
    assert {r["rule"] for r in sample} == {"unbridged year", "rate from unsound"}


def test_a_release_publishes_the_series_rows_of_its_sides_only():
    from pipelines.warehouse.timeseries import release_rows

    con = _build()
    con.execute("INSERT INTO cluster_timeseries BY NAME SELECT 'eu' AS side, 2010 AS year, 'nuts2' AS region_type, 'DE11' AS region_code, '1' AS cluster_code")
    assert {r[0] for r in release_rows(con, "us", None).aggregate("side").fetchall()} == {"us"}
    assert {r[0] for r in release_rows(con, "us", "eu").aggregate("side").fetchall()} == {"us", "eu"}
    con.execute("DELETE FROM cluster_timeseries WHERE side = 'eu'")
    with pytest.raises(ValueError, match="no rows for"):
        release_rows(con, "us", "eu")


def test_evaluation_note_without_total_rows_says_n_a():
    """A year without file total rows (e.g. Census API pulls) has no file total change: n/a, not a crash."""
    from pipelines.release.series_notes import evaluation_note
    from pipelines.warehouse.families import build_families

    con = _build()
    con.execute("CREATE OR REPLACE TABLE custom_regions (region_code VARCHAR, base_type VARCHAR, members VARCHAR[])")
    con.execute("CREATE TABLE related_clusters (cluster_code VARCHAR, related_cluster_code VARCHAR, related_avg DOUBLE)")
    build_families(con, "us")
    con.execute("UPDATE region_indicators SET total_emp = NULL WHERE year = 2012")
    assert "while the files' total employment changed by n/a" in evaluation_note(con)
