"""Issue 20: a DuckDB out-of-memory in the warehouse names the setting that raises the cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import error_message
from pipelines.config import Settings
from pipelines.warehouse.database import WarehouseMemoryError, connect


def test_out_of_memory_names_the_memory_limit_setting(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, duckdb_memory_limit="1MB")
    with pytest.raises(WarehouseMemoryError) as err, connect(settings) as con:
        con.execute("SELECT list(i) FROM range(5000000) t(i)").fetchall()  # a list cannot spill
    msg = str(err.value)
    assert "OBSERVATORY_DUCKDB_MEMORY_LIMIT=1MB" in msg and "Out of Memory" in msg and "\n" not in msg, msg
    try:  # what the CLI prints of a failed step (it follows __cause__ to the innermost error)
        raise RuntimeError("step failed") from err.value
    except RuntimeError as wrapped:
        assert error_message(wrapped) == msg


def test_other_sql_errors_pass_unchanged(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no_such_table") as err, connect(Settings(warehouse=tmp_path / "wh")) as con:
        con.execute("SELECT * FROM no_such_table")
    assert not isinstance(err.value, WarehouseMemoryError)
