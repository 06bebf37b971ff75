"""Validation: expectation suites (suites.py, data in assets/expectations/), their engines (engines.py),
results (results.py), reports (report.py) and the release gate (gate.py)."""
