"""US Census County Business Patterns: file URLs, zip checks and a layout-tolerant parser.

Handles every upstream layout since 1998: the pre-2017 EMPFLAG layout, the 2017+ noise-flag
layout, upper/lower-case headers, optional LFO/QP1/size-class columns, and state, county, MSA
and US files. All columns are read as text, so identifiers keep their leading zeros.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.config import DecompressionLimits
from pipelines.errors import SourceError
from pipelines.sources.bounds import (
    MAX_LINE,
    OUT_CHUNK,
    InflateBudget,
    LineBound,
    human,
    inflate_problem,
    inflate_zip_member,
)  # fmt: skip

BASE_URL = "https://www2.census.gov/programs-surveys/cbp/datasets"
GEOGRAPHIES = ("state", "county", "msa", "us")
_SUFFIX = {"state": "st", "county": "co", "msa": "msa", "us": "us"}
FIRST_YEAR = 1998  # first NAICS-based CBP year

# Employment-size-class letters for suppressed cells, and the midpoints clustermapping.us uses.
EMPFLAG_MIDPOINTS: dict[str, int] = {
    "A": 10, "B": 60, "C": 175, "E": 375, "F": 750, "G": 1750, "H": 3750,
    "I": 7500, "J": 17500, "K": 37500, "L": 75000, "M": 100000,
}  # fmt: skip
MARKERS = {"N", "D", "S", "X"}  # not available / withheld / not meeting standards / n.a.
NUMERIC = ("emp", "qp1", "ap", "est")
REQUIRED = {"naics", "emp", "ap", "est"}
NAICS_WELL_FORMED = r"^(------|[0-9]{2}[0-9\-/]{0,4})$"  # "------" total, "31----", "3364//", "336411"
GEO_COLUMNS = {"state": ["fipstate"], "county": ["fipstate", "fipscty"], "msa": ["msa"], "us": []}
# Columns the pipeline reads; the rest (size-class counts, census codes) are never parsed.
USED_COLUMNS = {
    "fipstate", "fipscty", "msa", "cbsa", "naics", "lfo", "empszes", "empflag", "emp_nf", "emp",
    "qp1_nf", "qp1", "ap_nf", "ap", "est",
}  # fmt: skip


def source_id(year: int, geo: str) -> str:
    return f"census/cbp/{geo}/{year}"


def url(year: int, geo: str) -> str:
    """Upstream URL of a CBP file, e.g. .../2011/cbp11st.zip."""
    if geo not in GEOGRAPHIES:
        raise ValueError(f"unknown CBP geography {geo!r}; expected one of {GEOGRAPHIES}")
    return f"{BASE_URL}/{year}/cbp{year % 100:02d}{_SUFFIX[geo]}.zip"


def validate_zip(path: Path, limits: DecompressionLimits | None = None) -> None:
    """Reject HTML error pages, truncated or corrupt zips, and members whose declared size passes
    the decompression `limits`, before they reach the archive (testzip reads no further than the
    declared size)."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if not head.startswith(b"PK\x03\x04"):
        snippet = head[:80].decode("latin-1", "replace").strip()
        raise ValueError(f"not a zip file (starts with {snippet!r})")
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                what = f"zip member {info.filename} (declared size)"
                problem = inflate_problem(what, info.file_size, info.compress_size, limits or DecompressionLimits())
                if problem:
                    raise ValueError(problem)
            bad = zf.testzip()
            if bad is not None:
                raise ValueError(f"corrupt member {bad} in zip")
            if not [n for n in zf.namelist() if n.lower().endswith((".txt", ".csv"))]:
                raise ValueError(f"zip holds no .txt/.csv member: {zf.namelist()}")
    except zipfile.BadZipFile as exc:
        raise ValueError(f"corrupt or truncated zip: {exc}") from exc


@dataclass(frozen=True)
class CbpLayout:
    geo: str
    columns: tuple[str, ...]
    has_empflag: bool
    has_lfo: bool
    has_qp1: bool
    size_class_column: str | None
    # Whether any cell may carry whitespace to strip; False only when the whole file was scanned
    # (has_padding) and holds none, which saves a copy of every text column.
    padded: bool = True
    # Fields in the header (every row must have exactly as many) and the last header column,
    # whose null marks a row that ends early (see check_fields).
    n_fields: int = 0
    last_column: str = ""
    text: TextStats | None = None  # set by scan_cbp


def detect_layout(header: list[str], source: str, location: str) -> CbpLayout:
    cols = [c.strip().strip('"').lower() for c in header]
    if "fipscty" in cols:
        geo = "county"
    elif "msa" in cols or "cbsa" in cols:
        geo = "msa"
    elif "fipstate" in cols:
        geo = "state"
    else:
        geo = "us"
    missing = sorted(REQUIRED - set(cols))
    if missing:
        raise SourceError(
            source, location, f"unknown CBP column layout: missing {missing}; header is {cols}"
        )
    size_col = next((c for c in ("empszes", "empszes_meaning") if c in cols), None)
    return CbpLayout(
        geo=geo,
        columns=tuple(cols),
        has_empflag="empflag" in cols,
        has_lfo="lfo" in cols,
        has_qp1="qp1" in cols,
        size_class_column=size_col if size_col == "empszes" else None,
        n_fields=len(cols),
        last_column=cols[-1] if cols else "",
    )


def extract_member(
    zip_path: Path, dest_dir: Path, source: str, limits: DecompressionLimits | None = None
) -> Path:
    """Stream the data member of a CBP zip to disk (never whole into memory), CRC-checked, within
    the decompression `limits` (default: pipelines.config's) and MAX_LINE bytes a line.

    Deflate members are inflated with ISA-L (about twice zlib's speed; it releases the GIL, so
    two years inflate side by side); other methods go through zipfile."""
    limits = limits or DecompressionLimits()
    try:
        with zipfile.ZipFile(zip_path) as zf:
            info = _data_member(zf, zip_path, source)
            # the declared size first (it can lie: the loops below check what really comes out)
            InflateBudget(limits, source, str(zip_path), f"zip member {info.filename} (declared size)").check(
                info.file_size, info.compress_size
            )
            dest_dir.mkdir(parents=True, exist_ok=True)
            out = dest_dir / Path(info.filename).name
            budget = InflateBudget(limits, source, str(zip_path), f"zip member {info.filename}")
            lines = LineBound(source, str(zip_path), f"zip member {info.filename}")
            if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x1:
                inflate_zip_member(zip_path, info, out, budget, lines)
            else:
                with zf.open(info) as src, open(out, "wb") as dst:  # zipfile stops at the declared size
                    size = 0
                    while block := src.read(OUT_CHUNK):
                        size += len(block)
                        budget.check(size, info.compress_size)
                        lines.feed(block)
                        dst.write(block)
            return out
    except zipfile.BadZipFile as exc:
        raise SourceError(source, str(zip_path), f"corrupt or truncated zip: {exc}") from exc


def _data_member(zf: zipfile.ZipFile, zip_path: Path, source: str) -> zipfile.ZipInfo:
    members = [i for i in zf.infolist() if i.filename.lower().endswith((".txt", ".csv"))]
    if len(members) != 1:
        names = [i.filename for i in members]
        raise SourceError(source, str(zip_path), f"expected one data file in zip, found {names}")
    return members[0]


def _read_header(path: Path, source: str, location: str) -> list[str]:
    """The first line, read at most MAX_LINE bytes far (a member without newlines is refused)."""
    with open(path, encoding="latin-1", newline="") as fh:
        line = fh.readline(MAX_LINE + 2)
    if len(line.rstrip("\r\n")) > MAX_LINE:
        raise SourceError(source, location, f"{path.name}: header line longer than {human(MAX_LINE)}: not a CBP text file")
    return next(iter(pl.read_csv(io.StringIO(line), has_header=False, infer_schema=False).rows()), [])


_WHITESPACE = (b" ", b"\t", b"\x0b", b"\x0c", b"\xa0")


@dataclass(frozen=True)
class TextStats:
    """What one byte scan of a CBP text file tells: whitespace, separators and (optionally) lines."""

    padded: bool
    separators: int  # commas, quoted ones included
    lines: int | None = None  # lines incl. the header (a last line without newline counts)
    ascii: bool = False  # no byte ≥ 0x80: UTF-8 and lossy UTF-8 decoding read it alike


def text_stats(path: Path, *, count_lines: bool = False, chunk: int = 1 << 24) -> TextStats:
    """One pass over the raw bytes: whether any cell may carry whitespace (memchr), and the number
    of commas (numpy, ~0.08 s per county year), so check_fields can prove every row has exactly
    the header's field count without parsing the file a second time; and whether it is all ASCII."""
    padded, commas, newlines, last, ascii = False, 0, 0, b"", True
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            if not padded and any(w in block for w in _WHITESPACE):
                padded = True
            arr = np.frombuffer(block, np.uint8)
            commas += int(np.count_nonzero(arr == 44))
            if count_lines:
                newlines += int(np.count_nonzero(arr == 10))
            ascii = ascii and block.isascii()
            last = block[-1:]
    lines = newlines + (1 if last not in (b"", b"\n") else 0) if count_lines else None
    return TextStats(padded, commas, lines, ascii)


def has_padding(path: Path, chunk: int = 1 << 24) -> bool:
    """Whether the file holds any space-like byte (a memchr scan, ~50 ms per county year): real
    CBP files (all 12 in the mirror) hold none, so their cells need no stripping. CRLF line ends
    are the reader's."""
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            if any(w in block for w in _WHITESPACE):
                return True
    return False


def _clean_num(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars()


def scan_cbp(path: Path, source: str, location: str) -> tuple[pl.LazyFrame, CbpLayout]:
    """Lazily read a CBP text file with lower-case column names, all as text.

    Besides the used columns it yields `_short` (the last header column is null: the row may end
    early), for check_fields. An empty file is an error naming the source and the file."""
    if path.stat().st_size == 0:
        raise SourceError(source, location, f"{path.name}: empty data file (0 bytes), no header and no rows")
    header = _read_header(path, source, location)
    layout = detect_layout(header, source, location)
    stats = text_stats(path, count_lines=layout.size_class_column is not None)
    layout = replace(layout, padded=stats.padded, text=stats)
    lf = pl.scan_csv(
        path,
        infer_schema=False,
        # lossy decoding keeps a stray non-UTF-8 byte from failing the file; a file that is all
        # ASCII (every CBP file seen) reads the same with the faster strict decoder
        encoding="utf8" if stats.ascii else "utf8-lossy",
        new_columns=list(layout.columns),
        # Rows are filtered below: keep each row's own line number for errors and quarantine.
        row_index_name="_line" if layout.size_class_column else None,
        row_index_offset=2,
    )
    if layout.size_class_column:
        lf = lf.filter(pl.col(layout.size_class_column).str.strip_chars() == "001")
    kept = tuple(c for c in layout.columns if c in USED_COLUMNS)
    short = pl.col(layout.last_column).is_null().alias("_short")
    line = ["_line"] if layout.size_class_column else []
    return lf.select(*kept, short, *line), replace(layout, columns=kept)


def malformed_rows(lf: pl.LazyFrame, layout: CbpLayout, limit: int = 10) -> pl.DataFrame:
    """Rows a parser must not guess about: bad ids, bad flags, non-numeric or negative counts."""
    problems: list[pl.Expr] = []
    naics = pl.col("naics").str.strip_chars()
    problems.append(
        pl.when(~naics.str.contains(NAICS_WELL_FORMED) | naics.is_null())
        .then(pl.lit("bad NAICS code"))
    )
    for geo_col, width in {"fipstate": 2, "fipscty": 3, "msa": 5}.items():
        if geo_col in layout.columns:
            v = pl.col(geo_col).str.strip_chars()
            problems.append(
                pl.when(~v.str.contains(rf"^[0-9]{{1,{width}}}$") | v.is_null())
                .then(pl.lit(f"bad {geo_col}"))
            )
    if layout.has_empflag:
        f = pl.col("empflag").str.strip_chars()
        problems.append(
            pl.when(f.is_not_null() & (f != "") & ~f.is_in(list(EMPFLAG_MIDPOINTS) + list(MARKERS)))
            .then(pl.lit("unknown EMPFLAG"))
        )
    for col in NUMERIC:
        if col not in layout.columns:
            continue
        v = _clean_num(col)
        ok = v.str.contains(r"^[0-9]+$") | v.is_in(list(MARKERS)) | v.is_null() | (v == "")
        problems.append(pl.when(~ok).then(pl.lit(f"non-numeric or negative {col}")))
    reason = pl.concat_str(problems, separator="; ", ignore_nulls=True)
    if "line" not in lf.collect_schema().names():
        lf = lf.with_row_index("line", offset=2)
    return (
        lf.with_columns(reason.alias("problem"))
        .filter(pl.col("problem").is_not_null() & (pl.col("problem") != ""))
        .head(limit)
        .collect()
    )


def check_rows(lf: pl.LazyFrame, layout: CbpLayout, source: str, location: str, member: str = "") -> None:
    """Raise a SourceError naming (up to 10) malformed rows with their line and cells."""
    bad = malformed_rows(lf, layout)
    if bad.height:
        shown = "\n".join(
            f"line {r['line']}: {r['problem']} | "
            + ", ".join(f"{c}={r[c]!r}" for c in layout.columns[:12] if c in r)
            for r in bad.iter_rows(named=True)
        )
        raise SourceError(
            source, location, f"{member + ': ' if member else ''}malformed CBP rows (first {bad.height} shown)", rows=shown
        )



def ragged_lines(path: Path, n_fields: int, limit: int = 10) -> tuple[int, pl.DataFrame]:
    """Lines whose field count is not `n_fields` (quote-aware), with line number and text.

    The slow, exact check: it reads the raw lines once more, so it only runs when the cheap
    counts of check_fields do not add up (or the parser already failed)."""
    lines = pl.scan_csv(
        path, has_header=False, separator="\x1f", quote_char=None, schema={"text": pl.String},
        encoding="utf8-lossy",
    ).with_row_index("line", offset=1)
    fields = pl.col("text").str.replace_all(r'"[^"]*"', "").str.count_matches(",", literal=True) + 1
    bad = (
        lines.filter(pl.col("text").str.strip_chars().fill_null("") != "")
        .with_columns(fields.alias("fields"))
        .filter(pl.col("fields") != n_fields)
    )
    count = int(bad.select(pl.len()).collect().item())
    return count, bad.head(limit).collect()


def raise_ragged(path: Path, layout: CbpLayout, source: str, location: str) -> None:
    """Raise a SourceError naming the file and the rows that have too few or too many fields."""
    count, bad = ragged_lines(path, layout.n_fields)
    if not count:
        return
    shown = "\n".join(
        f"line {r['line']}: {r['fields']} of {layout.n_fields} fields | {r['text'][:160]}"
        for r in bad.iter_rows(named=True)
    )
    raise SourceError(
        source, location,
        f"{path.name}: {count} malformed CBP row(s) with too few or too many fields "
        f"(expected {layout.n_fields}; first {bad.height} shown)",
        rows=shown,
    )  # fmt: skip


def check_fields(text: pl.DataFrame, path: Path, layout: CbpLayout, source: str, location: str) -> None:
    """Every row has exactly the header's field count, or the file is rejected naming the lines.

    Polars fills a short row with nulls (which would read as withheld cells) and ignores extra
    fields of columns it does not parse. Proof without a second parse: no row lacks the last
    column, and the file holds exactly (fields - 1) commas per line; so no row has fewer fields,
    and none has more. Only when that fails (a quoted comma, an empty last cell, or a bad row) are
    the lines counted one by one."""
    if text.height == 0:
        what = "no all-sizes (EMPSZES 001) rows" if layout.size_class_column else "only the header"
        raise SourceError(source, location, f"{path.name}: no data rows ({what})")
    stats = layout.text
    if stats is None:
        raise ValueError("check_fields needs the layout scan_cbp returned")
    rows = stats.lines - 1 if stats.lines is not None else text.height
    if not text["_short"].any() and stats.separators == (layout.n_fields - 1) * (rows + 1):
        return
    raise_ragged(path, layout, source, location)
