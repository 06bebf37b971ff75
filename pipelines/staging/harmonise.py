"""Harmonise parsed source rows into the one long industry-employment table.

Schema (assets/schemas/industry_employment.json): string ids, reported employment kept apart
from imputed employment, every source flag in its own column, and null (never zero) for
values the source withheld.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipelines.schemas import load_schema
from pipelines.sources.cbp import EMPFLAG_MIDPOINTS, MARKERS, NAICS_WELL_FORMED, NUMERIC, CbpLayout

TOTAL_CODE = "TOTAL"

# Column types are declared once, in assets/schemas/industry_employment.yaml.
HARMONISED_SCHEMA: pl.Schema = load_schema("industry_employment").polars_schema()
KEY = ["year", "region_type", "region_code", "classification", "industry_code", "lfo"]


# The year rule: the NAICS vintage CBP files of a year are coded in, as published upstream
# (CBP 2022 and 2023 are still NAICS 2017: the Census CBP API names the 2023 variable NAICS2017).
# It is only the prior of `detect_naics_vintage`; the codes of the file decide.
YEAR_RULE: tuple[tuple[int, str], ...] = (
    (2003, "1997"), (2008, "2002"), (2012, "2007"), (2017, "2012"), (2024, "2017"),
)  # fmt: skip
LATEST_VINTAGE = "2022"


def cbp_naics_vintage(year: int) -> str:
    """NAICS vintage the CBP files of a year are coded in by the year rule (1998–2002 → 1997,
    2003–2007 → 2002, 2008–2011 → 2007, 2012–2016 → 2012, 2017–2023 → 2017, later → 2022)."""
    for first_after, vintage in YEAR_RULE:
        if year < first_after:
            return vintage
    return LATEST_VINTAGE


@dataclass(frozen=True)
class VintageEvidence:
    """What a file's codes say about its NAICS vintage: the vintage chosen, the year rule's,
    and the share of the file's distinct 6-digit codes valid in each vintage."""

    vintage: str
    year_rule: str
    shares: dict[str, float]
    codes: int

    @property
    def agrees(self) -> bool:
        return self.vintage == self.year_rule

    def record(self) -> dict[str, Any]:
        """JSON form kept in the staging sidecar, the raw-archive manifest and the release."""
        return {
            "naics_vintage": self.vintage, "year_rule": self.year_rule, "agrees": self.agrees,
            "six_digit_codes": self.codes, "shares": {k: round(v, 6) for k, v in sorted(self.shares.items())},
        }  # fmt: skip


def detect_naics_vintage(
    codes: pl.DataFrame | pl.LazyFrame | pl.Series,
    year: int,
    vintage_codes: Mapping[str, Iterable[str]] | None,
) -> VintageEvidence:
    """The NAICS vintage of a file from its codes, the year rule as the prior.

    For each vintage with a code list, the share of the file's distinct 6-digit codes valid in it;
    the highest share wins, a tie goes to the year rule, then to the vintage nearest to it, then to
    the later one (a file of codes common to all vintages stays with its year). Without code lists or 6-digit codes
    the year rule stands. `codes`: the industry codes (a Series, or a frame's `industry_code`)."""
    prior = cbp_naics_vintage(year)
    if isinstance(codes, pl.Series):
        codes = codes.to_frame("industry_code")
    six = (
        codes.lazy()
        .select(pl.col("industry_code").cast(pl.String))
        .filter(pl.col("industry_code").str.contains(r"^[0-9]{6}$"))
        .unique()
        .collect()["industry_code"]
    )
    lists = {v: {c for c in cs if len(c) == 6} for v, cs in (vintage_codes or {}).items()}
    lists = {v: cs for v, cs in lists.items() if cs}
    if six.len() == 0 or not lists:
        return VintageEvidence(prior, prior, {}, six.len())
    shares = {v: float(six.is_in(sorted(cs)).mean() or 0.0) for v, cs in lists.items()}
    best = max(shares, key=lambda v: (shares[v], -abs(int(v) - int(prior)), int(v)))
    return VintageEvidence(best, prior, shares, six.len())


def _cell(col: str, layout: CbpLayout) -> pl.Expr:
    """A text cell, stripped only when the file has whitespace to strip (CbpLayout.padded)."""
    return pl.col(col).str.strip_chars() if layout.padded else pl.col(col)


def _text(col: str, layout: CbpLayout) -> pl.Expr:
    if col not in layout.columns:
        return pl.lit(None, dtype=pl.String)
    v = _cell(col, layout)
    return pl.when(v == "").then(None).otherwise(v)


def _region(layout: CbpLayout) -> tuple[str, pl.Expr, str | None]:
    """(region type, region code expression, regex a valid code matches) of a layout."""
    geo, cols = layout.geo, set(layout.columns)
    if geo == "state":
        return "state", _cell("fipstate", layout).str.zfill(2), "^[0-9]{2}$"
    if geo == "county":
        code = pl.concat_str(
            _cell("fipstate", layout).str.zfill(2),
            _cell("fipscty", layout).str.zfill(3),
        )
        return "county", code, "^[0-9]{5}$"
    if geo == "msa":
        return "msa", _cell("msa" if "msa" in cols else "cbsa", layout).str.zfill(5), "^[0-9]{5}$"
    return "country", pl.lit("US"), None


def clean_cbp(lf: pl.LazyFrame, layout: CbpLayout) -> pl.LazyFrame:
    """Add the cleaned source cells (`_`-prefixed columns) that harmonising and the row rules share:
    each text column is stripped once, each count cast once, the industry code derived once."""
    cols = set(layout.columns)
    _, region, _ = _region(layout)
    counts = [c for c in NUMERIC if c in cols]
    stripped = lf.with_columns(
        region.alias("_region"),
        _cell("naics", layout).alias("_naics_raw"),
        _text("empflag", layout).alias("_empflag"),
        _text("emp_nf", layout).alias("_emp_nf"),
        _text("ap_nf", layout).alias("_ap_nf"),
        _text("qp1_nf", layout).alias("_qp1_nf"),
        *(_cell(c, layout).alias(f"_s_{c}") for c in counts),
    )
    markers = list(MARKERS)
    return stripped.with_columns(
        pl.col("_naics_raw").str.strip_chars_end("-/").alias("_naics"),  # "3364//" → "3364"
        *(pl.col(f"_s_{c}").cast(pl.Int64, strict=False).alias(f"_n_{c}") for c in counts),
        *(pl.col(f"_s_{c}").is_in(markers).fill_null(False).alias(f"_m_{c}") for c in counts),
        pl.col("_empflag").is_in(markers).fill_null(False).alias("_m_empflag"),
    ).with_columns(
        # The published industry code: "------" (all industries) becomes TOTAL.
        pl.when(pl.col("_naics") == "").then(pl.lit(TOTAL_CODE)).otherwise(pl.col("_naics")).alias("_code"),
    )


def naics_well_formed() -> pl.Expr:
    """Whether a `clean_cbp` row's NAICS cell is well formed (a malformed one rejects the file)."""
    return pl.col("_naics_raw").str.contains(NAICS_WELL_FORMED).fill_null(False)


def naics_code_rule(code: pl.Expr, well_formed: pl.Expr, naics_codes: set[str], vintage: str) -> pl.Expr:
    """The quarantine reason of a well-formed industry code missing from its vintage's code list
    (null otherwise): the one NAICS-code rule, applied in `cbp_row_rules` and, once the file's
    vintage is known, to harmonised rows (pipelines.staging.cbp.parse_cbp_file_vintage)."""
    return pl.when(well_formed & ~code.is_in(sorted(naics_codes))).then(pl.lit(f"NAICS code not in NAICS{vintage}"))


def join_reasons(reasons: list[pl.Expr]) -> pl.Expr:
    """Quarantine reasons joined by "; ", null when none applies: how `cbp_row_rules` joins its
    rules, and how staging adds the NAICS-code rule once the file's vintage is known."""
    joined = pl.concat_str(reasons, separator="; ", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def cbp_row_rules(
    layout: CbpLayout, *, year: int, naics_codes: set[str] | None = None, quarantine: bool = False,
    vintage: str | None = None,
) -> tuple[pl.Expr, pl.Expr]:
    """(malformed, quarantine reason) over `clean_cbp` columns, one pass for every rule.

    Malformed rows (bad ids, unknown flags, non-numeric counts) make the file unusable: the parser
    must not guess. With `quarantine`, negative counts and well-formed NAICS codes missing from the
    year's vintage (`naics_codes`) are set aside with the reason instead (negatives are malformed
    otherwise). `vintage`: the file's NAICS vintage (detected; default the year rule)."""
    cols = set(layout.columns)
    counts = [c for c in NUMERIC if c in cols]
    _, _, region_ok = _region(layout)
    well_formed = naics_well_formed()
    bad = ~well_formed
    if region_ok is not None:
        bad = bad | ~pl.col("_region").str.contains(region_ok).fill_null(False)
    if layout.has_empflag:
        flag = pl.col("_empflag")
        bad = bad | (flag.is_not_null() & ~flag.is_in(list(EMPFLAG_MIDPOINTS)) & ~pl.col("_m_empflag"))
    reasons: list[pl.Expr] = []
    for c in counts:
        s, n = pl.col(f"_s_{c}"), pl.col(f"_n_{c}")
        blank = s.is_null() | (s == "") | pl.col(f"_m_{c}")
        bad = bad | (n.is_null() & ~blank)
        if quarantine:
            reasons.append(pl.when(n < 0).then(pl.lit(f"negative {c}")))
        else:
            bad = bad | (n < 0).fill_null(False)
    if quarantine and naics_codes:
        reasons.append(naics_code_rule(pl.col("_code"), well_formed, naics_codes, vintage or cbp_naics_vintage(year)))
    bad = bad.fill_null(True)  # a rule that cannot tell is not a pass
    if not reasons:
        return bad, pl.lit(None, dtype=pl.String)
    return bad, join_reasons(reasons)


def _with_employment_flags(cleaned: pl.LazyFrame, withheld_flags: list[str]) -> pl.LazyFrame:
    """`clean_cbp` rows plus the employment flags that several outputs share: `_suppressed`,
    `_midpoint` (of the size-class letter), `_emp_marker` and `_emp_reported` (null unless reported)."""
    empflag, emp_nf = pl.col("_empflag"), pl.col("_emp_nf")
    emp_marker = pl.when(pl.col("_m_emp")).then(pl.col("_s_emp")).otherwise(
        pl.when(pl.col("_m_empflag")).then(empflag)
    )
    # The flags that several outputs share.
    return cleaned.with_columns(
        empflag.is_in(list(EMPFLAG_MIDPOINTS)).alias("_suppressed"),
        empflag.replace_strict(EMPFLAG_MIDPOINTS, default=None, return_dtype=pl.Int64).alias("_midpoint"),
        emp_marker.alias("_emp_marker"),
    ).with_columns(
        # A suppressed cell's EMP is a placeholder 0: it is not a reported value.
        pl.when(
            pl.col("_suppressed") | pl.col("_emp_marker").is_not_null() | emp_nf.is_in(withheld_flags)
        )
        .then(None)
        .otherwise(pl.col("_n_emp"))
        .alias("_emp_reported"),
    )


def harmonise_cbp(
    lf: pl.LazyFrame,
    layout: CbpLayout,
    *,
    year: int,
    source_id: str,
    sha256: str,
    rules: tuple[pl.Expr, pl.Expr] | None = None,
    vintage: str | None = None,
    keep: tuple[str, ...] = (),
) -> pl.LazyFrame:
    """Parsed CBP rows (lower-case text columns) → harmonised long table rows.

    With `rules` (from `cbp_row_rules`), three more columns come out of the same pass: `_malformed`,
    `_reason` and `_naics_ok` (for `naics_code_rule`); the caller rejects or quarantines on them
    (pipelines.staging.cbp.parse_cbp_file). `keep`: input columns passed through (e.g. `_line`).
    `vintage`: the file's NAICS vintage (`detect_naics_vintage`; default the year rule), written
    to `classification` so the cluster definitions of that vintage are joined."""
    region_type, _, _ = _region(layout)
    cleaned = clean_cbp(lf, layout)
    withheld_flags = ["D", "S", "N"]
    naics = pl.col("_naics")
    empflag, emp_nf, ap_nf, qp1_nf = pl.col("_empflag"), pl.col("_emp_nf"), pl.col("_ap_nf"), pl.col("_qp1_nf")
    flagged = _with_employment_flags(cleaned, withheld_flags)
    suppressed, midpoint, emp_reported = pl.col("_suppressed"), pl.col("_midpoint"), pl.col("_emp_reported")
    payroll_withheld = suppressed | pl.col("_m_ap") | ap_nf.is_in(withheld_flags)
    qp1 = pl.col("_n_qp1") if layout.has_qp1 else pl.lit(None, dtype=pl.Int64)
    extra = [rules[0].alias("_malformed"), rules[1].alias("_reason"), naics_well_formed().alias("_naics_ok")] if rules is not None else []
    extra += [pl.col(c) for c in keep]

    out = flagged.select(
        pl.lit(year, dtype=pl.Int32).alias("year"),
        pl.lit(region_type).alias("region_type"),
        pl.col("_region").alias("region_code"),
        pl.lit(f"NAICS{vintage or cbp_naics_vintage(year)}").alias("classification"),
        pl.col("_code").alias("industry_code"),
        naics.str.len_chars().cast(pl.Int8).alias("industry_level"),
        (_text("lfo", layout).fill_null("-") if layout.has_lfo else pl.lit("-")).alias("lfo"),
        pl.coalesce(emp_reported, midpoint).cast(pl.Float64).alias("emp"),
        emp_reported.alias("emp_reported"),
        pl.coalesce(empflag, pl.col("_emp_marker")).alias("empflag"),
        emp_nf.alias("emp_nf"),
        (emp_reported.is_null() & midpoint.is_not_null()).alias("emp_imputed"),
        pl.col("_n_est").alias("est"),
        pl.when(payroll_withheld).then(None).otherwise(pl.col("_n_ap")).alias("payroll"),
        ap_nf.alias("payroll_nf"),
        pl.when(suppressed | qp1_nf.is_in(withheld_flags)).then(None).otherwise(qp1).alias("qp1"),
        qp1_nf.alias("qp1_nf"),
        pl.lit(source_id).alias("source_id"),
        pl.lit(sha256).alias("source_sha256"),
        *extra,
    )
    return out.cast(HARMONISED_SCHEMA)  # type: ignore[arg-type]


__all__ = [
    "HARMONISED_SCHEMA", "KEY", "NUMERIC", "TOTAL_CODE", "VintageEvidence", "cbp_naics_vintage", "cbp_row_rules",
    "clean_cbp", "detect_naics_vintage", "harmonise_cbp", "join_reasons", "naics_code_rule", "naics_well_formed",
]  # fmt: skip
