"""The `county` benchmark stage: `observatory run`, cold, at county scale — every step a user
runs (staging, the blocking checks, indicators, families, the release and its page) on the
benchmark's county files, which the offline mirror does not have.

The files are served through a mirror overlay: the real mirror's files (symlinks) plus the
benchmark's county zips under their upstream URLs, so the pipeline fetches them exactly as it
would fetch the Census files (sha256-verified, archived, cited)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchmarks import generate
from pipelines.sources import cbp


def county_mirror(data: Path, dest: Path, years: list[int]) -> Path:
    """`dest`: the real mirror (linked) with the benchmark's county files of `years` added to its index."""
    src = generate.mirror_root()
    dest.mkdir(parents=True, exist_ok=True)
    for entry in src.iterdir():
        link = dest / entry.name
        if entry.name != "index.json" and not link.exists():
            link.symlink_to(entry)
    index = json.loads((src / "index.json").read_text())
    manifest = generate.read_manifest(data) or {}
    files = {int(f["year"]): f for f in manifest.get("files", [])}  # type: ignore[union-attr]
    for year in years:
        rec = files[year]
        path = (data / str(rec["path"])).resolve()
        rel = f"benchmark/county/{year}/{path.name}"
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).unlink(missing_ok=True)
        (dest / rel).symlink_to(path)
        index["entries"].append({
            "id": cbp.source_id(year, "county"), "url": cbp.url(year, "county"), "path": rel,
            "bytes": path.stat().st_size, "sha256": rec["sha256"], "kind": "synthetic",
            "note": f"benchmark county file (benchmarks/generate.py, seed {manifest.get('seed')})",
            "attribution": "synthetic (benchmarks/generate.py)",
        })  # fmt: skip
    (dest / "index.json").write_text(json.dumps(index, indent=1))
    return dest


def county_env(data: Path, base: Path, years: list[int]) -> dict[str, str]:
    """The environment of a cold county run in `base` (warehouse, DAGSTER_HOME, mirror overlay).
    No region groups: the shipped ones include a group of states, which a county-only run
    refuses (its members are not in the data)."""
    return {
        **os.environ,
        "OBSERVATORY_WAREHOUSE": str(base / "warehouse"),
        "DAGSTER_HOME": str(base / "dagster_home"),
        "OBSERVATORY_MIRROR": str(county_mirror(data, base / "mirror", years)),
        "OBSERVATORY_OFFLINE": "1",
        "OBSERVATORY_CBP_GEOS": "county",
        "OBSERVATORY_CBP_YEARS": ",".join(str(y) for y in years),
        "OBSERVATORY_REGION_GROUPS": "",
        "OBSERVATORY_LOG_LEVEL": "DEBUG",  # Dagster's step lines, for the slowest steps
    }


def describe(steps: list[tuple[str, float]]) -> str:
    """The six slowest Dagster steps of a run log (run.step_times), for the results table."""
    return "slowest steps: " + ", ".join(f"{name} {secs:.0f}s" for name, secs in steps[:6])
