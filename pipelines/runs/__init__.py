"""Runs: the warehouse lock, recovery of runs whose process died, run events, failure notifications
(used by the Dagster wiring; the in-process refresh itself is pipelines/cli/refresh.py)."""
