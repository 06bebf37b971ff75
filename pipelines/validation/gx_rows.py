"""Where the GX engine's frames come from: a Polars frame in memory (`FrameRows`: a staged CBP
year) or one part of a DuckDB table (`TableRows`: a year of industry_employment). A table part is
never fetched whole: distinct combinations and key uniqueness are computed in DuckDB, rows are
fetched (only the columns asked for, in scan order) when an expectation needs them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import polars as pl

from pipelines.validation.gx_plan import WEIGHT
from pipelines.warehouse.sql import checked_identifier, fetch_frame, quoted


class FrameRows:
    """The rows of an in-memory frame."""

    def __init__(self, df: pl.DataFrame):
        self.df = df
        self.empty = df.head(0)

    @property
    def height(self) -> int:
        return self.df.height

    def distinct(self, cols: Sequence[str]) -> pl.DataFrame:
        """The distinct combinations of `cols` with their row counts (`WEIGHT`)."""
        # lazy: the eager group_by of a 2M-row string column peaks at ~0.5 GB, the lazy one at ~16 MB
        lf = self.df.lazy()
        counted = lf.select(cols).group_by(cols).agg(pl.len().alias(WEIGHT)) if cols else lf.select(pl.len().alias(WEIGHT))
        return counted.collect()

    def rows(self, cols: Sequence[str] | None = None) -> pl.DataFrame:
        return self.df if cols is None else self.df.select(cols)

    def has_duplicates(self, cols: Sequence[str]) -> bool:
        """Whether two rows, leaving out those whose `cols` are all null, agree on `cols` (nulls equal)."""
        rows = self.df.lazy().select(cols).filter(~pl.all_horizontal(pl.col(cols).is_null()))
        return bool(rows.select(pl.struct(cols).is_duplicated().any()).collect().item())


def _quoted(cols: Sequence[str]) -> str:
    return ", ".join(quoted(c) for c in cols)


class TableRows:
    """The rows of a DuckDB table where `by` is `value` (all rows when `by` is None)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, by: str | None = None, value: Any = None):
        self.con = con
        self.table = checked_identifier(table)
        self.where = f" WHERE {_quoted([by])} IS NOT DISTINCT FROM $k" if by else ""
        self.params: Mapping[str, Any] = {"k": value} if by else {}
        self.empty = fetch_frame(con, f"SELECT * FROM {self.table} LIMIT 0")
        self._height: int | None = None

    def _fetch(self, select: str, tail: str = "") -> pl.DataFrame:
        return fetch_frame(self.con, f"SELECT {select} FROM {self.table}{self.where}{tail}", self.params)

    @property
    def height(self) -> int:
        if self._height is None:
            self._height = int(self._fetch("count(*) AS n")["n"][0])
        return self._height

    def distinct(self, cols: Sequence[str]) -> pl.DataFrame:
        """The distinct combinations of `cols` with their row counts (`WEIGHT`), grouped in DuckDB
        (NULLs form one group, as in Polars)."""
        if not cols:
            return self._fetch(f"count(*) AS {WEIGHT}")
        return self._fetch(f"{_quoted(cols)}, count(*) AS {WEIGHT}", f" GROUP BY {_quoted(cols)}")

    def rows(self, cols: Sequence[str] | None = None) -> pl.DataFrame:
        return self._fetch("*" if cols is None else _quoted(cols))

    def has_duplicates(self, cols: Sequence[str]) -> bool:
        """As FrameRows.has_duplicates, in DuckDB (GROUP BY puts NULLs together)."""
        not_all_null = "NOT (" + " AND ".join(f"{_quoted([c])} IS NULL" for c in cols) + ")"
        cond = f"{self.where} AND {not_all_null}" if self.where else f" WHERE {not_all_null}"
        sql = f"SELECT EXISTS (SELECT 1 FROM {self.table}{cond} GROUP BY {_quoted(cols)} HAVING count(*) > 1) AS dup"
        return bool(fetch_frame(self.con, sql, self.params)["dup"][0])
