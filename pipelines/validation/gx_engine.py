"""The GX engine: GX 1.x expectations of a suite run in one ephemeral context on pandas copies of
the frames pipelines/validation/gx_plan.py assigns them (issue 22: not a copy of the whole frame)."""

from __future__ import annotations

import logging
import uuid
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

import polars as pl

from pipelines.validation import gx_plan
from pipelines.validation.gx_rows import FrameRows, TableRows
from pipelines.validation.results import SAMPLE_ROWS, Outcome, json_safe
from pipelines.validation.suites import ExpectationSpec, Suite
from pipelines.warehouse.sql import IDENTIFIER


def _short(v: Any, limit: int = 20) -> Any:
    """Keep long kwargs (value sets of a thousand codes) readable in results."""
    if isinstance(v, (list, tuple, set)) and len(v) > limit:
        items = sorted(map(str, v))
        return [*items[:limit], f"… ({len(items)} values)"]
    return v


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
    if isinstance(value, str) and value.startswith("$") and IDENTIFIER.match(value[1:]):
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


def shared_row_rules(suite: Suite, params: Mapping[str, Any], keys: Sequence[Any]) -> list[str]:
    """Row-wise GX expectations whose kwargs are the same in every part (no year-scoped parameter
    changes them): validated once on the whole table's distinct rows (`run_gx(passes_only=True)`),
    a pass there is a pass in every part (the merged outcome: element counts summed)."""
    out = []
    for s in suite.by_engine("gx"):
        try:
            first, *rest = [_resolve(dict(s.kwargs), scoped_params(params, k)) for k in keys]
        except (KeyError, ValueError):  # a parameter missing somewhere, or no parts
            continue
        if gx_plan.kind(s.type, first) == "row" and all(r == first for r in rest):
            out.append(s.id)
    return out


def scoped_params(params: Mapping[str, Any], key: Any) -> dict[str, Any]:
    """Parameters for one part: entries named `<name>@<key>` override `<name>`."""
    out = {k: v for k, v in params.items() if "@" not in k}
    for k, v in params.items():
        if "@" in k and k.split("@", 1)[1] == str(key):
            out[k.split("@", 1)[0]] = v
    return out


def run_gx(
    suite: Suite,
    data: pl.DataFrame | FrameRows | TableRows,
    params: Mapping[str, Any],
    *,
    ids: Collection[str] | None = None,
    passes_only: bool = False,
) -> list[Outcome]:
    """GX expectations on the frames pipelines/validation/gx_plan.py assigns them (row-wise ones on
    distinct rows, re-run on the full rows when they fail); same outcomes as on the whole frame.
    `data`: a frame, or a DuckDB table part (gx_rows.TableRows) fetched only as far as needed.
    `ids`: only these expectations; `passes_only`: only the row-wise ones that pass, no re-runs."""
    specs = [s for s in suite.by_engine("gx") if ids is None or s.id in ids]
    if not specs:
        return []
    outcomes: dict[str, Outcome] = {}
    resolved: dict[str, dict[str, Any]] = {}
    for s in specs:
        try:
            kwargs = _resolve(dict(s.kwargs), params)
        except KeyError as exc:
            outcomes[s.id] = Outcome(
                s.id, s.type, s.severity, s.description, "skipped",
                kwargs=json_safe({k: _short(v) for k, v in s.kwargs.items()}),
                message=f"runtime parameter ${exc.args[0]} not available",
            )  # fmt: skip
            continue
        if "row_condition" in kwargs:
            kwargs.setdefault("condition_parser", "pandas")
        resolved[s.id] = kwargs
    by_id = {s.id: s for s in specs}
    rows = FrameRows(data) if isinstance(data, pl.DataFrame) else data
    columns = rows.empty.columns
    key = [c for c in suite.key if c in columns]
    rerun: list[str] = []
    for b in gx_plan.plan([(i, by_id[i].type, kw) for i, kw in resolved.items()], columns, key):
        todo = list(b.ids)
        if b.kind == "aggregate":  # keys proven unique pass: GX on no rows gives the outcome
            checks = {i: gx_plan.unique_check_columns(by_id[i].type, resolved[i], rows.empty.schema) for i in todo}
            proven = [i for i in todo if checks[i] is not None and not rows.has_duplicates(checks[i])]
            for o in _outcomes(suite.name, rows.empty.select(b.columns).to_pandas(), [(by_id[i], resolved[i]) for i in proven], key):
                outcomes[o.id] = replace(o, element_count=rows.height)  # GX counts every row
            todo = [i for i in todo if i not in proven]
            if not todo:
                continue
        frame = _batch_frame(rows, b)
        run = {i: resolved[i] for i in todo}
        if b.kind == "row":
            run |= {i: kw for i in todo if (kw := gx_plan.narrowed(by_id[i].type, resolved[i], frame)) is not None}
        pdf = frame.to_pandas()
        for o in _outcomes(suite.name, pdf, [(by_id[i], run[i]) for i in todo], [] if b.kind == "row" else key):
            if b.kind == "row" and o.status != "passed":
                rerun.append(o.id)  # counted and sampled on the full rows below
                continue
            if b.kind == "row":
                o.element_count = gx_plan.rows_matching(pdf, resolved[o.id].get("row_condition"))
            if run[o.id] is not resolved[o.id]:  # narrowed: report the set the suite asked for
                o.kwargs = {**o.kwargs, "value_set": json_safe(_short(resolved[o.id]["value_set"]))}
            outcomes[o.id] = o
        del frame, pdf
    if passes_only:
        return [
            o for s in specs
            if (o := outcomes.get(s.id)) is not None and o.status == "passed" and gx_plan.kind(s.type, resolved[s.id]) == "row"
        ]  # fmt: skip
    if rerun:
        cols = gx_plan.columns_with_key([resolved[i] for i in rerun], columns, key)
        for o in _outcomes(suite.name, rows.rows(cols).to_pandas(), [(by_id[i], resolved[i]) for i in rerun], key):
            outcomes[o.id] = o
    return [outcomes[s.id] for s in specs]


def _batch_frame(rows: FrameRows | TableRows, b: gx_plan.GxBatch) -> pl.DataFrame:
    """The frame a batch is validated on (gx_plan's kinds): distinct combinations with their row
    counts, the rows of its columns, no rows, or every column."""
    if b.kind == "row":
        return rows.distinct(b.columns)
    if b.kind == "aggregate":
        return rows.rows(b.columns)
    return rows.empty if b.kind == "columns" else rows.rows()


def _outcomes(name: str, pdf: Any, specs: list[tuple[ExpectationSpec, dict[str, Any]]], key: list[str]) -> list[Outcome]:
    by_id = {s.id: s for s, _kw in specs}
    results = _gx_validate(name, pdf, specs, key) if specs else []
    return [_gx_outcome(by_id[r.expectation_config.meta["id"]], r) for r in results]


def _gx_validate(
    name: str, pdf: Any, specs: list[tuple[ExpectationSpec, dict[str, Any]]], key: list[str]
) -> list[Any]:
    """GX validation results of `specs` (with their resolved kwargs) on the pandas frame `pdf`."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    bd, gx = _gx_batch_definition()
    gx_suite = gx.ExpectationSuite(name=f"{name}-{uuid.uuid4().hex[:8]}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for s, kwargs in specs:
            gx_suite.add_expectation_configuration(
                ExpectationConfiguration(type=s.type, kwargs=kwargs, meta={"id": s.id, "severity": s.severity})
            )
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS}
    if key:
        result_format["unexpected_index_column_names"] = key
    batch = bd.get_batch(batch_parameters={"dataframe": pdf})
    with warnings.catch_warnings():
        # Suites are data: row conditions stay pandas query strings (deprecated in GX 1.9,
        # still supported through 1.x); regex groups in patterns are intended.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return list(batch.validate(gx_suite, result_format=result_format).results)


def _gx_outcome(s: ExpectationSpec, r: Any) -> Outcome:
    """The Outcome of one GX expectation validation result `r` (of spec `s`)."""
    cfg = r.expectation_config
    result = r.result or {}
    exc = r.exception_info or {}
    message = ""
    if exc.get("raised_exception"):
        message = str(exc.get("exception_message"))
    sample = result.get("partial_unexpected_index_list") or []
    if not sample and result.get("partial_unexpected_list"):
        sample = [{"value": v} for v in result["partial_unexpected_list"]]
    return Outcome(
        id=s.id,
        expectation=s.type,
        severity=s.severity,
        description=s.description,
        status="passed" if r.success else "failed",
        observed=json_safe(result.get("observed_value")),
        failing_count=int(result.get("unexpected_count") or (0 if r.success else 1)),
        element_count=result.get("element_count"),
        sample=json_safe(sample[:SAMPLE_ROWS]),
        kwargs=json_safe({k: _short(v) for k, v in cfg.kwargs.items() if k not in {"batch_id", "condition_parser"}}),
        message=message,
    )
