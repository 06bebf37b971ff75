"""Issue 20: the blocking expectations' tolerances, at the boundary. A value just past the real
tolerance must fail the suite and one just within must pass, so a loosened tolerance
(cluster_indicators 1e-6 → 0.1, cbp_parsed 0.01 → 0.5) fails here."""

from __future__ import annotations

import polars as pl

from pipelines.staging.harmonise import HARMONISED_SCHEMA
from pipelines.staging.quarantine import expand_naics
from pipelines.validation.engines import validate_frame

# --- cluster_indicators: region_emp_share sums to 1 (tolerance 1e-6) -----------------------------

SHARE_OFF = {"01": 2e-6, "06": 5e-7, "08": -2e-6, "09": 0.0}  # region → how far its traded shares sum from 1


def _indicators() -> pl.DataFrame:
    rows = []
    for region, off in SHARE_OFF.items():
        for code, ctype, emp, share in (("1", "traded", 60.0, 0.6 + off), ("2", "traded", 40.0, 0.4), ("101", "local", 10.0, 1.0)):
            rows.append({
                "year": 2010, "region_type": "state", "region_code": region, "cluster_code": code,
                "cluster_type": ctype, "emp": emp, "lq": 1.0, "region_emp_share": share, "cluster_emp_share": 0.25,
                "strong": False if ctype == "traded" else None, "strong10": False if ctype == "traded" else None,
            })  # fmt: skip
    return pl.DataFrame(rows)


def test_region_share_sum_tolerance_at_the_boundary() -> None:
    """2e-6 off (either way) fails, 5e-7 passes: the tolerance is 1e-6."""
    res = validate_frame("cluster_indicators", _indicators(), params={"cluster_codes": {"1", "2", "101"}})
    o = res.outcome("region_share_sums_to_one")
    assert o.failed and o.severity == "error"
    assert {r["region_code"] for r in o.sample} == {"01", "08"} and o.failing_count == 2


# --- cbp_parsed: 6-digit rows within the TOTAL row (tolerance 1 %) -------------------------------

SIX_DIGIT = {"01": (600, 20), "06": (1020, 20), "08": (1005, 20), "09": (600, 51), "10": (1000, 50)}
# region → (employment, establishments) of its two 6-digit rows; the TOTAL row has 1000 and 50


def _row(region: str, code: str, emp: int, est: int) -> dict:
    return {
        "year": 2010, "region_type": "state", "region_code": region, "classification": "NAICS2007",
        "industry_code": code, "industry_level": 0 if code == "TOTAL" else len(code), "lfo": "-",
        "emp": float(emp), "emp_reported": emp, "empflag": None, "emp_nf": None, "emp_imputed": False,
        "est": est, "payroll": 100, "payroll_nf": None, "qp1": None, "qp1_nf": None,
        "source_id": "census/cbp/state/2010", "source_sha256": "a" * 64,
    }  # fmt: skip


def _industry() -> pl.DataFrame:
    rows = []
    for region, (emp, est) in SIX_DIGIT.items():
        a, b, ea, eb = 300, emp - 300, 10, est - 10
        rows += [
            _row(region, "TOTAL", 1000, 50), _row(region, "31", a, ea), _row(region, "311", a, ea),
            _row(region, "311111", a, ea), _row(region, "54", b, eb), _row(region, "541", b, eb),
            _row(region, "541110", b, eb),
        ]  # fmt: skip
    return pl.DataFrame(rows, schema=HARMONISED_SCHEMA)


def test_six_digit_within_total_tolerance_at_the_boundary() -> None:
    """Employment or establishments 2 % over the TOTAL fail; 0.5 % over and exactly equal pass."""
    codes = expand_naics(["311111", "541110"])
    res = validate_frame("cbp_parsed", _industry(), params={"naics_codes@2010": codes, "classifications@2010": ["NAICS2007"]}, by="year")
    assert res.failed_ids("error") == {"six_digit_within_total"}
    o = res.outcome("six_digit_within_total")
    assert {r["region_code"] for r in o.sample} == {"06", "09"} and o.failing_count == 2
