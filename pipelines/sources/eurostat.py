"""Eurostat dissemination API: URLs, and the SDMX 2.1 TSV and JSON-stat 2.0 parsers.

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

The download client is pipelines.raw.eurostat_client; the harmonisation onto the industry table
is pipelines.staging.eurostat.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import polars as pl

from pipelines.config import DecompressionLimits
from pipelines.errors import SourceError
from pipelines.sources.bounds import MAX_LINE, copy_gzip, human

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
            line = fh.readline(MAX_LINE + 2)  # bounded: a file without newlines is refused, not loaded
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise SourceError(source, location, f"cannot read TSV header: {exc}") from exc
    if len(line.rstrip("\r\n")) > MAX_LINE:
        raise SourceError(source, location, f"{path.name}: header line longer than {human(MAX_LINE)}: not an Eurostat TSV")
    line = line.rstrip("\r\n")
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
    periods = tuple(c.strip() for c in cells[1:])
    repeated = sorted({p for p in periods if periods.count(p) > 1})
    if repeated:
        raise SourceError(
            source, location, f"{path.name}: the TSV header names period(s) {repeated} more than once; "
            "each period must be one column"
        )  # fmt: skip
    return TsvHeader(dims, time_name.strip(), first, periods)


def decompress_tsv(
    path: Path, dest_dir: Path, *, source: str = "eurostat", location: str | None = None,
    limits: DecompressionLimits | None = None,
) -> Path:
    """Stream a (possibly gzip'd) TSV to a plain file for lazy scanning: never whole in memory,
    within the decompression `limits` and MAX_LINE bytes a line (a bomb is one error naming
    source, file and limit)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    # archive paths are <source>/<sha256[:16]>/<file>: keep the content prefix so split pieces
    # of one dataset never overwrite each other
    out = dest_dir / f"{path.parent.name}-{path.name.removesuffix('.gz')}.plain.tsv"
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    with open(out, "wb") as dst:
        if gzipped:
            copy_gzip(path, dst, limits or DecompressionLimits(), source, location or str(path))
        else:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
    return out


def scan_tsv(
    path: Path, source: str, location: str, staging: Path | None = None, limits: DecompressionLimits | None = None
) -> pl.LazyFrame:
    """Lazily parse an Eurostat TSV (bulk or SDMX 2.1 variant) into the long frame.

    Columns: every dimension (lower case, e.g. freq, nace_r2, indic_sb, geo), time (String),
    value (Float64, null when withheld), flags (String, null when none), cell (the raw cell).
    """
    header = read_tsv_header(path, source, location)
    plain = path
    with open(path, "rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            plain = decompress_tsv(path, staging or path.parent, source=source, location=location, limits=limits)
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


def parse_tsv(
    path: Path, source: str, location: str, staging: Path | None = None, limits: DecompressionLimits | None = None
) -> pl.LazyFrame:
    """Checked long frame of an Eurostat TSV: dimensions, time, value, flags."""
    header = read_tsv_header(path, source, location)
    lf = scan_tsv(path, source, location, staging, limits)
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


def file_head(path: Path, n: int = 4096) -> bytes:
    """The first `n` bytes of a file (format sniffing: gzip magic, JSON, an async-key answer)."""
    with open(path, "rb") as fh:
        return fh.read(n)


DATASETS = {
    # dataset: (NUTS version of its codes; None = read per code from the SBS code list)
    "sbs_r_nuts06_r2": None,
    "sbs_r_nuts2021": "2021",
}
