"""EU industry employment (pipelines/staging/eu_sbs.py): confidential-cell filling, apportioning,
recoded duplicates, build_eu on the mirror."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.staging import eu_sbs
from pipelines.staging.eurostat import EU_EXTRA_SCHEMA
from pipelines.staging.harmonise import HARMONISED_SCHEMA

SCHEMA = {**HARMONISED_SCHEMA, **EU_EXTRA_SCHEMA}


def rows(records: list[dict]) -> pl.DataFrame:
    """Harmonised EU rows with defaults for the columns a test does not care about."""
    base = {c: None for c in SCHEMA}
    base.update(
        year=2015, classification="NACE_R2", industry_code="C10", industry_level=2, lfo="-",
        emp_imputed=False, est_imputed=False, payroll_imputed=False, source_id="eurostat/t",
        currency="EUR", nuts_version="2021", nuts_change="unchanged",
    )
    out = []
    for r in records:
        rec = {**base, **r}
        code = rec["region_code"]
        rec.setdefault("region_type", None)
        rec["region_type"] = rec["region_type"] or {2: "nuts0", 3: "nuts1", 4: "nuts2"}[len(code)]
        if rec["emp"] is not None and rec["emp_reported"] is None:
            rec["emp_reported"] = int(rec["emp"])
        out.append(rec)
    return pl.DataFrame(out, schema=SCHEMA)


# --- confidential cells --------------------------------------------------------------------------

def test_fill_confidential_top_down():
    df = rows([
        {"region_code": "AT", "emp": 100.0, "est": 10},
        {"region_code": "AT1", "emp": 40.0, "est": 4},
        {"region_code": "AT2", "emp": None, "empflag": "c", "est": None, "est_flag": "c"},
        {"region_code": "AT3", "emp": None, "empflag": "cu", "est": 3},
        {"region_code": "AT21", "emp": 10.0, "est": 1},
        {"region_code": "AT22", "emp": None, "empflag": "c", "est": None, "est_flag": "c"},
        {"region_code": "AT31", "emp": None, "empflag": None},  # ':' not available: never filled
        {"region_code": "AT32", "emp": None, "empflag": "c"},
    ])
    out = eu_sbs.fill_confidential(df).collect()
    get = {r["region_code"]: r for r in out.iter_rows(named=True)}
    # AT: 100 - 40 known = 60 over the two missing NUTS 1 -> 30 each
    assert get["AT2"]["emp"] == 30.0 and get["AT3"]["emp"] == 30.0
    assert get["AT2"]["emp_imputed"] and get["AT3"]["emp_imputed"]
    assert get["AT2"]["empflag"] == "c" and get["AT3"]["empflag"] == "cu"  # original flag kept
    assert get["AT2"]["emp_reported"] is None  # reported stays reported-only
    # AT2 (itself imputed 30) feeds its children: 30 - 10 = 20
    assert get["AT22"]["emp"] == 20.0 and get["AT22"]["emp_imputed"]
    # AT3 = 30 goes to its confidential child only: ':' without 'c' (a code not published that
    # year, e.g. another NUTS version of the territory) takes no share and stays null
    assert get["AT31"]["emp"] is None and not get["AT31"]["emp_imputed"]
    assert get["AT32"]["emp"] == 30.0
    # est: 10 - 4 - 3 = 3 for AT2 ; AT22 gets AT2's 3 - 1 = 2
    assert get["AT2"]["est"] == 3 and get["AT2"]["est_imputed"]
    assert get["AT22"]["est"] == 2
    assert not get["AT1"]["emp_imputed"] and get["AT1"]["emp"] == 40.0
    assert out.height == df.height


def test_fill_never_splits_over_another_nuts_version_or_extra_regio():
    """DE4 in 2009 (the mirror's case): DE41/DE42 (NUTS 2006) are confidential, DE40 (NUTS 2013,
    same territory) is ':' that year, DEZZ-style extra-regio cells are confidential too."""
    df = rows([
        {"region_code": "DE", "emp": 1000.0},
        {"region_code": "DE4", "emp": 125.0},
        {"region_code": "DEZ", "emp": None, "empflag": "c"},
        {"region_code": "DE40", "emp": None},
        {"region_code": "DE41", "emp": None, "empflag": "ci"},
        {"region_code": "DE42", "emp": None, "empflag": "ci"},
        {"region_code": "DEZZ", "emp": None, "empflag": "c"},
    ])
    get = {r["region_code"]: r for r in eu_sbs.fill_confidential(df).collect().iter_rows(named=True)}
    assert get["DE41"]["emp"] == 62.5 and get["DE42"]["emp"] == 62.5
    assert get["DE40"]["emp"] is None
    for code in ("DEZ", "DEZZ"):  # extra-regio: no filled cells
        assert get[code]["emp"] is None and not get[code]["emp_imputed"]


def test_fill_negative_remainder_is_zero():
    df = rows([
        {"region_code": "BE", "emp": 10.0},
        {"region_code": "BE1", "emp": 12.0},
        {"region_code": "BE2", "emp": None, "empflag": "c"},
    ])
    get = {r["region_code"]: r for r in eu_sbs.fill_confidential(df).collect().iter_rows(named=True)}
    assert get["BE2"]["emp"] == 0.0 and get["BE2"]["emp_imputed"]


# --- concordance ---------------------------------------------------------------------------------

CONC = pl.DataFrame({
    "nace_code": ["C10", "C10", "G45", "G451", "G452"],
    "cluster_code": ["1", "2", "3", "3", "4"],
    "weight": [0.75, 0.25, 1.0, 1.0, 1.0],
})


def test_apportion_weights_and_nulls():
    df = rows([
        {"region_code": "DE11", "industry_code": "C10", "emp": 100.0, "est": 8, "payroll": 4000},
        {"region_code": "DE12", "industry_code": "C10", "emp": None, "empflag": "c", "est": 4},
    ])
    t = eu_sbs.apportion(df.lazy(), CONC).collect()
    get = {(r["region_code"], r["cluster_code"]): r for r in t.iter_rows(named=True)}
    assert get[("DE11", "1")]["emp"] == pytest.approx(75.0)
    assert get[("DE11", "2")]["emp"] == pytest.approx(25.0)
    assert get[("DE11", "1")]["est"] == pytest.approx(6.0)
    assert get[("DE11", "1")]["payroll"] == pytest.approx(3000.0)
    assert get[("DE11", "1")]["emp_payroll"] == pytest.approx(75.0)
    assert get[("DE12", "1")]["emp"] is None  # only a withheld cell: null, never zero
    assert get[("DE12", "1")]["n_missing"] == 1
    assert get[("DE12", "1")]["est"] == pytest.approx(3.0)


def test_groups_used_when_complete_else_division():
    df = rows([
        # DE11: groups complete and adding up -> groups used (clusters 3 and 4)
        {"region_code": "DE11", "industry_code": "G45", "emp": 100.0},
        {"region_code": "DE11", "industry_code": "G451", "industry_level": 3, "emp": 60.0},
        {"region_code": "DE11", "industry_code": "G452", "industry_level": 3, "emp": 40.0},
        # DE12: a group withheld -> the division is used (all to cluster 3)
        {"region_code": "DE12", "industry_code": "G45", "emp": 100.0},
        {"region_code": "DE12", "industry_code": "G451", "industry_level": 3, "emp": 60.0},
        {"region_code": "DE12", "industry_code": "G452", "industry_level": 3, "emp": None, "empflag": "c"},
    ])
    t = eu_sbs.apportion(df.lazy(), CONC).collect()
    get = {(r["region_code"], r["cluster_code"]): r["emp"] for r in t.iter_rows(named=True)}
    assert get == {("DE11", "3"): 60.0, ("DE11", "4"): 40.0, ("DE12", "3"): 100.0}


@pytest.mark.parametrize(("g1", "g2", "uses_groups"), [
    (61.9, 40.0, True),    # groups add up to 101.9 % of the division: within 2 %
    (62.1, 40.0, False),   # 102.1 %: beyond, the division is used
    (58.1, 40.0, True),    # 98.1 %
    (57.9, 40.0, False),   # 97.9 %
])
def test_group_vs_division_tolerance(g1, g2, uses_groups):
    """EU apportioning uses a division's groups only when they add up to the division within
    GROUP_COVERAGE_TOLERANCE (2 %); otherwise the division (no double counting either way)."""
    df = rows([
        {"region_code": "DE11", "industry_code": "G45", "emp": 100.0},
        {"region_code": "DE11", "industry_code": "G451", "industry_level": 3, "emp": g1},
        {"region_code": "DE11", "industry_code": "G452", "industry_level": 3, "emp": g2},
    ])
    assert eu_sbs.GROUP_COVERAGE_TOLERANCE == 0.02
    chosen = eu_sbs.select_mapping_rows(df.lazy()).collect()["industry_code"].sort().to_list()
    assert chosen == (["G451", "G452"] if uses_groups else ["G45"])
    t = eu_sbs.apportion(df.lazy(), CONC).collect()
    get = {r["cluster_code"]: r["emp"] for r in t.iter_rows(named=True)}
    assert get == ({"3": g1, "4": g2} if uses_groups else {"3": 100.0})
    assert t["region_total_emp"].unique().to_list() == [pytest.approx(g1 + g2 if uses_groups else 100.0)]


# --- end to end on the mirror ---------------------------------------------------------------

@pytest.mark.mirror
def test_build_eu_on_mirror(settings, caplog):
    with caplog.at_level("INFO", logger="pipelines.staging.eu_sbs"):
        out = eu_sbs.build_eu(settings)
    # progress: one line per Eurostat dataset read (issue 13)
    read = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Eurostat ")]
    assert read and len(read) == len({m.split(":")[0] for m in read}), read
    assert all(m.split(":")[0].removeprefix("Eurostat ") in eu_sbs.DEFAULT_DATASETS for m in read), read
    assert set(out) >= {"eu_industry_employment", "nace_cluster_concordance", "eu_cluster_totals"}
    ind = out["eu_industry_employment"]
    assert ind["classification"].unique().to_list() == ["NACE_R2"]
    assert set(ind["region_type"].unique()) == {"nuts0", "nuts1", "nuts2"}
    assert ind["year"].min() == 2008 and ind["year"].max() == 2015
    assert ind["emp_imputed"].sum() > 0
    # imputed cells keep their confidential flag; reported employment stays null there
    imp = ind.filter(pl.col("emp_imputed"))
    assert imp["empflag"].str.contains("c").all() and imp["emp_reported"].null_count() == imp.height
    # split regions are kept in their own version, never recoded
    pl12 = ind.filter(pl.col("nuts_code_original") == "PL12")
    assert set(pl12["region_code"]) == {"PL12"} and set(pl12["nuts_version"]) == {"2013"}
    assert set(ind.filter(pl.col("nuts_code_original") == "FR21")["region_code"]) == {"FRF2"}
    conc = out["nace_cluster_concordance"]
    assert conc.columns[:5] == ["nace_code", "nace_level", "cluster_code", "weight", "n_naics"]
    sums = conc.group_by("nace_code").agg(pl.col("weight").sum())
    assert sums["weight"].max() <= 1.0 + 1e-9
    assert conc["cluster_code"].n_unique() >= 60
    # extra-regio codes keep their reported values, flagged, never filled
    xr = ind.filter(pl.col("extra_regio"))
    assert set(xr["region_code"].str.slice(2)) <= {"Z", "ZZ", "ZZZ"} and {"FRZZ", "FRZ"} <= set(xr["region_code"])
    assert xr["emp_imputed"].sum() == 0 and xr["emp"].drop_nulls().len() > 0
    # the concordance report shows where all of the EU employment used goes
    rep = out["nace_concordance_report"]
    assert rep["eu_emp_share"].sum() == pytest.approx(1.0)
    assert set(rep["method"]) <= {"employment split", "part-of note", "equal split", "no cluster"}
    assert rep.filter(pl.col("nace_code") == "C29").sort("eu_emp", descending=True)["cluster_code"][0] == "4"
    tot = out["eu_cluster_totals"]
    de = tot.filter(pl.col("region_code") == "DE", pl.col("year") == 2014)
    assert de.height > 40 and de["emp"].drop_nulls().sum() > 1e7
    assert tot.filter(pl.col("emp") < 0).height == 0


def test_recoded_duplicates_collapse_independent_of_row_order():
    """Two published codes landing on one target code with equally complete rows (the bulk file's
    old and new codes): the kept row never depends on the input order (issue 15)."""
    df = rows([
        {"region_code": "ITH1", "nuts_code_original": "ITD1", "nuts_change": "recoded", "emp": 5.0, "empflag": "p"},
        {"region_code": "ITH1", "nuts_code_original": "ITE9", "nuts_change": "recoded", "emp": 7.0},
        {"region_code": "ITH2", "nuts_code_original": "ITH2", "nuts_change": "unchanged", "emp": None},
        {"region_code": "ITH2", "nuts_code_original": "ITD2", "nuts_change": "recoded", "emp": 3.0},
    ])
    kept = {eu_sbs.collapse_recoded_duplicates(df.sample(fraction=1.0, shuffle=True, seed=s)).sort("region_code")
            .select("region_code", "nuts_code_original", "emp").rows().__repr__() for s in range(8)}
    assert kept == {"[('ITH1', 'ITD1', 5.0), ('ITH2', 'ITD2', 3.0)]"}
