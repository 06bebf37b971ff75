"""A published release's integrity: every byte against its SHA256SUMS and datapackage.json hashes."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.raw.archive import sha256_file


def verify_release(path: Path) -> list[str]:
    """Re-check every sha256 in SHA256SUMS (and every resource hash in datapackage.json);
    returns the problems found (empty when intact)."""
    problems = []
    sums = path / "SHA256SUMS"
    if not sums.exists():
        return [f"{sums} missing"]
    listed: dict[str, str] = {}  # path -> actual sha256
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        digest, rel = line.split("  ", 1)
        f = path / rel
        if not f.exists():
            problems.append(f"{rel}: missing")
            continue
        listed[rel] = sha256_file(f)
        if listed[rel] != digest:
            problems.append(f"{rel}: sha256 mismatch")
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).as_posix()
        if p.is_file() and p.name != "SHA256SUMS" and rel not in listed:
            problems.append(f"{rel}: not listed in SHA256SUMS")
    pkg_path = path / "datapackage.json"
    if pkg_path.exists() and "datapackage.json: sha256 mismatch" not in problems:
        for r in json.loads(pkg_path.read_text()).get("resources", []):
            f = path / r["path"]
            want = str(r.get("hash", "")).removeprefix("sha256:")
            actual = listed.get(r["path"]) or (sha256_file(f) if f.exists() else None)
            if want and actual and actual != want and f"{r['path']}: sha256 mismatch" not in problems:
                problems.append(f"{r['path']}: sha256 differs from datapackage.json")
    return problems
