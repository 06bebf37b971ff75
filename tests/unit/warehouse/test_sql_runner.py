"""The one SQL runner (pipelines/warehouse/sql.py): unknown and unset parameters and bad table
names are errors; values are bound, never formatted into the SQL."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.warehouse.eu import EU_SQL
from pipelines.warehouse.families import FAMILY_SQL
from pipelines.warehouse.indicators import INDICATOR_SQL
from pipelines.warehouse.sql import SqlRunner, checked_identifier, load_statement, parameter_names

RUNNER = SqlRunner({"a": 1, "b": "x"}, "test")


def test_bind_takes_only_the_used_parameters_over_the_defaults() -> None:
    assert RUNNER.bind("SELECT $a -- $b in a comment\n") == {"a": 1}
    assert RUNNER.bind("SELECT $a, $b", {"b": "y"}) == {"a": 1, "b": "y"}
    assert parameter_names("SELECT $a -- $c\n, $b") == {"a", "b"}


def test_unknown_parameter_is_an_error() -> None:
    with pytest.raises(KeyError, match=r"unknown test parameters \['typo'\]"):
        RUNNER.bind("SELECT $a", {"typo": 2})
    # also when the statement does not use it: a misspelt name must never be ignored
    with pytest.raises(KeyError, match="unknown"):
        RUNNER.bind("SELECT 1", {"a": 1, "bb": 2})
    with pytest.raises(KeyError, match="unknown"):
        INDICATOR_SQL.bind("SELECT $min_lq", {"min_lqq": 2.0})


def test_unset_parameter_is_an_error() -> None:
    with pytest.raises(KeyError, match=r"without a value: \['c'\]"):
        RUNNER.bind("SELECT $a, $c")
    with pytest.raises(KeyError, match="without a value"):
        FAMILY_SQL.create_table(duckdb.connect(), "family_panel", "families/panel", temp=True)


def test_computed_values_are_bound_but_not_parameters() -> None:
    assert RUNNER.bind("SELECT $a, $side", computed={"side": "us"}) == {"a": 1, "side": "us"}
    with pytest.raises(KeyError, match="unknown"):
        RUNNER.bind("SELECT $a, $side", {"side": "us"})


@pytest.mark.parametrize("name", ["t; DROP TABLE x", "1t", "t-x", "t x", "", '"t"'])
def test_bad_table_name_is_an_error(name: str) -> None:
    with pytest.raises(ValueError, match="bad table name"):
        checked_identifier(name)
    with pytest.raises(ValueError, match="bad table name"):
        load_statement("checks/unmapped_share", table=name)
    with duckdb.connect() as con, pytest.raises(ValueError, match="bad table name"):
        INDICATOR_SQL.create_table(con, name, "us/cluster_totals")
    with duckdb.connect() as con, pytest.raises(ValueError, match="bad table name"):
        INDICATOR_SQL.insert_into(con, name, "us/custom_cluster_totals")


def test_values_are_bound_not_formatted() -> None:
    con = duckdb.connect()
    runner = SqlRunner({"s": "it's -- not SQL"})
    assert runner.bind("SELECT $s AS s") == {"s": "it's -- not SQL"}
    assert con.execute("SELECT $s AS s", runner.bind("SELECT $s AS s")).fetchall() == [("it's -- not SQL",)]


def test_statement_with_a_table_placeholder() -> None:
    sql = load_statement("checks/unmapped_share", table="industry_employment")
    assert "{table}" not in sql and "industry_employment" in sql and not sql.endswith(";")
    assert INDICATOR_SQL.bind(sql) == {"max_unmapped_share": 0.01}


def test_eu_runner_rejects_unknown_parameters() -> None:
    with pytest.raises(KeyError, match=r"unknown EU indicator parameters \['strong10_lq_pct'\]"):
        EU_SQL.bind("SELECT 1", {"strong10_lq_pct": 0.9})
