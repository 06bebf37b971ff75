"""The completeness suite (sql/checks/years_present.sql, shrink_vs_previous.sql): every requested
CBP year × geography has rows, and none shrank sharply against the previous release."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.validation.engines import validate_frame
from pipelines.validation.gate import completeness_params, eu_completeness_params
from pipelines.validation.results import SuiteResult


def _table(rows: dict[int, int], emp: float = 10.0, region_type: str = "state") -> pl.DataFrame:
    years = [y for y, n in rows.items() for _ in range(n)]
    return pl.DataFrame(
        {"year": years, "region_type": [region_type] * len(years), "emp": [emp] * len(years)},
        schema={"year": pl.Int32, "region_type": pl.String, "emp": pl.Float64},
    )


def _run(df: pl.DataFrame, **params) -> SuiteResult:
    return validate_frame("completeness", df, params=params)


EXPECTED = {
    "expected_year": [2010, 2011],
    "expected_region_type": ["state", "state"],
    "expected_source": ["census/cbp/state/2010", "census/cbp/state/2011"],
}


def test_a_requested_year_without_rows_fails() -> None:
    ok = _run(_table({2010: 3, 2011: 2}), **EXPECTED)
    assert ok.outcome("requested_years_present").status == "passed"
    res = _run(_table({2010: 3}), **EXPECTED)
    o = res.outcome("requested_years_present")
    assert o.failed and o.severity == "error" and o.failing_count == 1
    assert o.sample == [{"year": 2011, "region_type": "state", "source_id": "census/cbp/state/2011", "rows": 0}]
    # Another geography's rows do not stand in for the requested one.
    other = pl.concat([_table({2010: 3}), _table({2011: 3}, region_type="county")])
    assert _run(other, **EXPECTED).outcome("requested_years_present").failing_count == 1


PREV = {"prev_year": [2010, 2011], "prev_region_type": ["state", "state"], "prev_rows": [10, 10],
        "prev_emp": [100.0, 100.0], "previous_release": "v2026.01.01"}  # fmt: skip


@pytest.mark.parametrize(
    ("rows_2011", "emp", "max_shrink", "fails"),
    [
        (10, 10.0, 0.2, False),  # unchanged
        (8, 10.0, 0.2, False),  # rows -20 %, employment -20 %: at the threshold
        (7, 10.0, 0.2, True),  # rows -30 %
        (7, 10.0, 0.35, False),  # the same under a looser threshold
        (10, 7.9, 0.2, True),  # same rows, employment -21 %
        (0, 10.0, 0.2, True),  # the year is gone
    ],
)
def test_shrink_against_previous_release(rows_2011: int, emp: float, max_shrink: float, fails: bool) -> None:
    df = pl.concat([_table({2010: 10}), _table({2011: rows_2011}, emp=emp)]) if rows_2011 else _table({2010: 10})
    o = _run(df, **PREV, max_shrink=max_shrink).outcome("no_sharp_shrink")
    assert o.failed is fails, o
    if fails:
        (row,) = o.sample
        assert row["year"] == 2011 and row["prev_rows"] == 10 and row["rows"] == rows_2011
        assert row["previous_release"] == "v2026.01.01"


def test_no_previous_release_compares_nothing() -> None:
    assert _run(_table({2010: 1}), max_shrink=0.2).outcome("no_sharp_shrink").status == "passed"


def test_params_come_from_the_request_and_the_latest_release(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", cbp_years=(2010, 2011), cbp_geos=("state", "us"), max_shrink=0.3)
    params = completeness_params(settings)
    assert list(zip(params["expected_year"], params["expected_region_type"], params["expected_source"], strict=True)) == [
        (2010, "state", "census/cbp/state/2010"), (2011, "state", "census/cbp/state/2011"),
        (2010, "country", "census/cbp/us/2010"), (2011, "country", "census/cbp/us/2011"),
    ]  # fmt: skip
    assert params["prev_year"] == [] and params["max_shrink"] == 0.3
    rel = settings.releases_dir / "v2026.01.01"
    (rel / "data").mkdir(parents=True)
    prev = pl.concat([_table({2009: 4, 2010: 3, 2011: 2}), _table({2010: 5}, emp=2.0, region_type="county")])
    prev.write_parquet(rel / "data/industry_employment.parquet")
    (settings.releases_dir / "latest.json").write_text(json.dumps({"version": "v2026.01.01"}))
    params = completeness_params(settings)
    # Only pairs requested again are compared (2009 and counties are not in this refresh).
    assert params["previous_release"] == "v2026.01.01"
    assert list(zip(params["prev_year"], params["prev_region_type"], params["prev_rows"], params["prev_emp"], strict=True)) == [
        (2010, "state", 3, 30.0), (2011, "state", 2, 20.0),
    ]  # fmt: skip


def test_max_shrink_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().max_shrink == 0.2
    monkeypatch.setenv("OBSERVATORY_MAX_SHRINK", "0.5")
    assert Settings.from_env().max_shrink == 0.5
    monkeypatch.setenv("OBSERVATORY_MAX_SHRINK", "1.5")
    with pytest.raises(ValueError, match="OBSERVATORY_MAX_SHRINK"):
        Settings.from_env()


def test_eurostat_dataset_without_rows_fails_and_eu_years_are_compared(tmp_path: Path) -> None:
    eu = _table({2014: 4, 2015: 4}, region_type="nuts2").with_columns(pl.lit("eurostat/sbs_r_nuts06_r2").alias("source_id"))
    ok = validate_frame("eu_completeness", eu, params={"expected_source": ["eurostat/sbs_r_nuts06_r2"]})
    assert ok.outcome("datasets_present").status == "passed"
    params = {"expected_source": ["eurostat/sbs_r_nuts06_r2", "eurostat/sbs_r_nuts2021"]}
    o = validate_frame("eu_completeness", eu, params=params).outcome("datasets_present")
    assert o.failed and o.sample == [{"source_id": "eurostat/sbs_r_nuts2021", "rows": 0}]

    # The previous release had 2013 as well: the year vanished (0 rows) and blocks.
    settings = Settings(warehouse=tmp_path / "wh", mirror=None)
    rel = settings.releases_dir / "v2026.01.01"
    (rel / "data").mkdir(parents=True)
    prev = pl.concat([_table({2013: 4}, region_type="nuts2"), eu.drop("source_id"), _table({2015: 9}, region_type="custom")])
    prev.write_parquet(rel / "data/eu_industry_employment.parquet")
    (settings.releases_dir / "latest.json").write_text(json.dumps({"version": "v2026.01.01"}))
    params = eu_completeness_params(settings)
    assert params["expected_source"] == ["eurostat/sbs_r_nuts06_r2", "eurostat/sbs_r_nuts2021"]
    assert params["prev_year"] == [2013, 2014, 2015] and "custom" not in params["prev_region_type"]
    o = validate_frame("eu_completeness", eu, params=params).outcome("no_sharp_shrink")
    assert o.failed and [r["year"] for r in o.sample] == [2013]
