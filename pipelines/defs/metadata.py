"""Dagster UI metadata for tables: column schemas from assets/schemas/*.yaml and a row preview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from pipelines import schemas
from pipelines.warehouse import database
from pipelines.warehouse.sql import fetch_frame

PREVIEW_ROWS = 5


def column_schema(name: str, dtypes: dict[str, str] | None = None) -> dg.TableSchema | None:
    """Columns of `name` with their descriptions from assets/schemas/<name>.yaml.

    With `dtypes` (the materialised table's column types) the columns are the table's own, in its
    order, described from the YAML where it documents them; without, the YAML's columns only.
    """
    path = schemas.SCHEMA_DIR / f"{name}.yaml"
    fields = {f["name"]: f for f in schemas.load_schema(name).fields} if path.exists() else {}
    if dtypes is None:
        if not fields:
            return None
        return dg.TableSchema(
            columns=[dg.TableColumn(n, type=str(f.get("type", "")), description=_describe(f)) for n, f in fields.items()]
        )
    return dg.TableSchema(
        columns=[
            dg.TableColumn(n, type=t, description=_describe(fields[n]) if n in fields else None)
            for n, t in dtypes.items()
        ]
    )


def _describe(field: dict[str, Any]) -> str:
    unit = f" ({field['unit']})" if field.get("unit") else ""
    return f"{field.get('description', '')}{unit}".strip()


def spec_metadata(name: str) -> dict[str, Any]:
    """Definition-time metadata: the documented column schema, shown before any run."""
    schema = column_schema(name)
    return {"dagster/column_schema": schema} if schema is not None else {}


def frame_metadata(name: str, frame: pl.DataFrame) -> dict[str, Any]:
    """Materialisation metadata from a few rows of the table: typed column schema and a preview."""
    dtypes = {c: str(t) for c, t in frame.schema.items()}
    return {
        "dagster/column_schema": column_schema(name, dtypes),
        "preview": dg.MetadataValue.md(schemas.preview_markdown(frame, PREVIEW_ROWS)),
    }


def parquet_metadata(name: str, path: Path) -> dict[str, Any]:
    """frame_metadata for a staged Parquet file (reads only the first rows)."""
    return frame_metadata(name, pl.scan_parquet(path).head(PREVIEW_ROWS).collect())


def duckdb_metadata(settings: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """frame_metadata for warehouse tables, read from DuckDB (read-only) after the build.

    Table names come from the asset definitions, never from user input.
    """
    out: dict[str, dict[str, Any]] = {}
    with database.connect(settings, read_only=True) as con:
        for name in names:
            frame = fetch_frame(con, f'SELECT * FROM "{name}" LIMIT {PREVIEW_ROWS}')
            out[name] = frame_metadata(name, frame)
    return out
