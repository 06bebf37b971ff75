"""Fingerprint of the code, rules and lock file: staging caches and releases key on it (core, so any stage may use it)."""

from __future__ import annotations

import hashlib
from functools import cache

from pipelines.config import ASSETS_DIR, PROJECT_ROOT, SQL_DIR


@cache
def code_fingerprint() -> str:
    """Hash of the code, rules and lock file that shape a release (independent of git)."""
    h = hashlib.sha256()
    roots = [PROJECT_ROOT / "pipelines", SQL_DIR, ASSETS_DIR]
    files = sorted(
        p for r in roots if r.exists() for p in r.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in {".py", ".sql", ".yaml", ".yml", ".json", ".csv", ".md", ".html", ".js", ".css"}
    )
    lock = PROJECT_ROOT / "uv.lock"
    for p in [*files, lock] if lock.exists() else files:
        h.update(str(p.relative_to(PROJECT_ROOT)).encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()
