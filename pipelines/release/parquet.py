"""Release table files: zstd Parquet sorted by the dashboard filter keys in small row groups,
and the optional CSV copies (which tables get one)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.config import release_csv_spec

TableInput = pl.DataFrame | pl.LazyFrame | duckdb.DuckDBPyRelation


ROW_GROUP_ROWS = 64_000  # upper bound on rows per row group


MIN_ROW_GROUP_ROWS = 1_024


CSV_AUTO_MAX_ROWS = 250_000  # CSV copies by default for tables up to this size (not the fact table)


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
        return rel.to_arrow_reader(8_192), rows
    df = src.collect() if isinstance(src, pl.LazyFrame) else src
    if order:
        df = df.sort(order, nulls_last=True, maintain_order=True)
    table = df.to_arrow()
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=8_192)), df.height


def write_parquet(
    src: TableInput, path: Path, sort_by: list[str], primary_key: list[str] | None = None
) -> tuple[int, pa.Schema]:
    """Stream a table into zstd Parquet with statistics and a page index, sorted by the dashboard
    filter keys, in row groups sized so a one-region query reads a small part of the file."""
    order = sort_order(list(sort_by), list(primary_key or []))
    reader, expected = _reader(src, order)
    group = row_group_rows(expected)
    schema = reader.schema
    sorting = [pq.SortingColumn(schema.get_field_index(c), nulls_first=False) for c in sort_by if c in schema.names]
    rows = 0
    buffered: list[pa.RecordBatch] = []
    n_buffered = 0
    with pq.ParquetWriter(
        path,
        schema,
        compression="zstd",
        write_statistics=True,
        use_dictionary=True,
        write_page_index=True,
        sorting_columns=sorting or None,
    ) as writer:

        def flush(final: bool) -> None:
            nonlocal buffered, n_buffered
            if not buffered:
                return
            table = pa.Table.from_batches(buffered, schema)
            cut = n_buffered if final else (n_buffered // group) * group
            if cut:
                writer.write_table(table.slice(0, cut), row_group_size=group)
            rest = table.slice(cut)
            buffered, n_buffered = (rest.to_batches(), rest.num_rows) if rest.num_rows else ([], 0)

        for batch in reader:
            if batch.num_rows:
                buffered.append(batch)
                n_buffered += batch.num_rows
                rows += batch.num_rows
                if n_buffered >= group:
                    flush(False)
        flush(True)
    return rows, schema


def write_csv(parquet: Path, dest: Path) -> None:
    """CSV copy (header, UTF-8, nulls empty, lists as [a, b]) of a Parquet file, same row order."""
    con = duckdb.connect()
    try:
        src, out = (str(p).replace("'", "''") for p in (parquet, dest))
        con.execute(f"SET preserve_insertion_order = true; COPY (SELECT * FROM read_parquet('{src}')) TO '{out}' (FORMAT csv, HEADER)")
    finally:
        con.close()


AUTO = "\0auto"


def choose_csv_tables(csv: bool | Iterable[str] | None, tables: Mapping[str, Any]) -> set[str]:
    """The tables that get a CSV copy (AUTO in the set: those up to CSV_AUTO_MAX_ROWS rows);
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
