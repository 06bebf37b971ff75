"""One error type for bad external input, so every failure names its source and location."""

from __future__ import annotations


class SourceError(RuntimeError):
    """A source could not be fetched or parsed; the message names source, URL/file and rows."""

    def __init__(self, source_id: str, location: str, problem: str, rows: str | None = None):
        self.source_id = source_id
        self.location = location
        self.problem = problem
        self.rows = rows
        msg = f"[{source_id}] {problem} (at {location})"
        if rows:
            msg += f"\noffending rows:\n{rows}"
        super().__init__(msg)
