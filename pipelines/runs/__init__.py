"""Runs: the in-process Dagster refresh the CLI launches, its lock, and failure notifications."""
