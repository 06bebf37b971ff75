"""Published table schemas: declarative YAML in assets/schemas/, one file per table."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from pipelines.config import ASSETS_DIR

SCHEMA_DIR = ASSETS_DIR / "schemas"


@dataclass(frozen=True)
class TableSchema:
    name: str
    title: str
    description: str
    primary_key: tuple[str, ...]
    sort_by: tuple[str, ...]
    fields: tuple[dict[str, Any], ...]

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]

    def check_columns(self, columns: list[str]) -> None:
        """Every published column must be documented, and every documented one present."""
        undocumented = [c for c in columns if c not in self.field_names]
        absent = [c for c in self.field_names if c not in columns]
        if undocumented or absent:
            raise ValueError(
                f"table {self.name}: columns not in assets/schemas/{self.name}.yaml: {undocumented}; "
                f"documented but missing: {absent}"
            )


@cache
def load_schema(name: str, schema_dir: Path = SCHEMA_DIR) -> TableSchema:
    path = schema_dir / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    return TableSchema(
        name=data["name"],
        title=data.get("title", name),
        description=data.get("description", "").strip(),
        primary_key=tuple(data.get("primaryKey", [])),
        sort_by=tuple(data.get("sortBy", data.get("primaryKey", []))),
        fields=tuple(data["fields"]),
    )


def preview_markdown(frame: pl.DataFrame, rows: int = 5) -> str:
    """The first `rows` rows as a Markdown table, so the Dagster UI shows what a table holds.

    Nulls print as empty cells (not 0 or "None"): null is not zero.
    """
    head = frame.head(rows)
    cols = head.columns
    if not cols:
        return "(no columns)"

    def cell(v: Any) -> str:
        return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in head.iter_rows()]
    if head.height == 0:
        lines.append("(no rows)")
    return "\n".join(lines)
