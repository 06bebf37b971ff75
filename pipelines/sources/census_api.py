"""Census CBP API (api.census.gov/data/{year}/cbp): the second US route, for targeted pulls.

One request = one year, one state (or all states), a list of NAICS codes. The response is the
Census API's documented JSON: a list of lists, the first row the header, every cell a string::

    [["NAICS2017","NAICS2017_LABEL","EMP","EMP_N","EMP_F","ESTAB","PAYANN","PAYANN_N","state"],
     ["336411","Aircraft manufacturing","56520","G",null,"89","7093651","G","06"]]

Here: URLs, the response check and the parser (checked text rows); pipelines.staging.census_api
maps them onto the harmonised industry-employment schema (the same table the CBP files feed), with
the API's NAICS variable as the classification. The API key (``CENSUS_API_KEY``) is
sent as the ``key`` query parameter, but every recorded URL is redacted by pipelines.raw.http.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl

from pipelines.errors import SourceError
from pipelines.sources.cbp import MARKERS

API_BASE = "https://api.census.gov/data"
WITHHELD = {"D", "S", "N"}  # noise / flag values meaning "no usable number here"
REQUIRED = ("EMP", "ESTAB", "PAYANN")
# Largest answer accepted (bytes, enforced while it downloads, before it is archived or parsed).
# The largest answer this module asks for (all states, every NAICS code of a year) is about 9 MB:
# 90,693 rows in the mirror's 2011 state file at ~98 bytes a JSON row with a 40-character label;
# it parses in 0.3 s and 40 MB of memory. 64 MiB is seven times that (~0.5 GB to parse); a
# targeted county pull (3,100 counties x a dozen codes) stays near 4 MB. A longer body is a broken
# or hostile server, refused before it fills the disk.
MAX_API_BYTES = 64 << 20
# The API names 2-digit sector ranges; the CBP files carry the first code ("31----" → 31).
SECTOR_RANGES = {"31-33": "31", "44-45": "44", "48-49": "48"}


def naics_variable(year: int) -> str:
    """The NAICS predicate the CBP API uses for a year (NAICS2012 2012–16, NAICS2017 from 2017)."""
    if year < 1998:
        raise ValueError(f"CBP API has NAICS-based data from 1998 only, not {year}")
    if year < 2003:
        return "NAICS1997"
    if year < 2008:
        return "NAICS2002"
    if year < 2012:
        return "NAICS2007"
    if year < 2017:
        return "NAICS2012"
    return "NAICS2017"  # the API keeps NAICS2017 for 2017 onwards (2022 included)


def variables(year: int) -> list[str]:
    """Variables requested: employment with its flags, establishments, payroll with flags."""
    nv = naics_variable(year)
    if year >= 2017:  # noise-infusion flags
        return [nv, f"{nv}_LABEL", "EMP", "EMP_N", "EMP_F", "ESTAB", "PAYANN", "PAYANN_N"]
    return [nv, f"{nv}_LABEL", "EMP", "EMP_F", "ESTAB", "PAYANN", "PAYANN_F"]


def source_id(year: int, state: str) -> str:
    return f"census/cbp-api/{year}/state:{state_fips(state)}"


def state_fips(state: str) -> str:
    """The 2-digit state FIPS code of `state` ("6" → "06"), or "all" for "*"."""
    s = str(state).strip()
    if s == "*":
        return "all"
    if not s.isdigit() or len(s) > 2:
        raise ValueError(f"state must be a 2-digit FIPS code or '*', not {state!r}")
    return s.zfill(2)


def api_url(
    year: int,
    state: str,
    naics: Sequence[str] = (),
    *,
    key: str | None = None,
    base: str = API_BASE,
) -> str:
    """Request URL; the key (when given) is the last query parameter."""
    nv = naics_variable(year)
    st = "*" if state_fips(state) == "all" else state_fips(state)
    query: list[tuple[str, str]] = [("get", ",".join(variables(year))), ("for", f"state:{st}")]
    query.extend((nv, code) for code in naics)
    if key:
        query.append(("key", key))
    return f"{base.rstrip('/')}/{year}/cbp?{urlencode(query, safe=',:*')}"


def _load(path: Path) -> list[list[Any]]:
    raw = path.read_bytes()
    if not raw.strip():  # the API answers 204 with no body when nothing matches
        return []
    head = raw[:200].lstrip()
    if not head.startswith(b"["):
        snippet = head[:80].decode("latin-1", "replace")
        raise ValueError(f"not Census API JSON (starts with {snippet!r})")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc}") from exc
    if not isinstance(data, list) or not data or not all(isinstance(r, list) for r in data):
        raise ValueError("expected a JSON list of lists (header row first)")
    return data


def validate_json(path: Path) -> None:
    """Reject HTML error pages ('Invalid Key' comes back as 200 HTML) and malformed JSON."""
    data = _load(path)
    if data:
        header = [str(c).upper() for c in data[0]]
        if not any(c.startswith("NAICS") for c in header):
            raise ValueError(f"no NAICS column in the header {data[0]}")


def naics_column(header: list[str]) -> str | None:
    """The NAICS code column of an (upper-case) header, e.g. NAICS2017; None when there is none."""
    return next((c for c in header if c.startswith("NAICS") and c[5:].isdigit()), None)


def parse_api_table(path: Path, *, source: str, location: str) -> pl.DataFrame | None:
    """Census API JSON → its rows as text (header upper case, cells stripped), all-sizes and
    all-LFO rows only, every count checked; None when the API matched nothing."""
    try:
        data = _load(path)
    except ValueError as exc:
        raise SourceError(source, location, str(exc)) from None
    if not data:
        return None
    header = [str(c).strip().upper() for c in data[0]]
    _check_layout(data, header, source, location)
    df = pl.DataFrame(
        [[None if v is None else str(v) for v in r] for r in data[1:]],
        schema=dict.fromkeys(header, pl.String),
        orient="row",
    )
    df = df.with_columns(pl.col(c).str.strip_chars() for c in header)
    if "EMPSZES" in header:
        df = df.filter(pl.col("EMPSZES") == "001")
    if "LFO" in header:
        df = df.filter(pl.col("LFO") == "001")
    _check_cells(df, header, source, location)
    return df


def _check_layout(data: list[list[Any]], header: list[str], source: str, location: str) -> None:
    """Fail on a header without the required columns or rows of another length than the header."""
    nv = naics_column(header)
    missing = [c for c in REQUIRED if c not in header] + ([] if nv else ["NAICS<vintage>"])
    if "STATE" not in header:
        missing.append("state")
    if missing:
        raise SourceError(
            source, location, f"unknown Census API layout: missing {missing}; header is {data[0]}"
        )
    bad = [(i + 2, r) for i, r in enumerate(data[1:]) if len(r) != len(header)]
    if bad:
        raise SourceError(
            source, location, f"{len(bad)} malformed row(s): expected {len(header)} cells",
            rows="\n".join(f"row {n}: {r}" for n, r in bad[:10]),
        )


def _check_cells(df: pl.DataFrame, header: list[str], source: str, location: str) -> None:
    """Fail on counts that are neither digits nor a marker, and on state codes that are not 1–2 digits."""
    numeric = [c for c in ("EMP", "ESTAB", "PAYANN", "PAYQTR1") if c in header]
    problems = [
        pl.when(~(pl.col(c).str.contains(r"^[0-9]+$") | pl.col(c).is_null() | pl.col(c).is_in(list(MARKERS))))
        .then(pl.lit(f"non-numeric {c}"))
        for c in numeric
    ]
    problems.append(pl.when(~pl.col("STATE").str.contains(r"^[0-9]{1,2}$")).then(pl.lit("bad state")))
    checked = df.with_row_index("row", offset=2).with_columns(
        pl.concat_str(problems, separator="; ", ignore_nulls=True).alias("problem")
    )
    offending = checked.filter(pl.col("problem").is_not_null() & (pl.col("problem") != ""))
    if offending.height:
        raise SourceError(
            source, location, f"{offending.height} malformed Census API row(s) (first shown)",
            rows=str(offending.head(10)),
        )
