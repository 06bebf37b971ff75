"""Deleting a release: the only way a release folder goes away."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from pipelines.layout import read_latest
from pipelines.release.pages import build_catalog
from pipelines.release.versions import list_versions, point_latest, retire_version, version_key


def delete_release(releases_dir: Path, version: str) -> str | None:
    """The only way a release folder goes away. Renames it out of sight first (atomic), then
    re-points latest (to the newest remaining release) and rebuilds the catalog. Returns the new latest."""
    path = releases_dir / version
    if not version_key(version) or not path.is_dir() or path.is_symlink():
        raise FileNotFoundError(f"no release {version} in {releases_dir}")
    pkg_file = path / "datapackage.json"
    fp = json.loads(pkg_file.read_text()).get("fingerprint", "") if pkg_file.exists() else ""
    retire_version(releases_dir, version, fp)  # first: the name is never reused, even after a crash here
    trash = releases_dir / f".deleted-{version}-{uuid.uuid4().hex[:8]}"
    os.rename(path, trash)
    latest = read_latest(releases_dir)
    remaining = list_versions(releases_dir)
    new_latest = latest.get("version") if latest else None
    if latest is None or latest.get("version") == version or new_latest not in remaining:
        if remaining:
            new_latest = remaining[-1]
            pkg = json.loads((releases_dir / new_latest / "datapackage.json").read_text())
            point_latest(releases_dir, new_latest, pkg.get("fingerprint", ""), pkg.get("created", ""))
        else:
            new_latest = None
            (releases_dir / "latest.json").unlink(missing_ok=True)
            if (releases_dir / "latest").is_symlink():
                (releases_dir / "latest").unlink()
    shutil.rmtree(trash, ignore_errors=True)
    build_catalog(releases_dir)
    return new_latest
