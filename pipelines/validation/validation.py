"""Data validation: Great Expectations suites (data in assets/expectations/) and SQL checks
(sql/checks/*.sql, each returning the failing rows), results as JSON and a readable report.

A suite is a YAML file listing expectations. Each has an `id`, a `severity` (`error` blocks the
pipeline, `warning` is reported only), a `description` and one of three engines:

- `gx` (default): a GX 1.x expectation (`type` + `kwargs`), run on a pandas copy of the frame in
  an ephemeral context. Kwarg values written as "$name" are filled from runtime parameters
  (e.g. the NAICS codes of the vintage); when a parameter is absent the expectation is reported
  as skipped, never silently dropped.
- `schema`: the exact Polars dtypes of the table (pandas conversion loses nullable ints).
- `sql`: a file in sql/checks/ run in DuckDB; it returns the failing rows.

Large tables are validated one year at a time (`validate_table`), so the pandas conversion
never holds more than one year; SQL checks run once over the whole table.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import math
import os
import re
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import yaml

from pipelines.config import ASSETS_DIR, SQL_DIR
from pipelines.raw.archive import sha256_file

SUITE_DIR = ASSETS_DIR / "expectations"
CHECKS_SQL_DIR = SQL_DIR / "checks"
SAMPLE_ROWS = 10
SEVERITIES = ("error", "warning")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

log = logging.getLogger(__name__)


class ValidationError(RuntimeError):
    """Raised when error-level expectations fail where data must not go on (e.g. publishing)."""

    def __init__(self, results: Sequence[SuiteResult]):
        self.results = list(results)
        failed = [f"{r.suite}/{o.id} ({r.scope or 'all'}): {o.failing_count} failing" for r in results for o in r.blocking_failures]
        super().__init__("validation failed (error-level expectations):\n  " + "\n  ".join(failed[:30]))


# --- suites ---------------------------------------------------------------------------------


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


# --- results --------------------------------------------------------------------------------


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
        return _json_safe(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SuiteResult:
        outs = [Outcome(**o) for o in d["outcomes"]]
        return cls(
            suite=d["suite"], table=d["table"], scope=d["scope"], outcomes=outs,
            fingerprint=d.get("fingerprint", ""), validated_at=d.get("validated_at", ""), rows=d.get("rows"),
        )  # fmt: skip


def _json_safe(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (set, frozenset)):
        # Sorted: set order changes between processes (hash seeds) and fingerprints must not.
        return sorted((_json_safe(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True, default=str))
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if v is None or isinstance(v, (str, int, bool)):
        return v
    if hasattr(v, "item"):  # numpy scalars
        try:
            return _json_safe(v.item())
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


def _short(v: Any, limit: int = 20) -> Any:
    """Keep long kwargs (value sets of a thousand codes) readable in results."""
    if isinstance(v, (list, tuple, set)) and len(v) > limit:
        items = sorted(map(str, v))
        return [*items[:limit], f"… ({len(items)} values)"]
    return v


# --- engines --------------------------------------------------------------------------------

_GX: dict[str, Any] = {}


def _gx_batch_definition():
    """One ephemeral GX context per process (building one is slow; it holds no state we keep)."""
    if "bd" not in _GX:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        ds = ctx.data_sources.add_pandas("observatory")
        _GX["bd"] = ds.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")
        _GX["gx"] = gx
    return _GX["bd"], _GX["gx"]


def _resolve(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$") and _IDENT.match(value[1:]):
        name = value[1:]
        if name not in params:
            raise KeyError(name)
        p = params[name]
        return sorted(p) if isinstance(p, (set, frozenset)) else p
    if isinstance(value, Mapping):
        return {k: _resolve(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


def _run_gx(suite: Suite, df: pl.DataFrame, params: Mapping[str, Any]) -> list[Outcome]:
    specs = suite.by_engine("gx")
    if not specs:
        return []
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    bd, gx = _gx_batch_definition()
    gx_suite = gx.ExpectationSuite(name=f"{suite.name}-{uuid.uuid4().hex[:8]}")
    outcomes: dict[str, Outcome] = {}
    for s in specs:
        try:
            kwargs = _resolve(dict(s.kwargs), params)
        except KeyError as exc:
            outcomes[s.id] = Outcome(
                s.id, s.type, s.severity, s.description, "skipped",
                kwargs=_json_safe({k: _short(v) for k, v in s.kwargs.items()}),
                message=f"runtime parameter ${exc.args[0]} not available",
            )  # fmt: skip
            continue
        if "row_condition" in kwargs:
            kwargs.setdefault("condition_parser", "pandas")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            gx_suite.add_expectation_configuration(
                ExpectationConfiguration(type=s.type, kwargs=kwargs, meta={"id": s.id, "severity": s.severity})
            )
    key = [c for c in suite.key if c in df.columns]
    if gx_suite.expectations:
        result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS}
        if key:
            result_format["unexpected_index_column_names"] = key
        batch = bd.get_batch(batch_parameters={"dataframe": df.to_pandas()})
        with warnings.catch_warnings():
            # Suites are data: row conditions stay pandas query strings (deprecated in GX 1.9,
            # still supported through 1.x); regex groups in patterns are intended.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            res = batch.validate(gx_suite, result_format=result_format)
        by_id = {s.id: s for s in specs}
        for r in res.results:
            cfg = r.expectation_config
            s = by_id[cfg.meta["id"]]
            result = r.result or {}
            exc = r.exception_info or {}
            message = ""
            if exc.get("raised_exception"):
                message = str(exc.get("exception_message"))
            sample = result.get("partial_unexpected_index_list") or []
            if not sample and result.get("partial_unexpected_list"):
                sample = [{"value": v} for v in result["partial_unexpected_list"]]
            outcomes[s.id] = Outcome(
                id=s.id,
                expectation=s.type,
                severity=s.severity,
                description=s.description,
                status="passed" if r.success else "failed",
                observed=_json_safe(result.get("observed_value")),
                failing_count=int(result.get("unexpected_count") or (0 if r.success else 1)),
                element_count=result.get("element_count"),
                sample=_json_safe(sample[:SAMPLE_ROWS]),
                kwargs=_json_safe({k: _short(v) for k, v in cfg.kwargs.items() if k not in {"batch_id", "condition_parser"}}),
                message=message,
            )
    return [outcomes[s.id] for s in specs]


def _dtype_name(dt: pl.DataType) -> str:
    return str(dt)


def _run_schema(suite: Suite, df: pl.DataFrame) -> list[Outcome]:
    out = []
    for s in suite.by_engine("schema"):
        expected: dict[str, str] = dict(s.kwargs["schema"])
        actual = {c: _dtype_name(t) for c, t in df.schema.items()}
        bad = []
        for col, typ in expected.items():
            if col not in actual:
                bad.append({"column": col, "expected": typ, "observed": "(missing)"})
            elif actual[col] != typ:
                bad.append({"column": col, "expected": typ, "observed": actual[col]})
        if s.kwargs.get("exact", True):
            bad += [{"column": c, "expected": "(not in schema)", "observed": t} for c, t in actual.items() if c not in expected]
        out.append(
            Outcome(
                s.id, s.type, s.severity, s.description, "failed" if bad else "passed",
                observed=actual, failing_count=len(bad), element_count=len(expected),
                sample=bad[:SAMPLE_ROWS], kwargs={"schema": expected},
            )
        )
    return out


@cache
def load_check_sql(name: str) -> str:
    return (CHECKS_SQL_DIR / f"{name}.sql").read_text()


def run_sql_check(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, Any] | None = None,
    limit: int = SAMPLE_ROWS,
    *,
    table: str,
) -> tuple[int, list[dict[str, Any]]]:
    """Run sql/checks/<name>.sql on `table` (the file's {table}); it returns the failing rows.

    Returns (failing count, first `limit` rows)."""
    if not _IDENT.match(table):
        raise ValueError(f"bad table name {table!r}")
    sql = load_check_sql(name).strip().rstrip(";").replace("{table}", table)
    names = set(_PARAM.findall(_COMMENT.sub("", sql)))
    params = dict(params or {})
    missing = sorted(names - set(params))
    if missing:
        raise KeyError(f"sql/checks/{name}.sql: parameters without a value: {missing}")
    p = {n: params[n] for n in names}
    count = con.execute(f"SELECT count(*) FROM ({sql}) AS failing", p).fetchall()[0][0]
    sample: list[dict[str, Any]] = []
    if count:
        cur = con.execute(f"SELECT * FROM ({sql}) AS failing LIMIT {int(limit)}", p)
        cols = [d[0] for d in cur.description]
        sample = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    return int(count), sample


def _run_sql(
    suite: Suite, con: duckdb.DuckDBPyConnection, params: Mapping[str, Any], table: str | None = None
) -> list[Outcome]:
    out = []
    for s in suite.by_engine("sql"):
        merged = {**s.params, **{k: v for k, v in params.items() if k in s.params}}
        try:
            count, sample = run_sql_check(con, s.sql or "", merged, table=table or suite.table)
            status, message = ("failed" if count else "passed"), ""
        except (duckdb.Error, KeyError) as exc:
            count, sample, status, message = 1, [], "failed", f"check could not run: {exc}"
        out.append(
            Outcome(
                s.id, s.type, s.severity, s.description, status, observed=count, failing_count=count,
                sample=_json_safe(sample), kwargs=_json_safe(merged), message=message,
            )
        )
    return out


# --- running suites -------------------------------------------------------------------------


def _merge(parts: list[tuple[str, list[Outcome]]]) -> list[Outcome]:
    """Aggregate per-year outcomes of the same expectation into one."""
    merged: dict[str, Outcome] = {}
    for scope, outs in parts:
        for o in outs:
            sample = [{"scope": scope, **row} for row in o.sample] if scope else o.sample
            m = merged.get(o.id)
            if m is None:
                merged[o.id] = Outcome(**{**asdict(o), "sample": sample, "observed": {scope: o.observed} if scope and o.observed is not None and o.failed else o.observed})
                continue
            if o.failed:
                if m.status != "failed":
                    m.observed = {}
                m.status = "failed"
                if isinstance(m.observed, dict) and o.observed is not None:
                    m.observed[scope] = o.observed
                m.sample = (m.sample + sample)[:SAMPLE_ROWS]
                m.message = m.message or o.message
            elif o.status == "skipped" and m.status == "passed":
                m.status = "skipped"
                m.message = o.message
            m.failing_count += o.failing_count
            if o.element_count is not None:
                m.element_count = (m.element_count or 0) + o.element_count
    return list(merged.values())


def validate_frame(
    suite_name: str,
    df: pl.DataFrame,
    *,
    params: Mapping[str, Any] | None = None,
    tables: Mapping[str, pl.DataFrame] | None = None,
    by: str | None = None,
    scope: str = "",
) -> SuiteResult:
    """Run a suite on an in-memory frame (SQL checks see it as the suite's table, plus `tables`).

    `params` may be a mapping or a callable scope-key → mapping when `by` splits the frame.
    """
    suite = load_suite(suite_name)
    params = dict(params or {})
    parts = []
    if by and by in df.columns:
        for (k,), part in df.partition_by(by, as_dict=True, maintain_order=True).items():
            parts.append((f"{by}={k}", _run_schema(suite, part) + _run_gx(suite, part, _scoped(params, k))))
    else:
        parts.append(("", _run_schema(suite, df) + _run_gx(suite, df, params)))
    with duckdb.connect() as con:
        for name, frame in {suite.table: df, **(tables or {})}.items():
            con.register(f"_{name}_src", frame.to_arrow())
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}_src")
        parts.append(("", _run_sql(suite, con, params)))
    return SuiteResult(suite.name, suite.table, scope, _order(suite, _merge(parts)), rows=df.height)


def _scoped(params: Mapping[str, Any], key: Any) -> dict[str, Any]:
    """Parameters for one part: entries named `<name>@<key>` override `<name>`."""
    out = {k: v for k, v in params.items() if "@" not in k}
    for k, v in params.items():
        if "@" in k and k.split("@", 1)[1] == str(key):
            out[k.split("@", 1)[0]] = v
    return out


def _order(suite: Suite, outs: list[Outcome]) -> list[Outcome]:
    pos = {e.id: i for i, e in enumerate(suite.expectations)}
    return sorted(outs, key=lambda o: pos.get(o.id, 1 << 30))


def table_fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> str:
    if not _IDENT.match(table):
        raise ValueError(f"bad table name {table!r}")
    n, h = con.execute(f"SELECT count(*), sum(hash(t)) FROM {table} AS t").fetchall()[0]
    return f"{n}:{h}"


def validate_table(
    con: duckdb.DuckDBPyConnection,
    suite_name: str,
    table: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    by: str | None = "year",
    scope: str = "",
) -> SuiteResult:
    """Run a suite on a DuckDB table: schema + GX one `by` value at a time, SQL checks once."""
    from pipelines.warehouse.sql import fetch_frame

    suite = load_suite(suite_name)
    table = table or suite.table
    if not _IDENT.match(table):
        raise ValueError(f"bad table name {table!r}")
    params = dict(params or {})
    cols = [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
    parts = []
    rows = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    if not (suite.by_engine("gx") or suite.by_engine("schema")):
        pass  # SQL checks only (e.g. cluster_mapping, completeness): no frame to fetch
    elif by and by in cols:
        keys = [r[0] for r in con.execute(f"SELECT DISTINCT {by} FROM {table} ORDER BY 1").fetchall()]
        for k in keys:
            part = fetch_frame(con, f"SELECT * FROM {table} WHERE {by} IS NOT DISTINCT FROM $k", {"k": k})
            parts.append((f"{by}={k}", _run_schema(suite, part) + _run_gx(suite, part, _scoped(params, k))))
    else:
        part = fetch_frame(con, f"SELECT * FROM {table}")
        parts.append(("", _run_schema(suite, part) + _run_gx(suite, part, params)))
    parts.append(("", _run_sql(suite, con, params, table)))
    return SuiteResult(
        suite.name, table, scope, _order(suite, _merge(parts)),
        fingerprint=fingerprint(suite, table_fingerprint(con, table), params), rows=rows,
    )  # fmt: skip


def fingerprint(suite: Suite, data: str, params: Mapping[str, Any] | None = None) -> str:
    """Identity of a validation: the suite text, the data, the parameters and the check SQL."""
    h = hashlib.sha256()
    h.update(suite.sha256.encode())
    h.update(data.encode())
    h.update(json.dumps(_json_safe(dict(params or {})), sort_keys=True).encode())
    for s in suite.by_engine("sql"):
        h.update(load_check_sql(s.sql or "").encode())
    return h.hexdigest()


# --- storing results ------------------------------------------------------------------------


def results_dir(warehouse: Path) -> Path:
    return warehouse / "validation"


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


# --- report ---------------------------------------------------------------------------------


def _cell(v: Any, width: int = 60) -> str:
    s = json.dumps(v, default=str) if isinstance(v, (dict, list)) else ("" if v is None else str(v))
    s = s.replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= width else s[: width - 1] + "…"


def markdown_table(rows: Sequence[Mapping[str, Any]], limit: int = SAMPLE_ROWS) -> str:
    if not rows:
        return ""
    cols: list[str] = []
    for r in rows[:limit]:
        cols += [c for c in r if c not in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c), 40) for c in cols) + " |" for r in rows[:limit]]
    return "\n".join(lines)


def outcomes_markdown(outcomes: Iterable[Outcome], samples: bool = True) -> str:
    outs = list(outcomes)
    lines = [
        "| status | severity | expectation | check | observed | failing | rows checked |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outs:
        lines.append(
            f"| {o.status.upper() if o.failed else o.status} | {o.severity} | `{o.id}` | {_cell(o.expectation, 50)} | "
            f"{_cell(o.observed, 50)} | {o.failing_count} | {'' if o.element_count is None else o.element_count} |"
        )
    if samples:
        for o in outs:
            if o.failed and (o.sample or o.message):
                lines += ["", f"**{o.id}** ({o.severity}): {o.description} {o.message}".rstrip(), ""]
                if o.sample:
                    lines.append(markdown_table(o.sample))
    return "\n".join(lines)


def render_markdown(results: Sequence[SuiteResult], title: str = "Validation report") -> str:
    n_err = sum(len(r.blocking_failures) for r in results)
    n_warn = sum(len(r.warnings) for r in results)
    n_all = sum(len(r.outcomes) for r in results)
    out = [
        f"# {title}",
        "",
        f"{len(results)} suite runs, {n_all} expectations: {n_err} failed errors, {n_warn} warnings. "
        "Errors block publishing; warnings are reported only. Suites: assets/expectations/; "
        "SQL checks: sql/checks/.",
        "",
    ]
    for r in results:
        suite = load_suite(r.suite) if (SUITE_DIR / f"{r.suite}.yaml").exists() else None
        head = f"## {r.suite} on `{r.table}`" + (f" ({r.scope})" if r.scope else "")
        status = "PASSED" if r.success else "FAILED"
        out += [head, "", f"{status}{' with warnings' if r.success and r.warnings else ''} — {r.rows if r.rows is not None else '?'} rows, validated {r.validated_at}", ""]
        if suite and suite.description:
            out += [suite.description, ""]
        out += [outcomes_markdown(r.outcomes), ""]
        descs = [(o.id, o.description) for o in r.outcomes if o.description]
        if descs:
            out += ["<details><summary>What each expectation checks</summary>", ""]
            out += [f"- `{i}`: {d}" for i, d in descs]
            out += ["", "</details>", ""]
    return "\n".join(out)


def render_html(results: Sequence[SuiteResult], title: str = "Validation report") -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}"
        ".failed.error{background:#fdd}.failed.warning{background:#ffd}.skipped{color:#888}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    for r in results:
        parts.append(f"<h2>{e(r.suite)} on <code>{e(r.table)}</code> {e(r.scope)} — {'PASSED' if r.success else 'FAILED'}</h2>")
        parts.append(f"<p>{r.rows} rows; validated {e(r.validated_at)}</p>")
        parts.append("<table><tr><th>status</th><th>severity</th><th>id</th><th>expectation</th><th>description</th><th>observed</th><th>failing</th><th>checked</th></tr>")
        for o in r.outcomes:
            parts.append(
                f"<tr class='{o.status} {o.severity}'><td>{o.status}</td><td>{o.severity}</td><td>{e(o.id)}</td>"
                f"<td>{e(o.expectation)}</td><td>{e(o.description)}</td><td>{e(_cell(o.observed, 80))}</td>"
                f"<td>{o.failing_count}</td><td>{'' if o.element_count is None else o.element_count}</td></tr>"
            )
        parts.append("</table>")
        for o in r.outcomes:
            if o.failed and o.sample:
                cols: list[str] = []
                for row in o.sample:
                    cols += [c for c in row if c not in cols]
                parts.append(f"<p><b>{e(o.id)}</b>: sample of failing rows</p><table><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
                for row in o.sample:
                    parts.append("<tr>" + "".join(f"<td>{e(_cell(row.get(c), 40))}</td>" for c in cols) + "</tr>")
                parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    results: Sequence[SuiteResult], dest: Path, title: str = "Validation report", extra: Mapping[str, Any] | None = None
) -> dict[str, Path]:
    """validation/results.json, report.md and report.html in `dest` (each replaced atomically)."""
    dest.mkdir(parents=True, exist_ok=True)
    summary = {
        "success": all(r.success for r in results),
        "failed_errors": sum(len(r.blocking_failures) for r in results),
        "failed_warnings": sum(len(r.warnings) for r in results),
        "expectations": sum(len(r.outcomes) for r in results),
        **(extra or {}),
        "suites": [r.to_dict() for r in results],
    }
    files = {
        "results.json": json.dumps(summary, indent=2, default=str) + "\n",
        "report.md": render_markdown(results, title),
        "report.html": render_html(results, title),
    }
    out = {}
    for name, text in files.items():
        tmp = dest / f".{name}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(text)
        os.replace(tmp, dest / name)
        out[name] = dest / name
    return out


def report_dir(warehouse: Path) -> Path:
    """The validation report of the latest run (a release copies it into validation/)."""
    return results_dir(warehouse) / "report"


def write_run_report(warehouse: Path, results: Sequence[SuiteResult], run_id: str) -> dict[str, Path]:
    """Add one check's results to the report of run `run_id` (a report of another run is replaced),
    so a run whose blocking check fails leaves its own report, not the previous run's."""
    dest = report_dir(warehouse)
    merged: list[SuiteResult] = []
    try:
        prev = json.loads((dest / "results.json").read_text())
        if prev.get("run_id") == run_id:
            merged = [SuiteResult.from_dict(d) for d in prev.get("suites", [])]
    except (OSError, ValueError, KeyError, TypeError):
        merged = []
    new = {(r.suite, r.table, r.scope) for r in results}
    merged = [r for r in merged if (r.suite, r.table, r.scope) not in new] + list(results)
    blocked = not all(r.success for r in merged)
    title = "Cluster Observatory validation report" + (" (run blocked: nothing published)" if blocked else "")
    return write_report(merged, dest, title, extra={"run_id": run_id, "blocked": blocked})


def blocked_message(warehouse: Path, *, since: float | None = None, samples: int = 3) -> str | None:
    """What blocked the last run, for the console: per failing error-level expectation its table,
    suite/id, failing count and sample rows; None when the latest report (written after `since`,
    a time.time()) shows no blocking failure."""
    path = report_dir(warehouse) / "results.json"
    try:
        if since is not None and path.stat().st_mtime < since:
            return None
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("success", True):
        return None
    lines = []
    for suite in data.get("suites", []):
        for o in suite.get("outcomes", []):
            if o.get("status") != "failed" or o.get("severity") != "error":
                continue
            scope = f" ({suite['scope']})" if suite.get("scope") else ""
            lines.append(
                f"  {suite['table']}{scope}: {suite['suite']}/{o['id']} failed, {o.get('failing_count', 0)} failing"
                f" — {o.get('description', '')}".rstrip(" —")
            )
            if o.get("message"):
                lines.append(f"    {o['message']}")
            for row in (o.get("sample") or [])[:samples]:
                lines.append("    e.g. " + ", ".join(f"{k}={_cell(v, 40)}" for k, v in row.items()))
    n = sum(1 for ln in lines if not ln.startswith("    "))
    head = f"release blocked: {n} error-level expectation(s) failed; nothing published. Report: {path.parent / 'report.md'}"
    return "\n".join([head, *lines])


# --- CBP quarantine -------------------------------------------------------------------------

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int32(),
    "geo": pl.String(),
    "source_id": pl.String(),
    "line": pl.Int64(),
    "region_code": pl.String(),
    "industry_code": pl.String(),
    "reason": pl.String(),
    "record": pl.String(),
}


def expand_naics(six_digit: Iterable[str]) -> set[str]:
    """Allowed CBP industry codes for a vintage: the 6-digit codes, all their 2–5 digit parents,
    99 (unclassified establishments) and TOTAL."""
    codes = {"99", "TOTAL"}
    for c in six_digit:
        if c and len(c) == 6:
            codes.update(c[:n] for n in range(2, 7))
    return codes


def quarantine_rows(tagged: pl.DataFrame, columns: Sequence[str], *, year: int, geo: str, source_id: str) -> pl.DataFrame:
    """Quarantine table rows from text rows tagged with `_line`, `region_code`, `industry_code`
    and `_reason`; the raw record is kept as JSON so nothing the source said is lost."""
    return tagged.select(
        pl.lit(year, dtype=pl.Int32).alias("year"),
        pl.lit(geo).alias("geo"),
        pl.lit(source_id).alias("source_id"),
        pl.col("_line").cast(pl.Int64).alias("line"),
        pl.col("region_code"),
        pl.col("industry_code"),
        pl.col("_reason").alias("reason"),
        pl.struct(list(columns)).struct.json_encode().alias("record"),
    ).cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]


def cbp_quarantine_split(
    lf: pl.LazyFrame,
    columns: Sequence[str],
    *,
    year: int,
    geo: str,
    source_id: str,
    naics_codes: set[str] | None,
) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """Split parsed CBP text rows into (clean rows, quarantined rows with the reason).

    Row-level rule failures go to quarantine: negative counts, and well-formed NAICS codes that do
    not exist in the year's vintage (when its code list is known). Structurally bad rows (bad ids,
    non-numeric counts, malformed codes) are left for the parser's check, which rejects the file.
    The rules are pipelines.staging.harmonise.cbp_row_rules, the ones staging applies in its single pass.
    """
    from pipelines.sources.cbp import detect_layout
    from pipelines.staging.harmonise import cbp_row_rules, clean_cbp

    cols = list(columns)
    layout = detect_layout(cols, source_id, "")
    _, reason = cbp_row_rules(layout, year=year, naics_codes=naics_codes, quarantine=True)
    tagged = (
        clean_cbp(lf.with_row_index("_line", offset=2), layout)
        .select(
            *cols, "_line", pl.col("_region").alias("region_code"), pl.col("_code").alias("industry_code"),
            reason.alias("_reason"),
        )
        .collect()
    )
    is_bad = tagged["_reason"].is_not_null()
    bad = quarantine_rows(tagged.filter(is_bad), cols, year=year, geo=geo, source_id=source_id)
    return tagged.filter(~is_bad).select(cols).lazy(), bad


# --- the US pipeline ------------------------------------------------------------------------

US_WAREHOUSE_SUITES = {
    "harmonised": "industry_employment",
    "cluster_mapping": "industry_employment",
    "cluster_indicators": "cluster_indicators",
    "region_indicators": "region_indicators",
}
US_REFERENCE_SUITES = {
    "reference_clusters": "clusters",
    "reference_cluster_naics": "cluster_naics",
    "reference_regions": "regions",
}


def us_naics_codes(settings) -> dict[str, set[str]]:
    """Allowed industry codes per NAICS vintage, for vintages with a 6-digit code list staged
    (the concordance: 2002–2022; NAICS 1997: the 1997 cluster definitions). Empty when the
    reference tables are not staged yet."""
    from pipelines.staging.reference import reference_dir

    return naics_codes_from(reference_dir(settings))


def naics_codes_from(reference_dir: Path) -> dict[str, set[str]]:
    """us_naics_codes for a reference-table folder (also used by the benchmarks).

    A vintage the concordance lacks (NAICS 1997) gets the codes of its cluster definitions: they
    cover every 6-digit code of the 1997-coded CBP files (checked on the mirror's 2000–2002
    files), and without a list the vintage could not be detected nor its unknown codes held."""
    path = reference_dir / "naics_concordance.parquet"
    if not path.exists():
        return {}
    conc = pl.read_parquet(path)
    defs_path = reference_dir / "cluster_naics.parquet"
    defs = pl.read_parquet(defs_path) if defs_path.exists() else None
    six_by_vintage: dict[str, set[str]] = {
        col.split("_", 1)[1]: set(conc[col].drop_nulls().to_list()) for col in conc.columns if col.startswith("naics_")
    }
    if defs is not None:
        for vintage, codes in defs.group_by("naics_vintage").agg("naics").iter_rows():
            six_by_vintage.setdefault(vintage, set()).update(codes)
    return {v: expand_naics(six) for v, six in six_by_vintage.items()}


def cbp_year_params(settings, years: Iterable[int], geo: str = "state") -> dict[str, Any]:
    """Per-year code lists of the cbp_parsed suite: those of the NAICS vintage detected in the
    staged file (its sidecar), else the year rule's."""
    from pipelines.staging.cbp import cbp_staged_path
    from pipelines.staging.harmonise import cbp_naics_vintage

    codes = us_naics_codes(settings)
    params: dict[str, Any] = {}
    for y in years:
        sidecar = cbp_staged_path(settings, y, geo).with_suffix(".json")
        detected = json.loads(sidecar.read_text()).get("naics_vintage") if sidecar.exists() else None
        v = detected or cbp_naics_vintage(y)
        params[f"classifications@{y}"] = [f"NAICS{v}"]
        if v in codes:
            params[f"naics_codes@{y}"] = codes[v]
    return params


def validate_cbp_year(settings, year: int, geo: str = "state", *, use_cache: bool = True) -> SuiteResult:
    """cbp_parsed on one staged CBP year (cached on the staged file and the suite)."""
    from pipelines.staging.cbp import cbp_staged_path

    path = cbp_staged_path(settings, year, geo)
    if not path.exists():
        raise FileNotFoundError(f"CBP {year} not staged ({path})")
    suite = load_suite("cbp_parsed")
    params = cbp_year_params(settings, [year], geo)
    fp = fingerprint(suite, sha256_file(path), params)

    def run() -> SuiteResult:
        res = validate_frame("cbp_parsed", pl.read_parquet(path), params=params, by="year", scope=f"{geo} {year}")
        res.table = f"cbp_{geo}"
        return res

    return cached(settings.warehouse, suite.name, f"cbp_{geo}", f"{geo} {year}", fp if use_cache else "", run)


def validate_reference(settings, *, use_cache: bool = True) -> list[SuiteResult]:
    from pipelines.staging.reference import reference_dir

    ref = reference_dir(settings)
    clusters = ref / "clusters.parquet"
    params = {"cluster_codes": set(pl.read_parquet(clusters)["cluster_code"].to_list())} if clusters.exists() else {}
    out = []
    for suite_name, table in US_REFERENCE_SUITES.items():
        path = ref / f"{table}.parquet"
        if not path.exists():
            continue
        suite = load_suite(suite_name)
        fp = fingerprint(suite, sha256_file(path), params)
        out.append(
            cached(
                settings.warehouse, suite_name, table, "", fp if use_cache else "",
                lambda s=suite_name, p=path: validate_frame(s, pl.read_parquet(p), params=params),
            )
        )
    return out


def validate_warehouse_table(
    settings,
    con: duckdb.DuckDBPyConnection,
    suite_name: str,
    table: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    use_cache: bool = True,
) -> SuiteResult:
    """A suite on a DuckDB table (cached on the table contents, the suite and the parameters).

    `cluster_codes` is filled from the clusters table when present; pass other runtime
    parameters (e.g. `nuts_codes`, `nace_codes` for the EU suites) in `params`."""
    table = table or US_WAREHOUSE_SUITES.get(suite_name) or load_suite(suite_name).table
    params = dict(params or {})
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "clusters" in tables and "cluster_codes" not in params:
        params["cluster_codes"] = {r[0] for r in con.execute("SELECT cluster_code FROM clusters").fetchall()}
    if "cluster_naics" in tables:  # the cluster_mapping gate reads it: a new definition re-validates
        params.setdefault("cluster_naics_fingerprint", table_fingerprint(con, "cluster_naics"))
    suite = load_suite(suite_name)
    fp = fingerprint(suite, table_fingerprint(con, table), params)
    return cached(
        settings.warehouse, suite_name, table, "", fp if use_cache else "",
        lambda: validate_table(con, suite_name, table, params=params),
    )  # fmt: skip


CBP_REGION_TYPES = {"state": "state", "county": "county", "msa": "msa", "us": "country"}


def completeness_params(settings) -> dict[str, Any]:
    """Runtime parameters of the `completeness` suite: the requested CBP year × geography pairs
    (with their source ids) and, per pair requested again, the previous release's row count and
    employment (from the release's own industry_employment.parquet), plus the shrink threshold."""
    from pipelines.sources import cbp

    pairs = [(y, CBP_REGION_TYPES[g], cbp.source_id(y, g)) for g in settings.cbp_geos for y in settings.cbp_years]
    params: dict[str, Any] = {
        "expected_year": [p[0] for p in pairs],
        "expected_region_type": [p[1] for p in pairs],
        "expected_source": [p[2] for p in pairs],
        "max_shrink": float(settings.max_shrink),
        "previous_release": "",
        "prev_year": [], "prev_region_type": [], "prev_rows": [], "prev_emp": [],
    }  # fmt: skip
    wanted = pl.DataFrame({"year": params["expected_year"], "region_type": params["expected_region_type"]},
                          schema={"year": pl.Int32, "region_type": pl.String})  # fmt: skip
    params.update(_previous_totals(settings, "industry_employment", wanted))
    return params


def _previous_totals(settings, table: str, wanted: pl.DataFrame | None = None) -> dict[str, Any]:
    """count(*) and sum(emp) per year × region_type of `table` in the latest release, as the
    parallel-list parameters of sql/checks/shrink_vs_previous.sql (only `wanted` pairs if given)."""
    from pipelines.layout import read_latest

    empty: dict[str, Any] = {"previous_release": "", "prev_year": [], "prev_region_type": [], "prev_rows": [], "prev_emp": []}
    latest = read_latest(settings.releases_dir)
    path = settings.releases_dir / str((latest or {}).get("version", "")) / "data" / f"{table}.parquet"
    if not latest or not path.is_file():
        return empty
    prev = (
        pl.scan_parquet(path)
        .filter(pl.col("region_type") != "custom")  # user-defined regions may change freely
        .group_by("year", "region_type")
        .agg(pl.len().alias("rows"), pl.col("emp").sum().alias("emp"))
    )
    if wanted is not None:
        prev = prev.join(wanted.lazy(), on=["year", "region_type"], how="semi")
    df = prev.sort("year", "region_type").collect()
    return {
        "previous_release": str(latest["version"]),
        "prev_year": df["year"].to_list(),
        "prev_region_type": df["region_type"].to_list(),
        "prev_rows": df["rows"].to_list(),
        "prev_emp": df["emp"].to_list(),
    }


def eu_completeness_params(settings) -> dict[str, Any]:
    """Runtime parameters of the `eu_completeness` suite: the Eurostat datasets the refresh
    fetches (those an offline mirror holds) and the previous release's totals per year × level."""
    from pipelines.sources import eurostat
    from pipelines.staging.eu_sbs import DEFAULT_DATASETS, eurostat_available

    return {
        "expected_source": [eurostat.source_id(ds) for ds in DEFAULT_DATASETS if eurostat_available(settings, ds)],
        "max_shrink": float(settings.max_shrink),
        **_previous_totals(settings, "eu_industry_employment"),
    }


def validate_completeness(settings, con: duckdb.DuckDBPyConnection, *, use_cache: bool = True) -> SuiteResult:
    """The `completeness` suite on industry_employment: requested years present, none shrunk."""
    return validate_warehouse_table(
        settings, con, "completeness", "industry_employment", params=completeness_params(settings), use_cache=use_cache
    )


EU_WAREHOUSE_SUITES = {"eurostat_parsed": "eu_industry_employment", "eu_indicators": "eu_cluster_indicators"}


def validate_eu(settings, con: duckdb.DuckDBPyConnection) -> list[SuiteResult]:
    """The EU suites on the warehouse EU tables, with the staged NUTS/NACE code lists."""
    from pipelines.staging.eu import eu_code_lists

    params = eu_code_lists(settings)
    out = [validate_warehouse_table(settings, con, s, t, params=params) for s, t in EU_WAREHOUSE_SUITES.items()]
    out.append(
        validate_warehouse_table(settings, con, "eu_completeness", "eu_industry_employment", params=eu_completeness_params(settings))
    )
    return out


def validate_us(settings, con: duckdb.DuckDBPyConnection | None = None) -> list[SuiteResult]:
    """Every US suite on the current staging and warehouse (stored results reused when the data
    and suites are unchanged)."""
    results = validate_reference(settings)
    for geo in settings.cbp_geos:
        for y in settings.cbp_years:
            results.append(validate_cbp_year(settings, y, geo))
    params = us_warehouse_params()
    if con is None:
        from pipelines.warehouse.warehouse import connect

        with connect(settings, read_only=True) as c:
            results += [validate_warehouse_table(settings, c, s, params=params) for s in US_WAREHOUSE_SUITES]
            results.append(validate_completeness(settings, c))
    else:
        results += [validate_warehouse_table(settings, con, s, params=params) for s in US_WAREHOUSE_SUITES]
        results.append(validate_completeness(settings, con))
    return results


def us_warehouse_params() -> dict[str, Any]:
    """Runtime parameters of the US warehouse suites: the release parameters they gate on
    (pipelines.warehouse.indicators.DEFAULT_PARAMS, recorded in every release)."""
    from pipelines.warehouse.indicators import DEFAULT_PARAMS

    return {"max_unmapped_share": DEFAULT_PARAMS["max_unmapped_share"]}


@dataclass
class ReleaseValidation:
    files: dict[str, Path]  # relative path in the release → file
    metadata: dict[str, Any]  # the datapackage `validation` entry
    results: list[SuiteResult]


def release_validation(settings, con: duckdb.DuckDBPyConnection | None = None) -> ReleaseValidation:
    """Validate everything a US release carries and write the report; raises ValidationError
    (so nothing is published) when an error-level expectation failed."""
    results = validate_us(settings, con)
    if getattr(settings, "eurostat", False):
        if con is None:
            from pipelines.warehouse.warehouse import connect

            with connect(settings, read_only=True) as c:
                results += validate_eu(settings, c)
        else:
            results += validate_eu(settings, con)
    dest = report_dir(settings.warehouse)
    files = write_report(results, dest, "Cluster Observatory validation report")
    if not all(r.success for r in results):
        raise ValidationError(results)
    meta = {
        "results": "validation/results.json",
        "report": "validation/report.md",
        "report_html": "validation/report.html",
        "success": True,
        "suite_runs": len(results),
        "expectations": sum(len(r.outcomes) for r in results),
        "failed_warnings": sum(len(r.warnings) for r in results),
        "quarantine_table": "cbp_quarantine",
        "note": "Every expectation run on the released data (assets/expectations/, sql/checks/); "
        "error-level failures block publishing, warnings are listed in the report.",
    }
    return ReleaseValidation({f"validation/{name}": path for name, path in files.items()}, meta, results)


def quarantine_frame(settings) -> pl.DataFrame:
    """All quarantined CBP rows of the configured years and geographies."""
    from pipelines.staging.cbp import cbp_quarantine_path

    paths = [
        p for g in settings.cbp_geos for y in settings.cbp_years
        if (p := cbp_quarantine_path(settings, y, g)).exists()
    ]  # fmt: skip
    if not paths:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return pl.concat([pl.read_parquet(p) for p in paths]).cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]
