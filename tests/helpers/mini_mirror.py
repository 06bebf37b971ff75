"""Editable mirrors for end-to-end runs: a mini copy of the shared mirror (reference files and
two CBP state years), an index-only copy over symlinks, a simulated new CBP year, and the
environment of an `observatory run` on them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from pipelines.config import Settings
from pipelines.raw.mirror import load_mirror

YEARS = (2010, 2011)
KEEP = ("census/cbp/state/2010", "census/cbp/state/2011", "clustermapping/", "naics/")


def mini_mirror(mirror_dir: Path, dest: Path) -> Path:
    """The reference files and two CBP state years of the shared mirror, in a folder we may edit."""
    index = json.loads((mirror_dir / "index.json").read_text())
    index["entries"] = [e for e in index["entries"] if e["id"].startswith(KEEP)]
    for e in index["entries"]:
        (dest / e["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mirror_dir / e["path"], dest / e["path"])
    (dest / "index.json").write_text(json.dumps(index))
    return dest


def cli_env(monkeypatch, settings: Settings, mirror: Path, tmp_path: Path) -> None:
    """Environment of an `observatory run` on the mini mirror: its warehouse, offline, YEARS, no Eurostat, no region groups."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    for k, v in {
        "OBSERVATORY_WAREHOUSE": settings.warehouse, "OBSERVATORY_MIRROR": mirror, "OBSERVATORY_OFFLINE": "1",
        "OBSERVATORY_CBP_YEARS": "2010-2011", "OBSERVATORY_EUROSTAT": "0", "OBSERVATORY_REGION_GROUPS": "",
    }.items():  # fmt: skip
        monkeypatch.setenv(k, str(v))


def mirror_copy(src: Path, dest: Path, drop_years=()) -> Path:
    """Index copy pointing at the shared files (read-only) through absolute symlinks."""
    dest.mkdir(parents=True)
    index = json.loads((src / "index.json").read_text())
    index["entries"] = [e for e in index["entries"] if e["id"] not in {f"census/cbp/state/{y}" for y in drop_years}]
    for top in {e["path"].split("/")[0] for e in index["entries"]}:
        (dest / top).symlink_to(src / top)
    (dest / "index.json").write_text(json.dumps(index, indent=1))
    return dest


def add_year(mirror: Path, year: int, from_year: int) -> None:
    """Simulate the Census Bureau publishing a new CBP year in the mirror."""
    index = json.loads((mirror / "index.json").read_text())
    src = next(e for e in index["entries"] if e["id"] == f"census/cbp/state/{from_year}")
    rel = f"added/cbp{year % 100:02d}st.zip"
    (mirror / "added").mkdir(exist_ok=True)
    shutil.copyfile(mirror / src["path"], mirror / rel)
    index["entries"].append(
        {**src, "id": f"census/cbp/state/{year}", "url": src["url"].replace(str(from_year), str(year)).replace(
            f"cbp{from_year % 100:02d}", f"cbp{year % 100:02d}"), "path": rel}
    )
    (mirror / "index.json").write_text(json.dumps(index, indent=1))
    load_mirror.cache_clear()


def add_generated_file(mirror: Path, source_id: str, url: str, zip_path: Path) -> None:
    """List a generated file (e.g. a county CBP zip from tests/helpers/cbp_files.py) in a mirror copy."""
    rel = f"added/{zip_path.name}"
    (mirror / "added").mkdir(exist_ok=True)
    shutil.copyfile(zip_path, mirror / rel)
    data = (mirror / rel).read_bytes()
    index = json.loads((mirror / "index.json").read_text())
    index["entries"].append({"id": source_id, "url": url, "kind": "upstream-file", "note": "generated for a test",
                             "attribution": "generated", "path": rel, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
    (mirror / "index.json").write_text(json.dumps(index, indent=1))
    load_mirror.cache_clear()
