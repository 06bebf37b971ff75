"""What `observatory run` prints: one progress line per step that takes time, no run ids or
timestamps (those with OBSERVATORY_LOG_LEVEL=DEBUG or OBSERVATORY_DEBUG=1), and a closing summary
naming the release page, the validation warnings by name and count, and any partial-data caveat."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

from pipelines.config import debug, log_level
from pipelines.layout import report_dir

MAX_LINE = 160  # no console line is longer (paths aside, which are printed on lines of their own)

# Loggers whose INFO records are detail (one line per table): shown only at OBSERVATORY_LOG_LEVEL=DEBUG;
# their step has its own summary line (pipelines.warehouse.database, the run's closing summary).
DETAIL_LOGGERS = ("pipelines.warehouse.families", "pipelines.release.publish")


def verbose() -> bool:
    """Dagster's full log lines (run ids, timestamps, step keys) and every detail line."""
    return debug() or log_level() == "DEBUG"


class Console(logging.StreamHandler):
    """Writes to the current sys.stdout / sys.stderr (not the one at creation: tests swap them)."""

    def __init__(self, name: str) -> None:
        self._which = name
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return getattr(sys, self._which)

    @stream.setter
    def stream(self, _value) -> None:
        pass


class Wrapped(logging.Formatter):
    """"  message", wrapped at MAX_LINE characters (continuation lines indented)."""

    def __init__(self) -> None:
        super().__init__("  %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return "\n".join(
            textwrap.fill(ln, MAX_LINE, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False)
            for ln in text.splitlines()
        )


class NotDetail(logging.Filter):
    """Drops the per-table INFO lines of DETAIL_LOGGERS unless the run is verbose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return verbose() or record.levelno > logging.INFO or not record.name.startswith(DETAIL_LOGGERS)


class DagsterMessages(logging.Filter):
    """Dagster records on the quiet console: only what the assets themselves log (no engine
    events, no failure records: the CLI prints a failure as one line), as the bare message."""

    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None)
        if record.levelno >= logging.ERROR or (meta and meta.get("dagster_event") is not None):
            return False
        if meta and meta.get("orig_message") is not None:
            record.msg, record.args = meta["orig_message"], ()
        return True


def quiet_dagster_logger(name: str, level: str) -> logging.Logger:
    """The console logger of CLI runs when not verbose: "  message" lines, warnings on stderr."""
    logger = logging.Logger(name, level=logging.getLevelNamesMapping().get(level, logging.INFO))
    out, err = Console("stdout"), Console("stderr")
    out.addFilter(lambda r: r.levelno < logging.WARNING)
    err.setLevel(logging.WARNING)
    for h in (out, err):
        h.addFilter(DagsterMessages())
        h.setFormatter(Wrapped())
        logger.addHandler(h)
    return logger


def warning_counts(results: dict[str, Any]) -> Counter[str]:
    """Failed warning-level expectations of a validation report, by expectation id."""
    return Counter(
        o["id"]
        for s in results.get("suites", [])
        for o in s.get("outcomes", [])
        if o.get("status") == "failed" and o.get("severity") != "error"
    )


def warnings_line(counts: Counter[str], limit: int = MAX_LINE) -> str | None:
    """'warnings: suppressed_share ×7, yoy_jumps ×3, …' within `limit` characters (None: none)."""
    if not counts:
        return None
    head = f"  warnings ({sum(counts.values())}, details in validation/report.md): "
    parts = [f"{k} ×{n}" if n > 1 else k for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    shown: list[str] = []
    for i, p in enumerate(parts):
        rest = len(parts) - i - 1
        tail = f", … {rest} more" if rest else ""
        if len(head) + len(", ".join([*shown, p])) + len(tail) > limit:
            return head + ", ".join(shown) + f", … {len(parts) - len(shown)} more"
        shown.append(p)
    return head + ", ".join(shown)


def _report(warehouse: Path, release: Path | None, since: float | None) -> dict[str, Any]:
    """This run's validation report (or, when the run wrote none, the one the release carries)."""
    own = report_dir(warehouse) / "results.json"
    for path in (own, release / "validation" / "results.json" if release else None):
        try:
            if path is None or (path == own and since is not None and path.stat().st_mtime < since):
                continue
            return json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return {}


def partial_line(package: dict[str, Any]) -> str | None:
    """The release's partial-data caveat in one line (None when its inputs are complete)."""
    from pipelines.release.coverage import id_ranges, partial_sources

    partial = [sid for g in partial_sources(package.get("sources", [])) for sid in g["ids"]]
    if not partial:
        return None
    line = (
        f"  PARTIAL DATA: {len(partial)} of {len(package.get('sources', []))} input files are partial "
        f"reconstructions ({id_ranges(partial)}); see notes/coverage.md"
    )
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def summary_lines(warehouse: Path, release: Path | None, *, since: float | None = None) -> list[str]:
    """The lines under the run's result: release page, warnings by name and count, partial data."""
    lines = []
    if release is not None:
        lines.append(f"  page: {release / 'index.html'}")
    warn = warnings_line(warning_counts(_report(warehouse, release, since)))
    if warn:
        lines.append(warn)
    try:
        package = json.loads((release / "datapackage.json").read_text()) if release else {}
    except (OSError, ValueError):
        package = {}
    partial = partial_line(package)
    if partial:
        lines.append(partial)
    return lines
