"""Warehouse: the DuckDB build (database.py), the one SQL runner (sql.py) and the indicator rules in
sql/ it runs with named parameters: US indicators, EU indicators, indicator families."""
