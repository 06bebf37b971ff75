"""Validation: expectation suites (assets/expectations/), their engines, results and reports."""
