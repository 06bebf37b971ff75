"""Split weights of the constant-definition series when NAICS codes both split and merge (issue 19,
pipelines/warehouse/successor_flows.py via timeseries.constant_definitions): an old code is credited
only with the employment that flowed to each successor, never with a merged successor in full;
every old code's weights sum to 1 and, where both ends add up, the apportioned old codes give the
successors' cluster totals exactly (employment neither created nor lost). Expected weights are
worked out by hand in the comments."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines.warehouse.indicators import INDICATOR_SQL
from pipelines.warehouse.sql import create_macros, register_frame
from pipelines.warehouse.successor_flows import successor_flows
from pipelines.warehouse.timeseries import constant_definitions

EMP_SCHEMA = {"naics_vintage": pl.String, "naics": pl.String, "year": pl.Int32, "emp": pl.Float64}


def _native(clusters: dict[str, str]) -> pl.DataFrame:
    """2012 definitions: successor code → cluster (the 2007 codes equal the 2012 ones here)."""
    return pl.DataFrame(
        [("2012", code, c) for code, c in clusters.items()], schema=["naics_vintage", "naics", "cluster_code"], orient="row"
    ).with_columns(weight=pl.lit(1.0), derived_from=pl.lit(None, pl.String))


def _concordance(links: list[tuple[str, str]]) -> pl.DataFrame:
    old, new = zip(*links, strict=True)
    return pl.DataFrame({"naics_2002": old, "naics_2007": new}).with_columns(
        naics_2012=pl.col("naics_2007"), naics_2017=pl.col("naics_2007"), naics_2022=pl.col("naics_2007")
    )


def _emp(old: dict[str, float], new: dict[str, float], *, decoys: bool = True) -> pl.DataFrame:
    """National employment: old codes in 2007 (last NAICS 2002 year), successors in 2008 (first
    NAICS 2007 year); with ``decoys``, a first NAICS 2002 year (2003) and a last NAICS 2007 year
    (2011) with other numbers, which must not set the weights."""
    rows = [("2002", k, 2007, v) for k, v in old.items()] + [("2007", k, 2008, v) for k, v in new.items()]
    if decoys:
        rows += [("2002", k, 2003, 999.0) for k in old] + [("2007", k, 2011, 1.0 + len(k)) for k in new]
    return pl.DataFrame(rows, schema=EMP_SCHEMA, orient="row")


def _weights(defs: pl.DataFrame, code: str) -> dict[str, float]:
    rows = defs.filter(pl.col("naics_vintage") == "2002", pl.col("naics") == code)
    return dict(zip(rows["cluster_code"], rows["weight"], strict=True))


# A merge and a split: old 100001 (100 jobs in 2007) split into 200001 (cluster 1) and 200002
# (cluster 2); 200002 also absorbed the whole of old 100002 (60 jobs). In 2008 200001 has 70 and
# 200002 has 90. 100002 has no other successor, so all its 60 jobs are in 200002: 100001 sent
# 90 − 60 = 30 there and 70 to 200001 → weights 0.7 (cluster 1), 0.3 (cluster 2). Counting 200002
# in full for 100001 gives 70/160 = 0.4375 to cluster 1; splitting it by the predecessors' size
# (100:60) gives 70/(70+56.25) = 0.554.
MERGE = [("100001", "200001"), ("100001", "200002"), ("100002", "200002")]
MERGE_CLUSTERS = {"200001": "1", "200002": "2"}


def test_a_merged_successor_is_shared_not_counted_in_full() -> None:
    defs = constant_definitions(
        _native(MERGE_CLUSTERS), _concordance(MERGE), _emp({"100001": 100, "100002": 60}, {"200001": 70, "200002": 90})
    )
    assert _weights(defs, "100001") == {"1": pytest.approx(0.7), "2": pytest.approx(0.3)}
    assert _weights(defs, "100002") == {"2": 1.0}
    split = defs.filter(pl.col("naics") == "100001")
    assert set(split["method"]) == {"employment"} and set(split["successor_year"]) == {2008}


def test_the_two_years_need_not_add_up() -> None:
    """Employment grew 10 % from 2007 to 2008: the successors are scaled to the old codes' total
    first, so the weights are those of the example above. Uneven growth (70 and 110, 180 against
    160): scaled by 8/9 to 62.2 and 97.8; 100002's 60 in 200002 leaves 97.8 − 60 = 37.8 of it to
    100001 → weights 56/90 and 34/90 (the growth shared by the linked codes in proportion)."""
    native, conc, old = _native(MERGE_CLUSTERS), _concordance(MERGE), {"100001": 100, "100002": 60}
    defs = constant_definitions(native, conc, _emp(old, {"200001": 77, "200002": 99}))
    assert _weights(defs, "100001") == {"1": pytest.approx(0.7), "2": pytest.approx(0.3)}
    defs = constant_definitions(native, conc, _emp(old, {"200001": 70, "200002": 110}))
    assert _weights(defs, "100001") == {"1": pytest.approx(56 / 90), "2": pytest.approx(34 / 90)}


# A chain of splits and merges: 100001 → {200001, 200002}, 100002 → {200002, 200003}, 100003 →
# {200003}. Old 100 / 50 / 30, new 60 / 60 / 60. 100003 is all in 200003 (30); 100002 sent the
# other 30 of 200003 and so 20 to 200002; 100001 the other 40 of 200002 and 60 to 200001.
CHAIN = [("100001", "200001"), ("100001", "200002"), ("100002", "200002"), ("100002", "200003"), ("100003", "200003")]
CHAIN_CLUSTERS = {"200001": "1", "200002": "2", "200003": "3"}
CHAIN_OLD = {"100001": 100.0, "100002": 50.0, "100003": 30.0}
CHAIN_NEW = {"200001": 60.0, "200002": 60.0, "200003": 60.0}


def test_a_chain_of_splits_and_merges_by_hand() -> None:
    defs = constant_definitions(_native(CHAIN_CLUSTERS), _concordance(CHAIN), _emp(CHAIN_OLD, CHAIN_NEW))
    assert _weights(defs, "100001") == {"1": pytest.approx(0.6), "2": pytest.approx(0.4)}
    assert _weights(defs, "100002") == {"2": pytest.approx(0.4), "3": pytest.approx(0.6)}
    assert _weights(defs, "100003") == {"3": 1.0}


def test_weights_conserve_employment() -> None:
    """Each old code's weights sum to 1, and the old codes apportioned with them give each
    cluster exactly its successors' employment (both ends add up here): nothing created, nothing
    lost, nothing moved between clusters by the rule."""
    defs = constant_definitions(_native(CHAIN_CLUSTERS), _concordance(CHAIN), _emp(CHAIN_OLD, CHAIN_NEW))
    old = defs.filter(pl.col("naics_vintage") == "2002")
    sums = old.group_by("naics").agg(pl.col("weight").sum())
    assert sums["weight"].to_list() == pytest.approx([1.0] * 3)
    old_emp = pl.DataFrame({"naics": list(CHAIN_OLD), "emp": list(CHAIN_OLD.values())})
    by_cluster = (
        old.join(old_emp, on="naics").group_by("cluster_code").agg((pl.col("weight") * pl.col("emp")).sum()).sort("cluster_code")
    )
    assert by_cluster.rows() == [("1", pytest.approx(60.0)), ("2", pytest.approx(60.0)), ("3", pytest.approx(60.0))]


def test_an_old_code_without_last_year_employment_takes_what_the_others_leave() -> None:
    """100002 has no row in 2007 (unknown, not zero): it is not held to a size and takes what
    100001's fit leaves of 200002 and 200003: 100001 (known, 100) → 200001 60, 200002 40;
    100002 → 200002 20 of 60, 200003 60 of 60 → weights 0.25 / 0.75."""
    links = [("100001", "200001"), ("100001", "200002"), ("100002", "200002"), ("100002", "200003")]
    defs = constant_definitions(
        _native(CHAIN_CLUSTERS), _concordance(links), _emp({"100001": 100}, {"200001": 60, "200002": 60, "200003": 60})
    )
    assert _weights(defs, "100001") == {"1": pytest.approx(0.6), "2": pytest.approx(0.4)}
    assert _weights(defs, "100002") == {"2": pytest.approx(0.25), "3": pytest.approx(0.75)}


def test_an_old_code_with_zero_last_year_employment_falls_back_to_equal_shares() -> None:
    """100001 had 0 jobs in 2007: the fit gives it no flow, so its weights rest on its successors'
    employment shared equally among their predecessors: 200001 70 (alone), 200002 90 / 2 = 45 →
    70/115 and 45/115; 100002 then has all of 200002."""
    defs = constant_definitions(
        _native(MERGE_CLUSTERS), _concordance(MERGE), _emp({"100001": 0, "100002": 60}, {"200001": 70, "200002": 90})
    )
    assert _weights(defs, "100001") == {"1": pytest.approx(70 / 115), "2": pytest.approx(45 / 115)}
    assert set(defs.filter(pl.col("naics") == "100001")["method"]) == {"employment"}


def test_flows_on_the_links() -> None:
    links = pl.DataFrame(MERGE, schema=["naics", "successor"], orient="row")
    new = pl.DataFrame({"successor": ["200001", "200002"], "emp": [70.0, 90.0]})
    old = pl.DataFrame({"naics": ["100001", "100002"], "emp": [100.0, 60.0]})
    got = {(r["naics"], r["successor"]): r["flow"] for r in successor_flows(links, new, old).to_dicts()}
    assert got == {
        ("100001", "200001"): pytest.approx(70.0), ("100001", "200002"): pytest.approx(30.0),
        ("100002", "200002"): pytest.approx(60.0),
    }  # fmt: skip
    # no last-year employment at all (a run without that year): the equal shares of each successor
    none = successor_flows(links, new, old.clear())
    assert {(r["naics"], r["successor"]): r["flow"] for r in none.to_dicts()} == {
        ("100001", "200001"): pytest.approx(70.0), ("100001", "200002"): pytest.approx(45.0),
        ("100002", "200002"): pytest.approx(45.0),
    }  # fmt: skip
    assert successor_flows(links, new.clear(), old).height == 0  # no successor employment: no flow


def _industry(rows: list[tuple[int, str, str, str, float | None]]) -> pl.DataFrame:
    """CBP-like 6-digit rows: (year, NAICS vintage, region, code, emp)."""
    return pl.DataFrame(
        [(y, "state", r, f"NAICS{v}", c, 6, "-", e) for y, v, r, c, e in rows],
        schema={"year": pl.Int32, "region_type": pl.String, "region_code": pl.String, "classification": pl.String,
                "industry_code": pl.String, "industry_level": pl.Int8, "lfo": pl.String, "emp": pl.Float64},
        orient="row",
    )  # fmt: skip


def test_the_warehouse_reads_the_last_old_year_and_the_first_new_year() -> None:
    """sql/us/successor_employment.sql gives each vintage's first and last year (national: the
    states summed, withheld cells skipped); the weights use the last NAICS 2002 year (2007, where
    100002 has 60 jobs: weights 0.7 / 0.3 as in the merge example), not the first (2003, where
    100002 had 20: 0.525 / 0.475) nor the last NAICS 2007 year (2011)."""
    rows = [
        (2003, "2002", "A", "100001", 100.0), (2003, "2002", "A", "100002", 20.0),
        (2005, "2002", "A", "100001", 1.0), (2005, "2002", "A", "100002", 1.0),
        (2007, "2002", "A", "100001", 60.0), (2007, "2002", "B", "100001", 40.0),
        (2007, "2002", "A", "100002", 60.0), (2007, "2002", "B", "100002", None),
        (2008, "2007", "A", "200001", 70.0), (2008, "2007", "A", "200002", 90.0),
        (2011, "2007", "A", "200001", 10.0), (2011, "2007", "A", "200002", 150.0),
    ]  # fmt: skip
    con = duckdb.connect()
    create_macros(con)
    register_frame(con, "industry_employment", _industry(rows))
    emp = INDICATOR_SQL.fetch(con, "us/successor_employment").sort("naics_vintage", "year", "naics")
    assert emp.rows() == [
        ("2002", "100001", 2003, 100.0), ("2002", "100002", 2003, 20.0),
        ("2002", "100001", 2007, 100.0), ("2002", "100002", 2007, 60.0),
        ("2007", "200001", 2008, 70.0), ("2007", "200002", 2008, 90.0),
        ("2007", "200001", 2011, 10.0), ("2007", "200002", 2011, 150.0),
    ]  # fmt: skip
    defs = constant_definitions(_native(MERGE_CLUSTERS), _concordance(MERGE), emp)
    assert _weights(defs, "100001") == {"1": pytest.approx(0.7), "2": pytest.approx(0.3)}
