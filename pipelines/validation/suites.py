"""Expectation suites: YAML files in assets/expectations/ (data, not code), and the SQL checks in
sql/checks/ that they name.

A suite is a YAML file listing expectations. Each has an `id`, a `severity` (`error` blocks the
pipeline, `warning` is reported only), a `description` and one of three engines
(pipelines/validation/engines.py):

- `gx` (default): a GX 1.x expectation (`type` + `kwargs`), run in an ephemeral context on a
  pandas copy of the part of the frame it needs (gx_plan.py: distinct rows for row-wise types). Kwarg values written as "$name" are filled from runtime parameters
  (e.g. the NAICS codes of the vintage); when a parameter is absent the expectation is reported
  as skipped, never silently dropped.
- `schema`: the exact Polars dtypes of the table (pandas conversion loses nullable ints).
- `sql`: a file in sql/checks/ run in DuckDB; it returns the failing rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from pipelines.config import ASSETS_DIR, SQL_DIR
from pipelines.warehouse.sql import load_sql

SUITE_DIR = ASSETS_DIR / "expectations"
CHECKS_SQL_DIR = SQL_DIR / "checks"
SEVERITIES = ("error", "warning")
# A table name or a "$parameter" name: safe to put in SQL text.


@dataclass(frozen=True)
class ExpectationSpec:
    id: str
    type: str
    severity: str
    description: str
    engine: str = "gx"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    sql: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    description: str
    table: str
    key: tuple[str, ...]
    expectations: tuple[ExpectationSpec, ...]
    sha256: str

    def by_engine(self, engine: str) -> list[ExpectationSpec]:
        return [e for e in self.expectations if e.engine == engine]


def suite_names() -> list[str]:
    return sorted(p.stem for p in SUITE_DIR.glob("*.yaml"))


@cache
def load_suite(name: str) -> Suite:
    path = SUITE_DIR / f"{name}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no expectation suite {name!r} ({path})")
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
    specs = []
    seen: set[str] = set()
    for i, e in enumerate(data.get("expectations", [])):
        engine = e.get("engine", "gx")
        sev = e.get("severity", "error")
        eid = e.get("id") or f"{e.get('type', e.get('sql'))}_{i}"
        if sev not in SEVERITIES:
            raise ValueError(f"suite {name}: expectation {eid}: severity must be one of {SEVERITIES}")
        if eid in seen:
            raise ValueError(f"suite {name}: duplicate expectation id {eid}")
        seen.add(eid)
        if engine == "sql":
            if not (CHECKS_SQL_DIR / f"{e['sql']}.sql").exists():
                raise FileNotFoundError(f"suite {name}: sql/checks/{e['sql']}.sql missing")
            etype = f"sql:{e['sql']}"
        elif engine == "schema":
            etype = "expect_table_schema_to_match"
        elif engine == "gx":
            etype = e["type"]
        else:
            raise ValueError(f"suite {name}: unknown engine {engine!r}")
        specs.append(
            ExpectationSpec(
                id=eid,
                type=etype,
                severity=sev,
                description=str(e.get("description", "")).strip(),
                engine=engine,
                kwargs=dict(e.get("kwargs") or {}),
                sql=e.get("sql"),
                params=dict(e.get("params") or {}),
            )
        )
    return Suite(
        name=data.get("name", name),
        title=data.get("title", name),
        description=str(data.get("description", "")).strip(),
        table=data.get("table", name),
        key=tuple(data.get("key", [])),
        expectations=tuple(specs),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def load_check_sql(name: str) -> str:
    """The text of sql/checks/<name>.sql (through the one SQL loader)."""
    return load_sql(f"checks/{name}")
