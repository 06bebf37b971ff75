"""Validation results: an Outcome per expectation, a SuiteResult per suite run, stored as JSON in
<warehouse>/validation/ and reused while the fingerprint (suite text, data, parameters and check
SQL) is unchanged."""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipelines.layout import results_dir
from pipelines.schemas import load_schema
from pipelines.validation.suites import Suite, load_check_sql
from pipelines.warehouse.sql import checked_identifier

SAMPLE_ROWS = 10


@dataclass
class Outcome:
    """One expectation's result over a table (aggregated over years when run per year)."""

    id: str
    expectation: str
    severity: str
    description: str
    status: str  # passed | failed | skipped
    observed: Any = None
    failing_count: int = 0
    element_count: int | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass
class SuiteResult:
    suite: str
    table: str
    scope: str
    outcomes: list[Outcome]
    fingerprint: str = ""
    validated_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    rows: int | None = None

    @property
    def blocking_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed and o.severity == "error"]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed and o.severity == "warning"]

    @property
    def success(self) -> bool:
        return not self.blocking_failures

    def outcome(self, eid: str) -> Outcome:
        for o in self.outcomes:
            if o.id == eid:
                return o
        raise KeyError(f"{self.suite}: no expectation {eid}")

    def failed_ids(self, severity: str | None = None) -> set[str]:
        return {o.id for o in self.outcomes if o.failed and (severity is None or o.severity == severity)}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["success"] = self.success
        d["statistics"] = {
            "evaluated": len(self.outcomes),
            "passed": sum(o.status == "passed" for o in self.outcomes),
            "failed_errors": len(self.blocking_failures),
            "failed_warnings": len(self.warnings),
            "skipped": sum(o.status == "skipped" for o in self.outcomes),
        }
        return json_safe(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SuiteResult:
        outs = [Outcome(**o) for o in d["outcomes"]]
        return cls(
            suite=d["suite"], table=d["table"], scope=d["scope"], outcomes=outs,
            fingerprint=d.get("fingerprint", ""), validated_at=d.get("validated_at", ""), rows=d.get("rows"),
        )  # fmt: skip


def json_safe(v: Any) -> Any:
    """`v` as plain JSON values (results, samples and parameters are stored and fingerprinted as JSON)."""
    if isinstance(v, Mapping):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (set, frozenset)):
        # Sorted: set order changes between processes (hash seeds) and fingerprints must not.
        return sorted((json_safe(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True, default=str))
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if v is None or isinstance(v, (str, int, bool)):
        return v
    if hasattr(v, "item"):  # numpy scalars
        try:
            return json_safe(v.item())
        except (ValueError, TypeError):
            pass
    if hasattr(v, "isoformat"):
        return v.isoformat()
    try:
        if v != v:  # NaN / NA
            return None
    except (TypeError, ValueError):
        return None
    return str(v)


def table_fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> str:
    checked_identifier(table)
    n, h = con.execute(f"SELECT count(*), sum(hash(t)) FROM {table} AS t").fetchall()[0]
    return f"{n}:{h}"


def fingerprint(suite: Suite, data: str, params: Mapping[str, Any] | None = None) -> str:
    """Identity of a validation: the suite text, the data, the parameters, the check SQL and, for
    a schema expectation, the declared types it compares with."""
    h = hashlib.sha256()
    h.update(suite.sha256.encode())
    h.update(data.encode())
    h.update(json.dumps(json_safe(dict(params or {})), sort_keys=True).encode())
    for s in suite.by_engine("sql"):
        h.update(load_check_sql(s.sql or "").encode())
    if suite.by_engine("schema"):
        h.update(json.dumps(load_schema(suite.table).dtype_names()).encode())
    return h.hexdigest()




def result_path(warehouse: Path, suite: str, table: str, scope: str = "") -> Path:
    name = f"{suite}__{table}" + (f"__{scope.replace('=', '-')}" if scope else "")
    return results_dir(warehouse) / f"{name}.json"


def save_result(warehouse: Path, result: SuiteResult) -> Path:
    dest = result_path(warehouse, result.suite, result.table, result.scope)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    os.replace(tmp, dest)
    return dest


def load_result(warehouse: Path, suite: str, table: str, scope: str = "") -> SuiteResult | None:
    p = result_path(warehouse, suite, table, scope)
    if not p.exists():
        return None
    try:
        return SuiteResult.from_dict(json.loads(p.read_text()))
    except (ValueError, KeyError, TypeError):
        return None


def cached(
    warehouse: Path, suite: str, table: str, scope: str, fp: str, run: Callable[[], SuiteResult]
) -> SuiteResult:
    """The stored result when it was computed on the same data and suite; else run and store."""
    prev = load_result(warehouse, suite, table, scope)
    if prev is not None and fp and prev.fingerprint == fp:
        return prev
    res = run()
    res.fingerprint = fp or res.fingerprint
    save_result(warehouse, res)
    return res
