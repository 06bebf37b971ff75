"""Issue 20 end to end: `observatory refresh --years … --sources publish` narrower than the latest
release publishes nothing (one line naming what it would drop) unless --allow-narrower."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines import cli
from pipelines.config import Settings
from pipelines.layout import read_latest
from pipelines.raw.mirror import load_mirror
from pipelines.release.versions import list_versions
from tests.helpers.mini_mirror import YEARS, cli_env, mini_mirror


def test_narrower_refresh_is_refused_then_published_with_the_flag(mirror_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    mirror = mini_mirror(mirror_dir, tmp_path / "mirror")
    load_mirror.cache_clear()
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror, cbp_years=YEARS, offline=True, eurostat=False)
    cli_env(monkeypatch, settings, mirror, tmp_path)
    rdir = settings.releases_dir
    try:
        assert cli.main(["run"]) == 0
        full = read_latest(rdir)["version"]
        capsys.readouterr()

        assert cli.main(["refresh", "--years", "2011", "--sources", "publish"]) == 1
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error")]
        assert len(err) == 1 and err[0].startswith(f"error: not published: this release covers less than the latest release {full}"), err
        assert "(it would drop CBP years 2010)" in err[0] and "--allow-narrower" in err[0]
        assert list_versions(rdir) == [full] and read_latest(rdir)["version"] == full

        assert cli.main(["refresh", "--years", "2011", "--sources", "publish", "--allow-narrower"]) == 0
        narrow = read_latest(rdir)["version"]
        assert narrow != full
        assert json.loads((rdir / narrow / "datapackage.json").read_text())["coverage"]["cbp_years"] == [2011]
    finally:
        load_mirror.cache_clear()
