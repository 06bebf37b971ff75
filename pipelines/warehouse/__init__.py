"""Warehouse: the DuckDB build, indicator rules in sql/ run with named parameters."""
