"""The warehouse's DuckDB connection carries the configured memory cap; bad values fail early."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import warehouse
from pipelines.config import Settings


def test_memory_limit_reaches_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(tmp_path))
    monkeypatch.setenv("OBSERVATORY_DUCKDB_MEMORY_LIMIT", "512MB")
    with warehouse.connect(Settings.from_env()) as con:
        (limit,) = con.execute("SELECT current_setting('memory_limit')").fetchall()[0]
    assert limit == "488.2 MiB"  # 512 MB as DuckDB reports it


def test_default_and_bad_memory_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(warehouse=tmp_path).duckdb_memory_limit == "3.5GB"
    monkeypatch.setenv("OBSERVATORY_DUCKDB_MEMORY_LIMIT", "3GB; DROP TABLE x")
    with pytest.raises(ValueError, match="OBSERVATORY_DUCKDB_MEMORY_LIMIT"):
        Settings.from_env()
