"""Published table schemas: declarative YAML in assets/schemas/, one file per table.

Each field declares its column type once, as the Polars dtype name (``str(dtype)``: String, Int32,
Int64, Float64, Boolean, Int8, Date, List(String) …), the same names the validation schema engine
compares; harmonising, validation and the release writer take their types from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from pipelines.config import ASSETS_DIR

SCHEMA_DIR = ASSETS_DIR / "schemas"

#: Column types a schema may declare without parameters, by their Polars name.
SIMPLE_TYPES: dict[str, type[pl.DataType]] = {
    str(t()): t
    for t in (
        pl.Boolean, pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64,
        pl.Float32, pl.Float64, pl.String, pl.Date,
    )
}  # fmt: skip
LIST_TYPE = re.compile(r"^List\((?P<inner>.+)\)$")


class SchemaFileError(ValueError):
    """A schema file in assets/schemas/ is incomplete or declares a type this module cannot read."""


def polars_dtype(name: str) -> pl.DataType:
    """The Polars dtype a schema type name stands for: a SIMPLE_TYPES name or List(<type>).

    Raises ValueError for any other name, so a typo is never read as some other type.
    """
    if name in SIMPLE_TYPES:
        return SIMPLE_TYPES[name]()
    inner = LIST_TYPE.match(name)
    if inner:
        return pl.List(polars_dtype(inner["inner"]))
    raise ValueError(
        f"unknown column type {name!r}; known: {', '.join(SIMPLE_TYPES)} and List(<type>)"
    )


@dataclass(frozen=True)
class TableSchema:
    name: str
    title: str
    description: str
    primary_key: tuple[str, ...]
    sort_by: tuple[str, ...]
    fields: tuple[dict[str, Any], ...]
    path: Path | None = None

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]

    def dtype_names(self) -> dict[str, str]:
        """Column → declared type name (e.g. {"year": "Int32", ...}), in the file's field order."""
        return {f["name"]: f["type"] for f in self.fields}

    def polars_schema(self, columns: Sequence[str] | None = None) -> pl.Schema:
        """The declared column types as a Polars schema: every field in file order, or only
        `columns` in the order given (an undeclared column raises SchemaFileError)."""
        declared = self.dtype_names()
        wanted = list(declared) if columns is None else list(columns)
        unknown = [c for c in wanted if c not in declared]
        if unknown:
            raise SchemaFileError(f"{self.path or self.name}: columns not declared: {unknown}")
        return pl.Schema({c: polars_dtype(declared[c]) for c in wanted})

    def check_columns(self, columns: list[str]) -> None:
        """Every published column must be documented, and every documented one present."""
        undocumented = [c for c in columns if c not in self.field_names]
        absent = [c for c in self.field_names if c not in columns]
        if undocumented or absent:
            raise ValueError(
                f"table {self.name}: columns not in assets/schemas/{self.name}.yaml: {undocumented}; "
                f"documented but missing: {absent}"
            )

    def check_types(self, actual: Mapping[str, pl.DataType]) -> None:
        """A written table's column types must be the declared ones: the release writer refuses a
        table whose types drifted from assets/schemas/<table>.yaml (dashboards read those types)."""
        declared = self.dtype_names()
        wrong = {c: (str(t), declared[c]) for c, t in actual.items() if c in declared and str(t) != declared[c]}
        if wrong:
            raise SchemaFileError(
                f"table {self.name}: column types differ from {self.path or self.name} (written, declared): {wrong}"
            )


@cache
def load_schema(name: str, schema_dir: Path = SCHEMA_DIR) -> TableSchema:
    """The schema of table `name` from <schema_dir>/<name>.yaml; every field must have a name and
    a known type (SchemaFileError naming the file and field otherwise)."""
    path = schema_dir / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    fields = tuple(data["fields"])
    check_field_types(path, fields)
    return TableSchema(
        name=data["name"],
        title=data.get("title", name),
        description=data.get("description", "").strip(),
        primary_key=tuple(data.get("primaryKey", [])),
        sort_by=tuple(data.get("sortBy", data.get("primaryKey", []))),
        fields=fields,
        path=path,
    )


def check_field_types(path: Path, fields: Sequence[dict[str, Any]]) -> None:
    """Every field of a schema file declares a known type, written as Polars prints it (polars_dtype
    reads only those names, so the validation engine, comparing ``str(dtype)``, sees the same name)."""
    for i, field in enumerate(fields):
        label = f"{path}: field {field.get('name', f'#{i + 1}')!r}"
        if "type" not in field:
            raise SchemaFileError(
                f"{label} has no type; add e.g. `type: String` (a Polars dtype name)"
            )
        try:
            polars_dtype(field["type"])
        except (TypeError, ValueError) as e:
            raise SchemaFileError(f"{label}: {e}") from None


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
