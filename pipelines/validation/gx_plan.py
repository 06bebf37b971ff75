"""Which frame each GX expectation of a suite is validated on, so GX never sees a full pandas copy
of a county year (issue 22: 2.1M rows, ~8 s and 3.6 GB for cbp_parsed) when it does not have to.

Expectation types are classified explicitly; an unknown type runs on the whole frame as before:

- `row`: the result for a row depends only on that row's values in the columns the expectation
  references (its column kwargs and the columns named in its row condition), and it succeeds iff
  no row is unexpected. It runs on the DISTINCT combinations of those columns (a few thousand
  rows), which has an unexpected row iff the full frame has one. A row expectation that fails
  there (or raises) is run again on the full rows (only its columns and the key), so its
  failing_count and sample rows are those of the rows; a passing one gets the element count of
  the full rows from the per-combination row counts (`WEIGHT`).
- `columns`: depends on the column names only: runs on a zero-row frame with every column.
- `aggregate`: depends on all rows (uniqueness, means …): runs on the full rows of the columns it
  references plus the key (for the sample rows). A compound key that Polars/DuckDB shows has no
  duplicate (`unique_check_columns`) takes GX's passing outcome from a zero-row run instead.
- `full`: anything else: the whole frame.

The frames come from pipelines/validation/gx_rows.py (a Polars frame or a DuckDB table part).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import polars as pl

ROW_WISE = frozenset(
    {
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_match_regex_list",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_null",
        "expect_column_values_to_not_be_null",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
    }
)
# Kwargs a row-wise expectation may carry and still be validated on distinct rows: `mostly`
# (a share of rows) and anything unknown send it to the full rows.
ROW_WISE_KWARGS = frozenset(
    {
        "column", "column_A", "column_B", "value_set", "regex", "regex_list", "match_on",
        "min_value", "max_value", "strict_min", "strict_max", "or_equal", "ignore_row_if",
        "row_condition", "condition_parser",
    }
)  # fmt: skip
COLUMNS_ONLY = frozenset(
    {
        "expect_table_columns_to_match_ordered_list",
        "expect_table_columns_to_match_set",
        "expect_table_column_count_to_equal",
    }
)
AGGREGATE = frozenset(
    {
        "expect_compound_columns_to_be_unique",
        "expect_column_values_to_be_unique",
        "expect_select_column_values_to_be_unique_within_record",
        "expect_column_mean_to_be_between",
        "expect_column_median_to_be_between",
        "expect_column_sum_to_be_between",
        "expect_column_min_to_be_between",
        "expect_column_max_to_be_between",
        "expect_column_stdev_to_be_between",
        "expect_column_unique_value_count_to_be_between",
        "expect_column_proportion_of_unique_values_to_be_between",
        "expect_column_distinct_values_to_be_in_set",
        "expect_column_distinct_values_to_contain_set",
        "expect_column_distinct_values_to_equal_set",
    }
)
# GX re-serialises an expectation's kwargs ~100 times per run: a value set of thousands of codes
# (NAICS, NUTS) costs ~0.3 s per expectation and part. On distinct rows only the codes present matter.
NARROW_MIN_VALUES = 100
COLUMN_KWARGS = ("column", "column_A", "column_B")
COLUMN_LIST_KWARGS = ("column_list",)
WEIGHT = "__rows"
_NAME = re.compile(r"`([^`]+)`|[A-Za-z_][A-Za-z0-9_]*")


def referenced_columns(kwargs: Mapping[str, Any], columns: Sequence[str]) -> list[str]:
    """The frame's columns an expectation reads, in frame order: its column kwargs and every
    frame column named in its row condition (a name that is not a column is left out; GX then
    fails on it the same way on any frame)."""
    names: set[str] = {str(kwargs[k]) for k in COLUMN_KWARGS if isinstance(kwargs.get(k), str)}
    for k in COLUMN_LIST_KWARGS:
        names.update(str(c) for c in kwargs.get(k) or ())
    cond = kwargs.get("row_condition")
    if isinstance(cond, str):
        names.update(m.group(1) or m.group(0) for m in _NAME.finditer(cond))
    return [c for c in columns if c in names]


def kind(etype: str, kwargs: Mapping[str, Any]) -> str:
    """row | columns | aggregate | full (see the module docstring)."""
    if etype in ROW_WISE:
        plain_condition = isinstance(kwargs.get("row_condition", ""), str)
        return "row" if plain_condition and set(kwargs) <= ROW_WISE_KWARGS else "full"
    if etype in COLUMNS_ONLY:
        return "columns"
    if etype in AGGREGATE:
        return "aggregate"
    return "full"


@dataclass(frozen=True)
class GxBatch:
    """Expectations validated together on one frame."""

    kind: str
    columns: tuple[str, ...]  # the row / aggregate frame's columns (empty: every column)
    ids: tuple[str, ...]


def plan(
    specs: Sequence[tuple[str, str, Mapping[str, Any]]], columns: Sequence[str], key: Sequence[str]
) -> list[GxBatch]:
    """Batches for (id, type, resolved kwargs) expectations on a frame with `columns`: one per
    distinct column set of the row-wise ones, one for the aggregates, the column-name-only and the
    unknown ones each."""
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for eid, etype, kwargs in specs:
        k = kind(etype, kwargs)
        cols = tuple(referenced_columns(kwargs, columns)) if k == "row" else ()
        groups.setdefault((k, cols), []).append(eid)
    out = []
    for (k, cols), ids in groups.items():
        if k == "aggregate":
            cols = tuple(columns_with_key([kw for eid, _t, kw in specs if eid in ids], columns, key))
        out.append(GxBatch(k, cols, tuple(ids)))
    return out


def rows_matching(distinct: pd.DataFrame, row_condition: str | None) -> int:
    """The full frame's row count under a row condition, from a row batch's distinct frame
    (filtered as GX filters: DataFrame.query with the pandas parser)."""
    frame = distinct.query(row_condition, parser="pandas") if row_condition else distinct
    return int(frame[WEIGHT].sum())


def narrowed(etype: str, kwargs: Mapping[str, Any], distinct: pl.DataFrame) -> dict[str, Any] | None:
    """A large string in-set's kwargs with the value set cut to the codes present in the distinct
    frame (a value is in the cut set iff it is in the full set, so the result is the same); None
    when not applicable. A failure is re-run with the full set anyway."""
    values = kwargs.get("value_set")
    col = kwargs.get("column")
    if etype != "expect_column_values_to_be_in_set" or not isinstance(values, list) or len(values) < NARROW_MIN_VALUES:
        return None
    if col not in distinct.columns or distinct.schema[col] != pl.String or not all(isinstance(v, str) for v in values):
        return None
    present = set(distinct[col].drop_nulls().to_list())
    kept = [v for v in values if v in present]
    return {**kwargs, "value_set": kept} if kept else None


# Types whose pandas copy compares equal exactly when the Polars/DuckDB values do (floats: NaN and
# -0.0; 64-bit ints become float64 in pandas when null and may collide above 2**53).
_EXACT_KEY_TYPES = (pl.String, pl.Boolean, pl.Date, pl.Int8, pl.Int16, pl.Int32, pl.UInt8, pl.UInt16, pl.UInt32)


def unique_check_columns(etype: str, kwargs: Mapping[str, Any], schema: Mapping[str, pl.DataType]) -> list[str] | None:
    """The columns of a compound-unique expectation that can be decided outside GX: with GX's
    default ignore_row_if it fails iff two rows whose values are not all missing agree on them
    (pandas' duplicated counts missing equal to missing, as Polars and DuckDB GROUP BY do).
    None when the kwargs or the column types do not allow it (then GX runs on the rows)."""
    cols = list(kwargs.get("column_list") or ())
    if etype != "expect_compound_columns_to_be_unique" or set(kwargs) != {"column_list"}:
        return None
    if not cols or len(set(cols)) != len(cols) or not set(cols) <= set(schema):
        return None
    return cols if all(isinstance(schema[c], _EXACT_KEY_TYPES) for c in cols) else None


def columns_with_key(kwargs_list: Sequence[Mapping[str, Any]], columns: Sequence[str], key: Sequence[str]) -> list[str]:
    """The frame columns these expectations read plus the key, in frame order: the rows of an
    aggregate batch, and of the full-row re-run of failed row-wise expectations."""
    wanted = {c for kw in kwargs_list for c in referenced_columns(kw, columns)} | set(key)
    return [c for c in columns if c in wanted]
