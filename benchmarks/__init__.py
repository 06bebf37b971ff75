"""Benchmarks: synthetic county-level CBP input, a pandas baseline, and the timing harness."""
