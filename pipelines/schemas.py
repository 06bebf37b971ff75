"""Published table schemas: declarative YAML in assets/schemas/, one file per table."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

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
