"""Issue 13: long steps of `observatory run` show progress, one line each (indicator families
per table, release per table; Eurostat per dataset when EU is on) through pipelines.* logging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.raw.mirror import load_mirror
from tests.helpers.mini_mirror import YEARS, cli_env, mini_mirror


@pytest.fixture
def mini(mirror_dir: Path, tmp_path: Path):
    mirror = mini_mirror(mirror_dir, tmp_path / "mirror")
    load_mirror.cache_clear()
    yield mirror, Settings(warehouse=tmp_path / "wh", mirror=mirror, cbp_years=YEARS, offline=True, eurostat=False)
    load_mirror.cache_clear()


def test_run_shows_progress_per_family_and_table(mini, tmp_path: Path, monkeypatch, capsys) -> None:
    """`observatory run` prints one line per indicator family table and per release table, as
    they are built (pipelines.* INFO logging), with the row counts the release records."""
    from pipelines import cli
    from pipelines.warehouse.families import FAMILY_TABLES

    mirror, settings = mini
    cli_env(monkeypatch, settings, mirror, tmp_path)
    capsys.readouterr()
    assert cli.main(["run"]) == 0
    out = capsys.readouterr().out.splitlines()
    version = json.loads((settings.releases_dir / "latest.json").read_text())["version"]
    pkg = json.loads((settings.releases_dir / version / "datapackage.json").read_text())
    tables = {Path(r["path"]).stem: r["rows"] for r in pkg["resources"] if r.get("format") == "parquet"}
    shown = [ln.strip() for ln in out if ln.strip().startswith(f"release {version}: ")]
    assert sorted(shown) == sorted(f"release {version}: {t} {n:,} rows" for t, n in tables.items()), out
    assert any(
        ln.startswith(f"published release {version} at ") and ln.endswith(f": {len(tables)} tables, {sum(tables.values()):,} rows")
        for ln in out
    ), out
    families = [ln.strip().split(":")[0] for ln in out if ln.strip().startswith("family ")]
    assert sorted(families) == sorted(f"family {t}" for t in FAMILY_TABLES), out
