"""Release table files: zstd Parquet sorted by the dashboard filter keys in small row groups,
and the optional CSV copies (which tables get one)."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.config import release_csv_spec

TableInput = pl.DataFrame | pl.LazyFrame | duckdb.DuckDBPyRelation


ROW_GROUP_ROWS = 64_000  # upper bound on rows per row group


MIN_ROW_GROUP_ROWS = 1_024
# rows per Arrow batch read from DuckDB: the row groups are cut from the buffered rows, so the file
# is the same whatever this is; 8,192 made a county-scale table thousands of Python-level batches
READ_BATCH_ROWS = 131_072


CSV_AUTO_MAX_BYTES = 25_000_000  # `auto`: a CSV copy for tables whose CSV would be up to this size
CSV_SAMPLE_ROWS = 5_000  # rows written as CSV to estimate a table's CSV size


TARGET_ROW_GROUPS = 64  # so that one region (of ~50+) touches a few row groups of a large table


def row_group_rows(rows: int) -> int:
    """Rows per row group: ~TARGET_ROW_GROUPS groups, clamped, so filters on the sort keys
    (region first) skip most of a file via row-group statistics."""
    return max(MIN_ROW_GROUP_ROWS, min(ROW_GROUP_ROWS, math.ceil(max(rows, 1) / TARGET_ROW_GROUPS)))


def sort_order(sort_by: list[str], primary_key: list[str]) -> list[str]:
    """Sort keys, then the rest of the primary key as tie-breakers (a total, reproducible order)."""
    return [*sort_by, *(c for c in primary_key if c not in sort_by)]


def _reader(src: TableInput, order: list[str]) -> tuple[pa.RecordBatchReader, int]:
    if isinstance(src, duckdb.DuckDBPyRelation):
        rows = int(src.aggregate("count(*)").fetchall()[0][0])
        rel = src.order(", ".join(f'"{c}" ASC NULLS LAST' for c in order)) if order else src
        return rel.to_arrow_reader(READ_BATCH_ROWS), rows
    df = src.collect() if isinstance(src, pl.LazyFrame) else src
    if order:
        df = df.sort(order, nulls_last=True, maintain_order=True)
    table = df.to_arrow()
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=READ_BATCH_ROWS)), df.height


def _changes(col: pa.ChunkedArray) -> Any:
    """Boolean numpy array: row i+1 differs from row i (a null next to a value counts as a change)."""
    diff = pc.fill_null(pc.not_equal(col.slice(1), col.slice(0, len(col) - 1)), True)
    nulls = pc.not_equal(pc.is_null(col.slice(1)), pc.is_null(col.slice(0, len(col) - 1)))
    return pc.or_(diff, nulls).to_numpy(zero_copy_only=False)


def region_byte_shares(path: Path, code: str = "region_code", kind: str = "region_type") -> dict[tuple[Any, Any], float]:
    """Per region (kind, code) in the file: the share of its bytes (compressed column chunks) in
    row groups whose min/max statistics admit that region — what a reader filtering on the
    region must fetch, judged from the metadata alone."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    ci, ki = names.index(code), names.index(kind) if kind in names else None
    groups = []
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        size = sum(rg.column(i).total_compressed_size for i in range(rg.num_columns))
        cs = rg.column(ci).statistics
        ks = rg.column(ki).statistics if ki is not None else None
        groups.append((size, cs.min, cs.max, ks.min if ks else None, ks.max if ks else None))
    total = sum(g[0] for g in groups) or 1
    regions = pl.read_parquet(path, columns=[c for c in (kind, code) if c in names]).unique()
    out = {}
    for row in regions.iter_rows():
        k, c = (row if len(row) == 2 else (None, row[0]))
        hit = sum(
            size for size, lo, hi, klo, khi in groups
            if lo <= c <= hi and (k is None or klo is None or klo <= k <= khi)
        )
        out[(k, c)] = hit / total
    return out


def _boundary_cut(table: pa.Table, group: int, keys: list[str]) -> int:
    """Rows of the next row group (at most `group`) of a table sorted by `keys`: a row group
    never spans two values of keys[0] (region_type) and, where it can, ends where keys[1]
    (region_code) changes, so one region's rows sit in as few row groups as its size allows
    and no group's min/max range covers regions it does not hold."""
    n = min(group, table.num_rows)
    if not keys or n < 2:
        return n
    head = table.slice(0, n + 1 if table.num_rows > n else n)
    cols = [head.column(k) for k in keys]
    first = _changes(cols[0])
    changed = first.nonzero()[0]
    if changed.size and changed[0] + 1 < n:
        return int(changed[0]) + 1  # a new region type starts inside this group
    if len(cols) < 2:
        return n
    ends = _changes(cols[1]).nonzero()[0] + 1  # row i starts a new region
    ends = ends[ends <= n]
    return int(ends[-1]) if ends.size and ends[-1] >= group // 4 else n


def write_parquet(
    src: TableInput, path: Path, sort_by: list[str], primary_key: list[str] | None = None
) -> tuple[int, pa.Schema]:
    """Stream a table into zstd Parquet with statistics and a page index, sorted by the dashboard
    filter keys, in row groups cut at region boundaries (_boundary_cut) and sized so a one-region
    query reads a small part of the file."""
    order = sort_order(list(sort_by), list(primary_key or []))
    reader, expected = _reader(src, order)
    group = row_group_rows(expected)
    schema = reader.schema
    sorting = [pq.SortingColumn(schema.get_field_index(c), nulls_first=False) for c in sort_by if c in schema.names]
    keys = [c for c in sort_by[:2] if c in schema.names] if sort_by and sort_by[0] in schema.names else []
    rows = 0
    buffered: list[pa.RecordBatch] = []
    n_buffered = 0
    with pq.ParquetWriter(
        path,
        schema,
        compression="zstd",
        # min/max statistics and the page index on the filter keys only: on every column they made the
        # footer alone ~6 % of a one-region read (it is read before any row group); other columns
        # are not sorted, so their row-group ranges rarely let a reader skip anything anyway
        write_statistics=[c for c in order if c in schema.names] or False,
        use_dictionary=True,
        write_page_index=True,
        sorting_columns=sorting or None,
    ) as writer:

        def flush(final: bool) -> None:
            nonlocal buffered, n_buffered
            if not buffered:
                return
            table = pa.Table.from_batches(buffered, schema)
            # cut only with a row beyond the group in hand (to see where the next region starts)
            while table.num_rows > group or (final and table.num_rows):
                cut = _boundary_cut(table, group, keys)
                writer.write_table(table.slice(0, cut), row_group_size=cut)
                table = table.slice(cut)
            buffered, n_buffered = (table.to_batches(), table.num_rows) if table.num_rows else ([], 0)

        for batch in reader:
            if batch.num_rows:
                buffered.append(batch)
                n_buffered += batch.num_rows
                rows += batch.num_rows
                if n_buffered > 2 * group:
                    flush(False)
        flush(True)
    return rows, schema


def estimated_csv_bytes(parquet: Path) -> int:
    """CSV size of a Parquet table: the CSV of its first CSV_SAMPLE_ROWS rows (the same writer as
    write_csv) scaled to its row count. Decides `auto` CSV copies by size, not rows, without
    writing the big ones."""
    rows = pq.ParquetFile(parquet).metadata.num_rows
    if rows == 0:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.csv"
        write_csv(parquet, sample, limit=CSV_SAMPLE_ROWS)
        return math.ceil(sample.stat().st_size * rows / min(rows, CSV_SAMPLE_ROWS))


def wants_csv(name: str, csv_tables: set[str], parquet: Path) -> bool:
    """A CSV copy of this table: asked for by name, or `auto` and its CSV at most CSV_AUTO_MAX_BYTES."""
    return name in csv_tables or (AUTO in csv_tables and estimated_csv_bytes(parquet) <= CSV_AUTO_MAX_BYTES)


def write_csv(parquet: Path, dest: Path, limit: int | None = None) -> None:
    """CSV copy (header, UTF-8, nulls empty, lists as [a, b]) of a Parquet file, same row order;
    `limit`: its first rows only (the sample estimated_csv_bytes measures)."""
    con = duckdb.connect()
    try:
        src, out = (str(p).replace("'", "''") for p in (parquet, dest))
        cap = f" LIMIT {int(limit)}" if limit is not None else ""
        con.execute(f"SET preserve_insertion_order = true; COPY (SELECT * FROM read_parquet('{src}'){cap}) TO '{out}' (FORMAT csv, HEADER)")
    finally:
        con.close()


AUTO = "\0auto"


def choose_csv_tables(csv: bool | Iterable[str] | None, tables: Mapping[str, Any]) -> set[str]:
    """The tables that get a CSV copy (AUTO in the set: those whose CSV is up to CSV_AUTO_MAX_BYTES);
    csv as publish_release takes it, None reading OBSERVATORY_RELEASE_CSV."""
    if csv is None:
        spec = release_csv_spec()
        csv = True if spec == "all" else False if spec in {"none", "0", "no", ""} else {AUTO} if spec == "auto" else [t.strip() for t in spec.split(",")]
    if csv is True:
        return set(tables)
    if csv is False:
        return set()
    wanted = set(csv)
    unknown = wanted - set(tables) - {AUTO}
    if unknown:
        raise ValueError(f"CSV copies asked for unknown tables: {sorted(unknown)}")
    return wanted
