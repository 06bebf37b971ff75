"""The warehouse's DuckDB connection carries the configured memory cap; bad values fail early."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.warehouse import database


def test_memory_limit_reaches_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(tmp_path))
    monkeypatch.setenv("OBSERVATORY_DUCKDB_MEMORY_LIMIT", "512MB")
    with database.connect(Settings.from_env()) as con:
        (limit,) = con.execute("SELECT current_setting('memory_limit')").fetchall()[0]
    assert limit == "488.2 MiB"  # 512 MB as DuckDB reports it


def test_default_and_bad_memory_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(warehouse=tmp_path).duckdb_memory_limit == "3.5GB"
    monkeypatch.setenv("OBSERVATORY_DUCKDB_MEMORY_LIMIT", "3GB; DROP TABLE x")
    with pytest.raises(ValueError, match="OBSERVATORY_DUCKDB_MEMORY_LIMIT"):
        Settings.from_env()


def test_dagster_resource_keeps_settings_it_does_not_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside Dagster runs the settings come from ObservatoryResource: the ones it has no field for
    (memory cap, fixed EU reference, HTTP limits) must keep their environment values."""
    from pipelines.defs.resources import ObservatoryResource

    monkeypatch.setenv("OBSERVATORY_DUCKDB_MEMORY_LIMIT", "512MB")
    monkeypatch.setenv("OBSERVATORY_EU_FIXED_REFERENCE", "1")
    monkeypatch.setenv("OBSERVATORY_HTTP_DEADLINE", "42")
    s = ObservatoryResource(warehouse=str(tmp_path / "wh"), cbp_years="2010-2011").settings()
    assert (s.duckdb_memory_limit, s.eu_fixed_reference, s.http_deadline) == ("512MB", True, 42.0)
    assert s.warehouse == (tmp_path / "wh").resolve() and s.cbp_years == (2010, 2011)
