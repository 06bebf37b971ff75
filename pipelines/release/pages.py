"""Write the catalog pages: a release's index.html, and releases/index.html over every release."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.release.catalog import render_catalog_index, render_release_page


def write_release_page(folder: Path, package: Mapping[str, Any]) -> None:
    (folder / "index.html").write_text(render_release_page(folder, package))


def build_catalog(releases_dir: Path) -> Path:
    """releases/index.html: every release, and the latest one in full (charts, tables, downloads)."""
    out = releases_dir / "index.html"
    tmp = releases_dir / f".index-{uuid.uuid4().hex[:8]}.html"
    tmp.write_text(render_catalog_index(releases_dir))
    os.replace(tmp, out)
    return out


def rebuild_release_page(folder: Path) -> Path:
    """Regenerate a published release's index.html from its own files (datapackage.json, data/,
    geometry/) without a pipeline run: for page work and for releases published before a page change."""
    package = json.loads((folder / "datapackage.json").read_text())
    write_release_page(folder, package)
    return folder / "index.html"
