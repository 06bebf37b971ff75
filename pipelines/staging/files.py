"""Atomic writes of staged files: Parquet tables and their JSON sidecars."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import polars as pl


def write_staging_parquet(df: pl.DataFrame | pl.LazyFrame, dest: Path) -> int:
    """Write staging Parquet atomically. LZ4: staging is scratch read by DuckDB many times, and
    LZ4 writes ~20 % and reads faster than zstd at about the same size here (releases use zstd).
    No column statistics: a staged CBP file is one year with every level and legal form mixed in
    each row group, so min/max prune nothing the SQL asks for, and computing them was 15 % of
    a county year's write (the other staged tables are small)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}")
    try:
        if isinstance(df, pl.LazyFrame):
            df.sink_parquet(tmp, compression="lz4", statistics=False)
        else:
            df.write_parquet(tmp, compression="lz4", statistics=False)
        rows = pl.scan_parquet(tmp).select(pl.len()).collect().item()
        os.replace(tmp, dest)
        return int(rows)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(dest: Path, data: Any) -> None:
    """Write `data` as indented, key-sorted JSON (non-JSON values as str) to `dest` atomically."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, dest)
