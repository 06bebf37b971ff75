"""Eurostat dissemination API: SDMX 2.1 TSV and JSON-stat 2.0 client and parsers.

Formats
-------
* SDMX 2.1 TSV (``.../sdmx/2.1/data/{dataset}?format=TSV&compressed=true``): gzip'd, tab
  separated; the first header cell names the dimensions and the time axis, e.g.
  ``freq,nace_r2,indic_sbs,geo\\TIME_PERIOD`` (current API) or ``nace_r2,indic_sb,geo\\time``
  (older bulk download, no ``freq``). One column per period; cells are ``value flags``:
  ``12345``, ``12345 p``, ``: c`` (withheld, confidential), ``:`` (not available), ``0 n``.
* JSON-stat 2.0 (``.../statistics/1.0/data/{dataset}``): ``id``/``size`` give the dimension
  order, ``value``/``status`` are sparse dicts keyed by the row-major flat index (or lists).

Both parse into the same long frame (:data:`LONG_SCHEMA`): one row per series and period with
every dimension as a lower-case string column, ``value`` (Float64, null for ``:``) and ``flags``
(every flag letter, null when none). A missing value is never turned into zero.

Client
------
:class:`EurostatClient` downloads through :func:`pipelines.raw.http.fetch` (mirror first, sha256,
raw archive). It handles the API's two "too big" answers:

* queued extraction: HTTP 413, or a 200 answer carrying an asynchronous key instead of data:
  the client polls with exponential backoff (the async status endpoint when a key is given,
  else the same URL) up to ``max_polls`` and then fails with a :class:`SourceError` that says
  how long it waited and what to do;
* HTTP 416 (too many categories): the request is split along a dimension (halving an explicit
  filter, or one request per value of ``split_values``) and the pieces are concatenated.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import polars as pl

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.archive import RawFile
from pipelines.raw.http import fetch

log = logging.getLogger(__name__)

API_BASE = "https://ec.europa.eu/eurostat/api/dissemination"
SDMX_PATH = "/sdmx/2.1/data/{dataset}"
JSONSTAT_PATH = "/statistics/1.0/data/{dataset}"
ASYNC_STATUS_PATH = "/1.0/async/status/{key}"
ASYNC_DATA_PATH = "/1.0/async/data/{key}"

# A cell: optional number (or ':'), then optional flag letters, separated by blanks.
CELL_RE = r"^\s*(?P<num>:|[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)?\s*(?P<flags>[a-z]*)\s*$"
LONG_SCHEMA_FIXED = {"time": pl.String(), "value": pl.Float64(), "flags": pl.String()}


def source_id(dataset: str) -> str:
    return f"eurostat/{dataset}"


def tsv_url(dataset: str, filters: Mapping[str, Sequence[str]] | None = None, base: str = API_BASE) -> str:
    """SDMX 2.1 TSV URL; without filters it is exactly the URL the mirror index lists."""
    query: list[tuple[str, str]] = [("format", "TSV"), ("compressed", "true")]
    for dim, values in sorted((filters or {}).items()):
        query.extend((dim, v) for v in values)
    return f"{base}{SDMX_PATH.format(dataset=dataset)}?{urlencode(query)}"


def jsonstat_url(
    dataset: str, filters: Mapping[str, Sequence[str]] | None = None, base: str = API_BASE
) -> str:
    query: list[tuple[str, str]] = [("format", "JSON"), ("lang", "EN")]
    for dim, values in sorted((filters or {}).items()):
        query.extend((dim, v) for v in values)
    return f"{base}{JSONSTAT_PATH.format(dataset=dataset)}?{urlencode(query)}"


# --------------------------------------------------------------------------------------------
# cell parsing


def parse_cells(cell: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(value, flags, ok) expressions for an Eurostat cell such as '12345 p', ': c', '0 n'.

    ':' and an empty number give a null value (never zero); flags keep every letter.
    """
    parts = cell.str.extract_groups(CELL_RE)
    num = parts.struct.field("num")
    flags = parts.struct.field("flags")
    value = pl.when(num.is_null() | (num == ":")).then(None).otherwise(num).cast(pl.Float64)
    flags = pl.when(flags == "").then(None).otherwise(flags)
    ok = cell.is_null() | num.is_not_null() | flags.is_not_null() | (cell.str.strip_chars() == "")
    return value, flags, ok


# --------------------------------------------------------------------------------------------
# TSV


@dataclass(frozen=True)
class TsvHeader:
    dimensions: tuple[str, ...]
    time_name: str  # "time" (bulk) or "TIME_PERIOD" (SDMX 2.1 TSV)
    first_cell: str
    periods: tuple[str, ...]


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_tsv_header(path: Path, source: str, location: str) -> TsvHeader:
    try:
        with _open_text(path) as fh:
            line = fh.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise SourceError(source, location, f"cannot read TSV header: {exc}") from exc
    cells = line.split("\t")
    first = cells[0]
    if "\\" not in first or len(cells) < 2:
        raise SourceError(
            source,
            location,
            "not an Eurostat TSV: the first header cell must look like "
            f"'dim1,dim2,geo\\time' or 'freq,...,geo\\TIME_PERIOD'; got {line[:120]!r}",
        )
    dims_part, time_name = first.split("\\", 1)
    dims = tuple(d.strip().lower() for d in dims_part.split(","))
    if not all(dims) or len(set(dims)) != len(dims):
        raise SourceError(source, location, f"bad dimension list in TSV header: {first!r}")
    return TsvHeader(dims, time_name.strip(), first, tuple(c.strip() for c in cells[1:]))


def decompress_tsv(path: Path, dest_dir: Path) -> Path:
    """Stream a (possibly gzip'd) TSV to a plain file for lazy scanning (never whole in memory)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    # archive paths are <source>/<sha256[:16]>/<file>: keep the content prefix so split pieces
    # of one dataset never overwrite each other
    out = dest_dir / f"{path.parent.name}-{path.name.removesuffix('.gz')}.plain.tsv"
    with _open_text(path) as src, open(out, "w", encoding="utf-8", newline="") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return out


def scan_tsv(path: Path, source: str, location: str, staging: Path | None = None) -> pl.LazyFrame:
    """Lazily parse an Eurostat TSV (bulk or SDMX 2.1 variant) into the long frame.

    Columns: every dimension (lower case, e.g. freq, nace_r2, indic_sb, geo), time (String),
    value (Float64, null when withheld), flags (String, null when none), cell (the raw cell).
    """
    header = read_tsv_header(path, source, location)
    plain = path
    with open(path, "rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            plain = decompress_tsv(path, staging or path.parent)
    check_tsv_fields(plain, 1 + len(header.periods), source, location)
    names = ["_key", *header.periods]
    lf = pl.scan_csv(
        plain,
        separator="\t",
        has_header=False,
        skip_rows=1,
        new_columns=names,
        infer_schema=False,
        quote_char=None,
        encoding="utf8-lossy",
    )
    keys = pl.col("_key").str.split(",")
    dim_cols = [keys.list.get(i, null_on_oob=True).str.strip_chars().alias(d) for i, d in enumerate(header.dimensions)]
    long = (
        lf.with_row_index("line", offset=2)
        .filter(~pl.all_horizontal(pl.col(names).is_null()))  # blank lines are not rows
        .with_columns(*dim_cols, keys.list.len().alias("_nkeys"))
        .unpivot(index=["line", "_key", "_nkeys", *header.dimensions], on=list(header.periods), variable_name="time", value_name="cell")
    )
    value, flags, ok = parse_cells(pl.col("cell"))
    return long.with_columns(value.alias("value"), flags.alias("flags"), ok.alias("_ok"))


def check_tsv_fields(path: Path, n_fields: int, source: str, location: str, limit: int = 10) -> None:
    """Every line has one key and one cell per period. Polars reads missing trailing cells as
    nulls, which would pass for withheld values (':'); a line with too many cells shifts them.
    Either rejects the file, naming the lines (one vectorised pass over the raw lines)."""
    lines = pl.scan_csv(
        path, has_header=False, separator="\x1f", quote_char=None, schema={"text": pl.String},
        encoding="utf8-lossy",
    ).with_row_index("line", offset=1)  # fmt: skip
    bad = (
        lines.filter(pl.col("text").str.strip_chars().fill_null("") != "")
        .with_columns((pl.col("text").str.count_matches("\t", literal=True) + 1).alias("fields"))
        .filter(pl.col("fields") != n_fields)
    )
    count = int(bad.select(pl.len()).collect().item())
    if count:
        shown = "\n".join(
            f"line {r['line']}: {r['fields']} of {n_fields} fields | {r['text'][:160]!r}"
            for r in bad.head(limit).collect().iter_rows(named=True)
        )
        raise SourceError(
            source, location,
            f"{Path(path).name}: {count} malformed TSV row(s) with missing or extra cells (expected {n_fields})",
            rows=shown,
        )  # fmt: skip


def check_long(lf: pl.LazyFrame, dims: Sequence[str], source: str, location: str, limit: int = 10) -> None:
    """Fail on cells or keys the parser must not guess about, naming the offending rows."""
    bad = (
        lf.filter(~pl.col("_ok") | (pl.col("_nkeys").fill_null(0) != len(dims)))
        .select("line", "_key", "time", "cell")
        .head(limit)
        .collect()
    )
    if bad.height:
        with pl.Config(tbl_rows=limit, fmt_str_lengths=60):
            raise SourceError(source, location, f"{bad.height} malformed TSV cell(s)/key(s) (first shown)", rows=str(bad))


def parse_tsv(path: Path, source: str, location: str, staging: Path | None = None) -> pl.LazyFrame:
    """Checked long frame of an Eurostat TSV: dimensions, time, value, flags."""
    header = read_tsv_header(path, source, location)
    lf = scan_tsv(path, source, location, staging)
    check_long(lf, header.dimensions, source, location)
    return lf.select(*header.dimensions, "time", "value", "flags")


# --------------------------------------------------------------------------------------------
# JSON-stat 2.0


def _category_codes(dim: dict, size: int, name: str, source: str, location: str) -> list[str]:
    cat = dim.get("category", {})
    index = cat.get("index")
    if index is None:
        labels = cat.get("label", {})
        if len(labels) == 1 and size == 1:
            return list(labels)
        raise SourceError(source, location, f"JSON-stat dimension {name!r} has no category index")
    if isinstance(index, list):
        codes = [str(c) for c in index]
    else:
        codes = [""] * len(index)
        for code, pos in index.items():
            if not 0 <= int(pos) < len(index):
                raise SourceError(source, location, f"JSON-stat dimension {name!r}: index {pos} out of range")
            codes[int(pos)] = str(code)
    if len(codes) != size:
        raise SourceError(source, location, f"JSON-stat dimension {name!r}: {len(codes)} categories but size {size}")
    return codes


def _sparse(obj, n: int) -> tuple[list[int], list]:
    if obj is None:
        return [], []
    if isinstance(obj, list):
        pairs = [(i, v) for i, v in enumerate(obj) if v is not None]
        return [i for i, _ in pairs], [v for _, v in pairs]
    return [int(k) for k in obj], list(obj.values())


def parse_jsonstat(path: Path, source: str, location: str) -> pl.DataFrame:
    """JSON-stat 2.0 dataset → the same long frame as :func:`parse_tsv` (dims, time, value, flags).

    The flat index is decoded with integer arithmetic over ``size`` (row-major, last dimension
    fastest), vectorised in Polars. Cells with a status but no value are kept (value null).
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(source, location, f"not valid JSON: {exc}") from exc
    if "error" in doc:
        raise SourceError(source, location, f"Eurostat error: {doc['error']}")
    try:
        ids = [str(i) for i in doc["id"]]
        sizes = [int(s) for s in doc["size"]]
        dims = doc["dimension"]
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceError(source, location, f"not a JSON-stat 2.0 dataset (missing {exc})") from exc
    if len(ids) != len(sizes):
        raise SourceError(source, location, f"JSON-stat id {ids} and size {sizes} differ in length")
    n = 1
    for s in sizes:
        n *= s
    vi, vv = _sparse(doc.get("value"), n)
    si, sv = _sparse(doc.get("status"), n)
    values = pl.DataFrame({"idx": pl.Series(vi, dtype=pl.Int64), "value": pl.Series(vv, dtype=pl.Float64)})
    status = pl.DataFrame({"idx": pl.Series(si, dtype=pl.Int64), "flags": pl.Series([str(s) for s in sv], dtype=pl.String)})
    cells = values.join(status, on="idx", how="full", coalesce=True)
    bad = cells.filter((pl.col("idx") < 0) | (pl.col("idx") >= n))
    if bad.height:
        raise SourceError(source, location, f"JSON-stat index outside 0..{n - 1}", rows=str(bad.head(10)))
    stride = 1
    exprs: list[pl.Expr] = []
    for name, size in reversed(list(zip(ids, sizes, strict=True))):
        codes = _category_codes(dims[name], size, name, source, location)
        col = "time" if name.lower() in {"time", "time_period"} else name.lower()
        pos = (pl.col("idx") // stride) % size
        exprs.append(pos.replace_strict(list(range(size)), codes, return_dtype=pl.String).alias(col))
        stride *= size
    out = cells.with_columns(exprs)
    dim_cols = [("time" if i.lower() in {"time", "time_period"} else i.lower()) for i in ids]
    flags = pl.col("flags").str.strip_chars()
    return (
        out.with_columns(pl.when(flags == "").then(None).otherwise(flags).alias("flags"))
        .sort("idx")
        .select(*[c for c in dim_cols if c != "time"], "time", "value", "flags")
    )


# --------------------------------------------------------------------------------------------
# client


class EurostatQueuedError(SourceError):
    """The API answered with an asynchronous key instead of data."""

    def __init__(self, source: str, location: str, key: str):
        super().__init__(source, location, f"extraction queued asynchronously (key {key})")
        self.key = key


class _NotReadyError(SourceError):
    def __init__(self, source: str, location: str, status: str):
        super().__init__(source, location, f"asynchronous extraction not ready: {status}")
        self.status = status


_KEY_RE = re.compile(r"<(?:[A-Za-z0-9_]+:)?key>\s*([^<\s]+)\s*</|\"key\"\s*:\s*\"([^\"]+)\"")
_STATUS_RE = re.compile(r"\b(SUBMITTED|PROCESSING|AVAILABLE|EXPIRED|UNKNOWN_REQUEST)\b")


def _head(path: Path, n: int = 4096) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _http_status(err: SourceError) -> int | None:
    m = re.match(r"HTTP (\d{3})", err.problem)
    return int(m.group(1)) if m else None


@dataclass
class EurostatClient:
    """Download Eurostat datasets via :func:`pipelines.raw.http.fetch` with async polling and 416 splits."""

    settings: Settings
    base: str = API_BASE
    max_polls: int = 12
    backoff: float = 2.0
    max_backoff: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    polls: list[str] = field(default_factory=list)  # URLs polled (for logs/tests)

    # -- validation of a complete download before it is archived
    def _validator(self, source: str, location: str, fmt: str) -> Callable[[Path], None]:
        def validate(path: Path) -> None:
            head = _head(path)
            if head.startswith(b"\x1f\x8b"):
                return  # gzip'd TSV, header checked by the parser
            text = head.decode("utf-8", "replace")
            m = _KEY_RE.search(text)
            if m and ("ASYNCHRONOUS" in text.upper() or "SUBMITTED" in text or "413" in text or "<" in text[:5]):
                raise EurostatQueuedError(source, location, m.group(1) or m.group(2))
            if fmt == "tsv":
                first = text.split("\n", 1)[0]
                if "\\" not in first.split("\t", 1)[0]:
                    raise SourceError(source, location, f"not an Eurostat TSV (starts with {text[:80]!r})")
            else:
                stripped = text.lstrip()
                if not stripped.startswith("{"):
                    raise SourceError(source, location, f"not JSON (starts with {text[:80]!r})")
                if '"error"' in text[:400]:
                    raise SourceError(source, location, f"Eurostat error answer: {text[:300]!r}")

        return validate

    def _delay(self, attempt: int) -> float:
        return min(self.backoff * (2**attempt), self.max_backoff)

    def _fetch_once(self, source: str, url: str, fmt: str, mirror_id: str | None, filename: str) -> RawFile:
        """One request; polls when queued (413 or async key). Raises SourceError(HTTP 416) as is."""
        for attempt in range(self.max_polls + 1):
            try:
                return fetch(
                    source, url, self.settings, mirror_id=mirror_id, filename=filename,
                    validate=self._validator(source, url, fmt),
                )
            except EurostatQueuedError as queued:
                return self._poll_async(source, queued.key, fmt, filename)
            except SourceError as err:
                if _http_status(err) != 413:
                    raise
                if attempt == self.max_polls:
                    break
                self.polls.append(url)
                self.sleep(self._delay(attempt))
        waited = sum(self._delay(a) for a in range(self.max_polls))
        raise SourceError(
            source,
            url,
            f"extraction still queued (HTTP 413) after {self.max_polls} polls (~{waited:.0f} s of backoff); "
            "retry later or narrow the request with filters",
        )

    def _poll_async(self, source: str, key: str, fmt: str, filename: str) -> RawFile:
        status_url = self.base + ASYNC_STATUS_PATH.format(key=key)
        last = "SUBMITTED"

        def check(path: Path) -> None:
            text = _head(path).decode("utf-8", "replace")
            m = _STATUS_RE.search(text)
            status = m.group(1) if m else "UNKNOWN"
            if status in {"EXPIRED", "UNKNOWN_REQUEST"}:
                raise SourceError(source, status_url, f"asynchronous extraction {key} is {status}")
            if status != "AVAILABLE":
                raise _NotReadyError(source, status_url, status)

        for attempt in range(self.max_polls):
            self.polls.append(status_url)
            try:
                fetch(f"{source}/async-status", status_url, self.settings, filename=f"status-{key}.txt", validate=check)
            except _NotReadyError as nr:
                last = nr.status
                self.sleep(self._delay(attempt))
                continue
            data_url = self.base + ASYNC_DATA_PATH.format(key=key)
            return fetch(source, data_url, self.settings, filename=filename, validate=self._validator(source, data_url, fmt))
        waited = sum(self._delay(a) for a in range(self.max_polls))
        raise SourceError(
            source,
            status_url,
            f"asynchronous extraction {key} still {last} after {self.max_polls} polls "
            f"(~{waited:.0f} s of backoff); retry later or narrow the request",
        )

    def fetch_dataset(
        self,
        dataset: str,
        *,
        fmt: str = "tsv",
        filters: Mapping[str, Sequence[str]] | None = None,
        split_values: Mapping[str, Sequence[str]] | None = None,
        mirror_id: str | None = None,
        _depth: int = 0,
    ) -> list[RawFile]:
        """Fetch one dataset (optionally filtered); returns one or more archived files.

        On HTTP 416 the request is split: a filter with several values is halved; otherwise the
        first dimension in ``split_values`` not yet filtered gives one request per value.
        """
        if fmt not in {"tsv", "json"}:
            raise ValueError(f"fmt must be 'tsv' or 'json', not {fmt!r}")
        src = source_id(dataset)
        filters = {k: list(v) for k, v in (filters or {}).items()}
        url = (tsv_url if fmt == "tsv" else jsonstat_url)(dataset, filters, self.base)
        filename = f"{dataset}.tsv.gz" if fmt == "tsv" else f"{dataset}.json"
        mid = mirror_id if mirror_id is not None else (src if not filters and fmt == "tsv" else None)
        try:
            return [self._fetch_once(src, url, fmt, mid, filename)]
        except EurostatQueuedError:
            raise
        except SourceError as err:
            if _http_status(err) != 416:
                raise
        if _depth > 20:
            raise SourceError(src, url, "HTTP 416 (too many categories) and the request cannot be split further")
        multi = [d for d, v in sorted(filters.items()) if len(v) > 1]
        pieces: list[dict[str, list[str]]] = []
        if multi:
            dim = max(multi, key=lambda d: len(filters[d]))
            vals = filters[dim]
            half = len(vals) // 2
            pieces = [{**filters, dim: vals[:half]}, {**filters, dim: vals[half:]}]
        else:
            free = [d for d in (split_values or {}) if d not in filters]
            if not free:
                raise SourceError(
                    src,
                    url,
                    "HTTP 416 (too many categories) and nothing left to split on; pass "
                    "split_values={'geo': [...]} or narrower filters",
                )
            dim = free[0]
            pieces = [{**filters, dim: [v]} for v in (split_values or {})[dim]]
            if len(pieces) > 1:  # one request per value is wasteful: start with halves
                vals = list((split_values or {})[dim])
                half = len(vals) // 2
                pieces = [{**filters, dim: vals[:half]}, {**filters, dim: vals[half:]}]
        log.info("%s: HTTP 416, splitting on %s into %d requests", src, dim, len(pieces))
        out: list[RawFile] = []
        for piece in pieces:
            out.extend(
                self.fetch_dataset(
                    dataset, fmt=fmt, filters=piece, split_values=split_values, mirror_id="", _depth=_depth + 1
                )
            )
        return out


def read_raw(raw: RawFile | Path, source: str, staging: Path) -> pl.LazyFrame:
    """Long frame of one archived Eurostat file (TSV, gzip'd or not, or JSON-stat)."""
    path = raw.path if isinstance(raw, RawFile) else Path(raw)
    location = (raw.url or str(path)) if isinstance(raw, RawFile) else str(path)
    head = _head(path, 64)
    if head.lstrip().startswith(b"{"):
        return parse_jsonstat(path, source, location).lazy()
    return parse_tsv(path, source, location, staging)


def concat_long(frames: Sequence[pl.LazyFrame]) -> pl.LazyFrame:
    """Concatenate split downloads; a series delivered twice is kept once."""
    if len(frames) == 1:
        return frames[0]
    return pl.concat(frames, how="diagonal_relaxed").unique(maintain_order=True)


# --------------------------------------------------------------------------------------------
# harmonisation: regional SBS → the long industry table (next to the US rows)

DATASETS = {
    # dataset: (NUTS version of its codes; None = read per code from the SBS code list)
    "sbs_r_nuts06_r2": None,
    "sbs_r_nuts2021": "2021",
}
# indicator code -> measure, for both regional SBS datasets
MEASURES: dict[str, str] = {
    "V16110": "emp",  # persons employed (number)
    "EMP_LOC_NR": "emp",
    "V11210": "est",  # local units (number)
    "LOC_NR": "est",
    "V13320": "payroll",  # wages and salaries, EUR million
    "WAGE_LOC_MEUR": "payroll",
}
PAYROLL_EUR_MILLION_TO_THOUSAND = 1000.0

EU_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "est_flag": pl.String(),
    "payroll_flag": pl.String(),
    "est_imputed": pl.Boolean(),
    "payroll_imputed": pl.Boolean(),
    "currency": pl.String(),
    "nuts_version": pl.String(),
    "nuts_code_original": pl.String(),
    "nuts_change": pl.String(),
}


def nace_level(code: pl.Expr) -> pl.Expr:
    """1 section (C), 2 division (C10), 3 group (C101 / G452), 4 class; 0 aggregates (B-E, B-N_S95_X_K)."""
    n = code.str.len_chars()
    return (
        pl.when(~code.str.contains(r"^[A-U][0-9]{0,4}$"))
        .then(0)
        .when(n == 1)
        .then(1)
        .otherwise(n - 1)
        .cast(pl.Int8)
    )


def harmonise_sbs(
    long: pl.LazyFrame, *, dataset: str, source: str, sha256: str, location: str
) -> pl.LazyFrame:
    """Long Eurostat frame → harmonised rows (one per NACE code × region × year).

    emp = persons employed, est = local units, payroll = wages and salaries in EUR thousand
    (EUR million × 1000, to match the US $1000 payroll unit; ``currency`` says 'EUR').
    Flags stay in empflag / est_flag / payroll_flag; ':' stays null.
    """
    from pipelines.staging.harmonise import HARMONISED_SCHEMA
    from pipelines.staging.nuts import region_type

    names = long.collect_schema().names()
    indic = next((c for c in ("indic_sbs", "indic_sb") if c in names), None)
    missing = [c for c in ("nace_r2", "geo") if c not in names]
    if indic is None or missing:
        raise SourceError(
            source, location, f"dataset {dataset}: expected dimensions nace_r2, indic_sb(s), geo; got {names}"
        )
    lf = long
    if "freq" in names:
        lf = lf.filter(pl.col("freq") == "A")
    lf = lf.with_columns(pl.col(indic).replace_strict(MEASURES, default=None).alias("_measure")).filter(
        pl.col("_measure").is_not_null()
    )
    key = ["nace_r2", "geo", "time"]

    def m(measure: str, col: str) -> pl.Expr:
        return pl.col(col).filter(pl.col("_measure") == measure).first()

    wide = lf.group_by(key).agg(
        m("emp", "value").alias("_emp"),
        m("emp", "flags").alias("empflag"),
        m("est", "value").alias("_est"),
        m("est", "flags").alias("est_flag"),
        m("payroll", "value").alias("_pay"),
        m("payroll", "flags").alias("payroll_flag"),
        pl.len().alias("_n"),
        pl.col("_measure").n_unique().alias("_nm"),
    )
    dup = wide.filter(pl.col("_n") != pl.col("_nm")).head(5).collect()
    if dup.height:
        raise SourceError(
            source, location, "several series for one NACE × geo × year × measure (an unexpected extra dimension?)",
            rows=str(dup),
        )
    time_ok = pl.col("time").str.contains(r"^[0-9]{4}$")
    bad_time = wide.filter(~time_ok).select("time").unique().head(5).collect()
    if bad_time.height:
        raise SourceError(source, location, "non-annual periods in a dataset expected to be annual", rows=str(bad_time))
    geo = pl.col("geo")
    emp_rep = pl.col("_emp").round(0).cast(pl.Int64)
    out = wide.select(
        pl.col("time").cast(pl.Int32).alias("year"),
        region_type(geo).alias("region_type"),
        geo.alias("region_code"),
        pl.lit("NACE_R2").alias("classification"),
        pl.col("nace_r2").alias("industry_code"),
        nace_level(pl.col("nace_r2")).alias("industry_level"),
        pl.lit("-").alias("lfo"),
        pl.col("_emp").alias("emp"),
        emp_rep.alias("emp_reported"),
        pl.col("empflag"),
        pl.lit(None, dtype=pl.String).alias("emp_nf"),
        pl.lit(False).alias("emp_imputed"),
        pl.col("_est").round(0).cast(pl.Int64).alias("est"),
        (pl.col("_pay") * PAYROLL_EUR_MILLION_TO_THOUSAND).round(0).cast(pl.Int64).alias("payroll"),
        pl.lit(None, dtype=pl.String).alias("payroll_nf"),
        pl.lit(None, dtype=pl.Int64).alias("qp1"),
        pl.lit(None, dtype=pl.String).alias("qp1_nf"),
        pl.lit(source).alias("source_id"),
        pl.lit(sha256).alias("source_sha256"),
        pl.col("est_flag"),
        pl.col("payroll_flag"),
        pl.lit(False).alias("est_imputed"),
        pl.lit(False).alias("payroll_imputed"),
        pl.lit("EUR").alias("currency"),
    )
    schema = {**HARMONISED_SCHEMA, **{k: v for k, v in EU_EXTRA_SCHEMA.items() if not k.startswith("nuts")}}
    return out.cast(schema)  # type: ignore[arg-type]
