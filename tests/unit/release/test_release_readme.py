"""Every release folder has a README.md for researchers: its tables with rows and descriptions,
the coverage caveats, reading snippets that run as written, verification and citation."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from pipelines.release import citation
from pipelines.release.publish import publish_release, verify_release
from pipelines.release.readme import METHOD_REFERENCES
from tests.helpers.release_samples import DAY, complete_table, sample_tables, sources


def _eu_tables() -> dict[str, pl.DataFrame]:
    rng = random.Random(3)
    keys = [(y, cc) for y in (2013, 2014) for cc in ("1", "5")]
    base = {"year": [k[0] for k in keys], "region_type": ["nuts2"] * len(keys), "region_code": ["DE11"] * len(keys),
            "nuts_version": ["2021"] * len(keys), "cluster_code": [k[1] for k in keys], "cluster_type": ["traded"] * len(keys)}  # fmt: skip
    eu = complete_table("eu_cluster_indicators", base, rng)
    names = complete_table("nuts_regions", {"region_code": ["DE11"], "nuts_version": ["2021"], "region_name": ["Stuttgart"]}, rng)
    return {"eu_cluster_indicators": eu, "nuts_regions": names}


def _publish(tmp_path: Path, partial: bool = False) -> Path:
    srcs = sources()
    if partial:
        srcs[0] = {**srcs[0], "mirror_kind": "partial-reconstruction", "note": "Real CBP values, re-packed; some industries are absent."}
    tables = {**sample_tables(), **_eu_tables()}
    r = publish_release(tables, releases_dir=tmp_path / "releases", sources=srcs, params={"p": 1}, today=DAY, csv=False, bundle=True)
    return r.path


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_readme_lists_every_table_with_rows_and_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(citation, "repository_url", lambda: "https://example.org/cluster-observatory")
    rel = _publish(tmp_path)
    text = (rel / "README.md").read_text()
    tables = {p.stem: pl.scan_parquet(p).select(pl.len()).collect().item() for p in (rel / "data").glob("*.parquet")}
    assert set(tables) >= {"cluster_indicators", "eu_cluster_indicators", "nuts_regions"}
    for name, rows in tables.items():
        row = next((ln for ln in text.splitlines() if ln.startswith(f"| `data/{name}.parquet` |")), None)
        assert row is not None, name
        assert f"| {rows:,} |" in row and row.split("|")[3].strip(), row  # rows and a description
    assert "NUTS region names, levels and versions" in text
    assert "README.md" in (rel / "SHA256SUMS").read_text() and verify_release(rel) == []
    assert "Code: https://example.org/cluster-observatory" in text
    for ref in METHOD_REFERENCES:
        assert ref in text
    cff = yaml.safe_load((rel / "CITATION.cff").read_text())
    assert cff["repository-code"] == "https://example.org/cluster-observatory"
    titles = [r["title"] for r in cff["references"]]
    assert {"Defining clusters of related industries", "European Cluster Panorama 2021"} <= set(titles)
    assert any(t.startswith("The European Cluster Observatory") for t in titles)


def test_reading_snippets_run_as_written_in_the_release_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rel = _publish(tmp_path)
    text = (rel / "README.md").read_text()
    monkeypatch.chdir(rel)
    sql = _blocks(text, "sql")
    assert len(sql) == 2
    with duckdb.connect() as con:
        cur = con.execute(sql[0])  # Michigan (26) is not in the sample: the query runs and reads the US table
        assert cur.fetchall() == [] and "lq" in [d[0] for d in cur.description]
        named = con.execute(sql[1]).fetchall()
    assert named and all(r[2] == "Stuttgart" for r in named)
    py = _blocks(text, "python")
    assert len(py) == 2 and "polars" in py[0] and "pandas" in py[1]
    for code in py:
        scope: dict = {}
        exec(compile(code, "README", "exec"), scope)  # the README's own snippet, run as a reader would
        assert scope["df"].shape[0] > 0
    r_code = _blocks(text, "r")
    assert len(r_code) == 1
    for path in re.findall(r"read_parquet\('([^']+)'\)", r_code[0]):
        assert (rel / path).is_file(), path
    if shutil.which("Rscript") and subprocess.run(["Rscript", "-e", "library(arrow)"], capture_output=True).returncode == 0:
        assert subprocess.run(["Rscript", "-e", r_code[0]], capture_output=True, cwd=rel, env=os.environ).returncode == 0


def test_partial_inputs_are_named_in_the_readme(tmp_path: Path) -> None:
    text = (_publish(tmp_path, partial=True) / "README.md").read_text()
    caveats = text.split("## Coverage and caveats", 1)[1].split("## Reading", 1)[0]
    assert "PARTIAL DATA." in caveats and "census/cbp/state/2011" in caveats and "some industries are absent" in caveats
    whole = (_publish(tmp_path / "b") / "README.md").read_text()
    assert "No input file is marked as a partial reconstruction." in whole
