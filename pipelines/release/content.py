"""What identifies a release's content: the input fingerprint (sources, parameters, code, table
digest), the code version recorded in datapackage.json, and the writer-independent table hash."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from pipelines import __version__
from pipelines.config import PROJECT_ROOT
from pipelines.fingerprints import code_fingerprint
from pipelines.raw.archive import sha256_file
from pipelines.release.parquet import TableInput
from pipelines.warehouse.sql import quoted

CONTENT_HASH_METHOD = (
    "contentHash = sha256 over the table read back from its Parquet file, rows sorted by the primary key "
    "(by every column when there is none), of: row count, column names and logical types, null masks, integers as "
    "little-endian int64, floats rounded to 12 significant digits as float64, strings as UTF-8 with byte "
    "lengths. It depends on the data only, not on the Parquet writer, its version or compression."
)


def code_version() -> dict[str, Any]:
    info: dict[str, Any] = {"package_version": __version__, "code_sha256": code_fingerprint()}
    lock = PROJECT_ROOT / "uv.lock"
    if lock.exists():
        info["lock_sha256"] = sha256_file(lock)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def input_fingerprint(sources: Iterable[Mapping[str, Any]], params: Mapping[str, Any], content: str = "") -> str:
    """Identity of a release: its inputs (sha256 of every source), parameters, code and — so that
    it describes what the release holds, not what the run claims — the digest of its tables."""
    h = hashlib.sha256()
    for s in sorted(sources, key=lambda s: (s["source_id"], s["sha256"])):
        h.update(f"{s['source_id']}={s['sha256']}\n".encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(code_fingerprint().encode())
    if content:
        h.update(f"content={content}".encode())
    return h.hexdigest()


def content_digest(tables: Mapping[str, TableInput]) -> str:
    """Digest of what the tables hold, computed before anything is written: columns, types, row
    count and an order-independent sum of row hashes over every non-float column (years, regions,
    codes, counts, flags), so two runs that built different tables never share a fingerprint,
    whatever their settings say. Float columns are left out: parallel float sums differ in the
    last bits between identical rebuilds, and the inputs, parameters and code that determine them
    are in the fingerprint already."""
    h = hashlib.sha256()
    for name in sorted(tables):
        src = tables[name]
        if isinstance(src, duckdb.DuckDBPyRelation):
            typed = list(zip(src.columns, (str(t) for t in src.types), strict=True))
            exact = [c for c, t in typed if t not in {"DOUBLE", "FLOAT", "REAL"}]
            row = ", ".join(quoted(c) for c in exact)
            sql = f"SELECT count(*), sum(hash({row})) FROM t" if exact else "SELECT count(*), 0 FROM t"
            n, total = src.query("t", sql).fetchall()[0]
        else:
            df = src.collect() if isinstance(src, pl.LazyFrame) else src
            typed = [(c, str(t)) for c, t in df.schema.items()]
            exact_df = df.select(c for c, t in df.schema.items() if not t.is_float())
            n = df.height
            total = exact_df.hash_rows(seed=0).sum() if df.height and exact_df.width else 0
        h.update(f"{name}|{typed}|{n}|{total}\n".encode())
    return h.hexdigest()


def table_content_hash(path: Path, primary_key: list[str]) -> str:
    """Writer-independent hash of a Parquet table's contents (see CONTENT_HASH_METHOD).

    Reads the key columns to find the row order (_row_order), then one column at a time (memory
    stays at the keys plus one column, also for the county-scale fact table)."""
    schema = pl.read_parquet_schema(path)
    sortable = [c for c, t in schema.items() if not isinstance(t, (pl.List, pl.Struct, pl.Array, pl.Object))]
    keys = [c for c in primary_key if c in schema] or sortable
    if keys:
        order = _row_order(path, keys, schema)
        height = order.len()
    else:
        order, height = None, pl.scan_parquet(path).select(pl.len()).collect().item()
    h = hashlib.sha256(f"rows={height}\n".encode())
    for name, dtype in schema.items():
        s = pl.read_parquet(path, columns=[name])[name]
        if order is not None:
            s = s.gather(order)
        h.update(f"{name}:{_logical(dtype)}\n".encode())
        h.update(_buffer(s.is_null(), "u1"))
        if dtype.is_integer() or dtype == pl.Boolean:
            h.update(_buffer(s.cast(pl.Int64).fill_null(0), "<i8"))
        elif dtype.is_float():
            f = s.cast(pl.Float64)
            h.update(_buffer(f.is_nan().fill_null(False), "u1"))
            f = f.fill_nan(0.0).fill_null(0.0)
            finite = f.is_finite()
            f = pl.select(pl.when(finite).then(f.round_sig_figs(12)).otherwise(f) + 0.0).to_series()
            h.update(_buffer(f, "<f8"))
        elif dtype.is_temporal():
            h.update(_buffer(s.to_physical().cast(pl.Int64).fill_null(0), "<i8"))
        else:
            txt = s.cast(pl.String) if dtype in (pl.String, pl.Categorical, pl.Enum) else s.map_elements(repr, return_dtype=pl.String)
            txt = txt.fill_null("")
            h.update(_buffer(txt.str.len_bytes().cast(pl.Int64), "<i8"))
            for chunk in _utf8_chunks(txt):
                h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def _row_order(path: Path, keys: list[str], schema: pl.Schema) -> pl.Series:
    """Row positions in key order (nulls last, ties in file order). String keys are sorted as
    their codes in an Enum of their sorted values — the same order, but 4-byte keys: on a 21M-row
    county table the string sort alone peaked at 6.2 GB, this at 2.0 GB."""
    cols = []
    for k in keys:
        s = pl.read_parquet(path, columns=[k])[k]
        if schema[k] == pl.String:
            s = s.cast(pl.Enum(s.drop_nulls().unique().sort())).to_physical().alias(k)
        cols.append(s)
    return pl.DataFrame(cols).with_row_index("__row").sort(keys, nulls_last=True, maintain_order=True)["__row"]


def _buffer(s: pl.Series, dtype: str) -> memoryview:
    """A column's values as one contiguous little-endian buffer, copied only when its layout
    differs (hashlib reads the buffer in place: no bytes object of the whole column)."""
    return memoryview(np.ascontiguousarray(s.to_numpy(), dtype=dtype)).cast("B")


def _utf8_chunks(txt: pl.Series) -> Iterator[memoryview]:
    """The UTF-8 bytes of a non-null string column, concatenated in row order, as slices of its
    Arrow data buffers (the same bytes as joining the strings and encoding them)."""
    arr = txt.to_arrow()
    for chunk in (arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]):
        chunk = chunk.cast(pa.large_string())
        if len(chunk) == 0:
            continue
        _validity, offsets, data = chunk.buffers()
        ends = np.frombuffer(offsets, dtype="<i8")[chunk.offset : chunk.offset + len(chunk) + 1]
        yield memoryview(data).cast("B")[int(ends[0]) : int(ends[-1])]


def _logical(dtype: pl.DataType) -> str:
    if dtype.is_integer() or dtype == pl.Boolean:
        return "integer" if dtype.is_integer() else "boolean"
    if dtype.is_float():
        return "number"
    if dtype.is_temporal():
        return str(dtype).lower()
    return "string" if dtype in (pl.String, pl.Categorical, pl.Enum) else str(dtype)
