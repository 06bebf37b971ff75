"""Release version names and the latest pointer: calendar versions (vYYYY.MM.DD, .2, …), the list
of published releases, retired names (never given out again) and moving latest/ + latest.json."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for calendar versions: v2026.01.02 < v2026.01.02.2 < v2026.01.02.10."""
    try:
        return tuple(int(x) for x in version.lstrip("v").split("."))
    except ValueError:
        return ()


def list_versions(releases_dir: Path) -> list[str]:
    """Published (complete) releases, oldest first; temp folders are never listed."""
    if not releases_dir.is_dir():
        return []
    found = [
        p.name for p in releases_dir.glob("v*")
        if p.is_dir() and not p.is_symlink() and version_key(p.name) and (p / "datapackage.json").exists()
    ]
    return sorted(found, key=version_key)


RETIRED_DIR = ".retired"  # one marker per deleted version: its name is never given out again


def _taken(releases_dir: Path, version: str) -> bool:
    return (releases_dir / version).exists() or (releases_dir / RETIRED_DIR / version).exists()


def retire_version(releases_dir: Path, version: str, fingerprint: str = "") -> None:
    """Record that `version` was used (called before a release is deleted): a later release with
    other content never reuses its name, so a citation of it never points at different data."""
    d = releases_dir / RETIRED_DIR
    d.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (d / version).write_text(json.dumps({"version": version, "fingerprint": fingerprint, "deleted": stamp}) + "\n")


def next_version(releases_dir: Path, today: datetime | None = None) -> str:
    """vYYYY.MM.DD, then .2, .3 … the same day; never a name in use or retired by a delete."""
    day = (today or datetime.now(UTC)).strftime("v%Y.%m.%d")
    if not _taken(releases_dir, day):
        return day
    n = 2
    while _taken(releases_dir, f"{day}.{n}"):
        n += 1
    return f"{day}.{n}"


def point_latest(releases_dir: Path, version: str, fingerprint: str, created: str) -> None:
    """Move the latest/ link, then latest.json (each an atomic rename)."""
    link = releases_dir / "latest"
    if not link.exists() or link.is_symlink():
        tmp_link = releases_dir / f".latest-link-{uuid.uuid4().hex[:8]}"
        os.symlink(version, tmp_link, target_is_directory=True)
        os.replace(tmp_link, link)
    write_latest(releases_dir, version, fingerprint, created)


def write_latest(releases_dir: Path, version: str, fingerprint: str, created: str) -> None:
    """Replace latest.json (version, path, fingerprint, created) in one atomic rename."""
    tmp = releases_dir / f".latest-{uuid.uuid4().hex[:8]}.json"
    tmp.write_text(
        json.dumps({"version": version, "path": version, "fingerprint": fingerprint, "created": created}, indent=2)
        + "\n"
    )
    os.replace(tmp, releases_dir / "latest.json")
