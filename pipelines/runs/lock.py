"""The warehouse lock: one build → check → publish sequence at a time per warehouse.

An OS file lock (flock) on <warehouse>/.observatory.lock, re-entrant within a process; the file
names the holder (pid, host, command, since when) for the error a second run gets.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipelines.config import Settings

LOCK_NAME = ".observatory.lock"


class WarehouseBusyError(RuntimeError):
    """Another live process holds the warehouse (build → check → publish is serialised)."""


_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth): re-entrant within a process


def _describe_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return f"another run holds the warehouse ({path})"
    return (
        f"another run holds the warehouse since {info.get('since', '?')} "
        f"(pid {info.get('pid', '?')} on {info.get('host', '?')}: {info.get('what', '?')}); "
        f"wait for it to finish, then run again (lock: {path})"
    )


@contextmanager
def warehouse_lock(settings: Settings, what: str = "observatory") -> Iterator[None]:
    """Hold the warehouse for the whole build → check → publish sequence, or fail at once.

    An OS file lock (flock): the kernel releases it when the holder dies, so a killed run never
    blocks the next one. Re-entrant within one process (the release asset takes it inside a run).
    Raises WarehouseBusyError naming since when, which pid/host and which command hold it.
    """
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    path = settings.warehouse / LOCK_NAME
    key = str(path)
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[key]
            _held[key] = (fd, depth - 1)
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WarehouseBusyError(_describe_holder(path)) from None
    info = {
        "pid": os.getpid(), "host": socket.gethostname(), "what": what,
        "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }  # fmt: skip
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    _held[key] = (fd, 1)
    try:
        yield
    finally:
        del _held[key]
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
