"""Dagster wiring (assets, checks, jobs, resources): a thin layer over the domain modules."""
