"""One module per upstream source: URLs, content checks and parsers (no Dagster here)."""
