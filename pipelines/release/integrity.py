"""A published release's integrity: every byte against its SHA256SUMS and datapackage.json hashes."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.layout import LATEST_POINTER
from pipelines.raw.archive import sha256_file
from pipelines.release.versions import list_versions, point_latest

# A run verifies the latest release up to five times (start, refresh, both completeness checks,
# publish): a file's digest is computed once per process and reused while its stat signature
# holds. The signature includes ctime, which any write or utime() moves, so a file changed between
# two checks is hashed again.
_DIGESTS: dict[Path, tuple[tuple[int, ...], str]] = {}


def _sha256(f: Path) -> str:
    st = f.stat()
    sig = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    hit = _DIGESTS.get(f)
    if hit is not None and hit[0] == sig:
        return hit[1]
    digest = sha256_file(f)
    _DIGESTS[f] = (sig, digest)
    return digest


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
        listed[rel] = _sha256(f)
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
            actual = listed.get(r["path"]) or (_sha256(f) if f.exists() else None)
            if want and actual and actual != want and f"{r['path']}: sha256 mismatch" not in problems:
                problems.append(f"{r['path']}: sha256 differs from datapackage.json")
    return problems


def heal_latest(releases_dir: Path) -> str | None:
    """Make latest.json name a release that verifies, whatever happened to it (unreadable, missing,
    naming a missing or damaged release): re-point it at the newest release that verifies, or
    remove it when none does (the run then publishes a fresh one). Called at the start of a run,
    before anything compares with the latest release. Returns one line saying what it did and
    why, or None when latest was fine."""
    versions = list_versions(releases_dir)
    problem = _latest_problem(releases_dir, versions)
    if problem is None:
        return None
    skipped: list[str] = []
    for v in reversed(versions):
        bad = verify_release(releases_dir / v)
        if not bad:
            pkg = json.loads((releases_dir / v / "datapackage.json").read_text())
            point_latest(releases_dir, v, pkg.get("fingerprint", ""), pkg.get("created", ""))
            also = f"; skipped {', '.join(skipped)}" if skipped else ""
            return f"latest.json: {problem}; latest is now {v}, the newest release that verifies{also}"
        if f"names {v}," not in problem:  # (the one latest.json named is said already)
            skipped.append(f"{v} ({bad[0]})")
    (releases_dir / LATEST_POINTER).unlink(missing_ok=True)
    if (releases_dir / "latest").is_symlink():
        (releases_dir / "latest").unlink()
    return f"latest.json: {problem}; no release verifies, so none is latest until a run publishes one"


def _latest_problem(releases_dir: Path, versions: list[str]) -> str | None:
    """What is wrong with latest.json (None: it names a published release that verifies)."""
    pointer = releases_dir / LATEST_POINTER
    if not pointer.exists():
        return "missing" if versions else None
    try:
        data = json.loads(pointer.read_text())
    except (OSError, ValueError) as exc:
        return f"unreadable ({exc})"
    named = data.get("version") if isinstance(data, dict) else None
    if not isinstance(named, str) or not named:
        return "names no version"
    if named not in versions:
        return f"names {named}, which is not a published release in {releases_dir}"
    bad = verify_release(releases_dir / named)
    if bad:
        return f"names {named}, which fails verification ({'; '.join(bad[:3])}{' …' if len(bad) > 3 else ''})"
    return None
