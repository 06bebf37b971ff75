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


def add_us_file(mirror: Path, year: int, work_dir: Path) -> None:
    """A CBP US (national) file for `year`, the sum over states of the mirror's state file with
    suppressed cells at their imputed employment (rounded up, so no state's share of a national
    industry exceeds 1): the mirror holds no US file; this makes the `us` geography available
    offline. Written under added/, never through mirror_copy's symlinks into the shared mirror."""
    import hashlib

    import polars as pl

    from pipelines.sources import cbp
    from pipelines.staging.cbp import parse_cbp_file
    from tests.helpers.cbp_files import write_zip

    index = json.loads((mirror / "index.json").read_text())
    src = next(e for e in index["entries"] if e["id"] == f"census/cbp/state/{year}")
    states = parse_cbp_file(mirror / src["path"], year=year, source_id="s", sha256="x", location="x", work_dir=work_dir)
    pad = pl.col("industry_code") + pl.col("industry_level").replace_strict({2: "----", 3: "///", 4: "//", 5: "/", 6: ""}, default="")
    nat = (
        states.filter(pl.col("lfo") == "-")
        .group_by("industry_code", "industry_level")
        .agg(pl.col("emp").sum().ceil().cast(pl.Int64), pl.col("payroll").sum(), pl.col("est").sum())
        .with_columns(pl.when(pl.col("industry_level") == 0).then(pl.lit("------")).otherwise(pad).alias("naics"))
        .sort("naics")
        .collect()
    )
    lines = ['"LFO","NAICS","EMPFLAG","EMP_NF","EMP","QP1_NF","QP1","AP_NF","AP","EST"']
    lines += [f'"-","{r["naics"]}","","G",{r["emp"]},"G",0,"G",{r["payroll"]},{r["est"]}' for r in nat.iter_rows(named=True)]
    rel = f"added/cbp{year % 100:02d}us.zip"
    z = write_zip(mirror / rel, f"cbp{year % 100:02d}us.txt", "\n".join(lines) + "\n")
    index["entries"].append({
        "id": f"census/cbp/us/{year}", "url": cbp.url(year, "us"), "path": rel, "bytes": z.stat().st_size,
        "sha256": hashlib.sha256(z.read_bytes()).hexdigest(), "kind": "test-fixture", "note": "sum of the state file",
        "attribution": "test",
    })  # fmt: skip
    (mirror / "index.json").write_text(json.dumps(index, indent=1))
    load_mirror.cache_clear()


def shrink_eurostat(mirror: Path, countries: tuple[str, ...], dataset: str = "sbs_r_nuts06_r2") -> None:
    """Keep only the rows of `countries` (and their regions) in the mirror's Eurostat TSV: the EU
    side of a run in seconds. The genuine rows are kept byte for byte; written under added/."""
    import gzip
    import hashlib

    index = json.loads((mirror / "index.json").read_text())
    entry = next(e for e in index["entries"] if e["id"] == f"eurostat/{dataset}")
    with gzip.open(mirror / entry["path"], "rt") as f:
        lines = f.readlines()
    kept = [lines[0], *(ln for ln in lines[1:] if ln.split("\t", 1)[0].rsplit(",", 1)[-1].startswith(countries))]
    rel = f"added/{dataset}.tsv.gz"
    (mirror / "added").mkdir(exist_ok=True)
    with gzip.GzipFile(mirror / rel, "wb", mtime=0) as gz:
        gz.write("".join(kept).encode())
    data = (mirror / rel).read_bytes()
    entry.update(path=rel, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
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
