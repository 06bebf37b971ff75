"""Staging: harmonised Polars frames and staged Parquet per source, reference tables, NUTS, concordances."""
