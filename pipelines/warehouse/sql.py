"""The one SQL runner: the statements in sql/<family>/<name>.sql, run by DuckDB with named
parameters only.

A runner (:class:`SqlRunner`) holds the registered parameters of a set of statements with their
defaults. Binding a statement:

- a ``$name`` the statement uses that has no value is an error (unset);
- a value the caller passes that no registered default knows is an error (unknown: a typo is
  never ignored silently);
- values are bound by DuckDB, never formatted into the SQL text; table names are checked as
  plain identifiers (:func:`checked_identifier`).

Statements that read a table chosen at run time (sql/checks/*.sql: ``{table}``) are loaded with
:func:`load_statement`, which puts a checked identifier in the placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import duckdb
import polars as pl

from pipelines.config import SQL_DIR

PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
COMMENT = re.compile(r"--[^\n]*")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@cache
def load_sql(name: str) -> str:
    """The text of sql/<name>.sql, e.g. ``load_sql("us/cluster_totals")``."""
    path = SQL_DIR / f"{name}.sql"
    return path.read_text()


def quoted(name: str) -> str:
    """A column name as a quoted SQL identifier (embedded quotes doubled): for names that come
    from a schema or a file, never from a user's value."""
    return '"' + name.replace('"', '""') + '"'


def checked_identifier(name: str) -> str:
    """``name`` when it is a plain SQL identifier (a table name), else ValueError."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"bad table name {name!r}")
    return name


def load_statement(name: str, *, table: str) -> str:
    """sql/<name>.sql with its ``{table}`` placeholder replaced by a checked table name (the
    checks in sql/checks/ run on a table chosen at run time); trailing ``;`` removed, so the
    statement can be wrapped as a subquery."""
    return load_sql(name).strip().rstrip(";").replace("{table}", checked_identifier(table))


def parameter_names(sql: str) -> set[str]:
    """The ``$name`` parameters a statement uses (those in ``--`` comments do not count)."""
    return set(PARAMETER.findall(COMMENT.sub("", sql)))


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """The number of rows of a table (its name checked)."""
    return int(con.execute(f"SELECT count(*) FROM {checked_identifier(table)}").fetchall()[0][0])


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Shared rules (sql/common/macros.sql) every indicator family may use."""
    con.execute(load_sql("common/macros"))


def fetch_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None = None
) -> pl.DataFrame:
    """Run a query and return a Polars frame (DuckDB 2 connections have no .pl())."""
    rel = con.sql(sql, params=dict(params)) if params else con.sql(sql)
    return pl.from_arrow(rel.to_arrow_table())  # type: ignore[return-value]


def fetch_one(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The first row of a query as {column: value}, or None when it returns no rows."""
    cur = con.execute(sql, dict(params or {}))
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else None


def register_frame(con: duckdb.DuckDBPyConnection, name: str, df: pl.DataFrame) -> None:
    """CREATE OR REPLACE TABLE <name> from a Polars frame."""
    checked_identifier(name)
    con.register(f"_{name}_src", df.to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _{name}_src")
    con.unregister(f"_{name}_src")


@dataclass(frozen=True)
class SqlRunner:
    """Runs statements of sql/ whose parameters are ``defaults`` (name → default value);
    ``label`` names them in errors (e.g. "EU indicator")."""

    defaults: Mapping[str, Any]
    label: str = "SQL"

    def bind(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        computed: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The values of the parameters ``sql`` uses: ``params`` over the defaults, each a
        registered parameter (else KeyError: unknown), plus ``computed`` (values the code derives
        for this one statement, e.g. the side of the families: not parameters, so not checked
        against the defaults). A parameter left without a value is a KeyError (unset)."""
        given = dict(params or {})
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise KeyError(f"unknown {self.label} parameters {unknown}; known: {sorted(self.defaults)}")
        values = {**self.defaults, **given, **(computed or {})}
        names = parameter_names(sql)
        unset = sorted(names - set(values))
        if unset:
            raise KeyError(f"{self.label} parameters without a value: {unset}")
        return {n: values[n] for n in names}

    def create_table(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        temp: bool = False,
        computed: Mapping[str, Any] | None = None,
    ) -> int:
        """CREATE OR REPLACE [TEMP] TABLE <table> AS <sql/name.sql>; returns the row count."""
        checked_identifier(table)
        sql = load_sql(name)
        kind = "TEMP TABLE" if temp else "TABLE"
        con.execute(f"CREATE OR REPLACE {kind} {table} AS {sql}", self.bind(sql, params, computed=computed))
        return row_count(con, table)

    def insert_into(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        name: str,
        params: Mapping[str, Any] | None = None,
    ) -> int:
        """INSERT INTO <table> BY NAME <sql/name.sql>; returns the table's row count after."""
        checked_identifier(table)
        sql = load_sql(name)
        con.execute(f"INSERT INTO {table} BY NAME {sql}", self.bind(sql, params))
        return row_count(con, table)

    def fetch(
        self,
        con: duckdb.DuckDBPyConnection,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        table: str | None = None,
    ) -> pl.DataFrame:
        """The rows of sql/name.sql as a Polars frame (``table``: the table a ``{table}``
        statement reads, see :func:`load_statement`)."""
        sql = load_sql(name) if table is None else load_statement(name, table=table)
        return fetch_frame(con, sql, self.bind(sql, params))
