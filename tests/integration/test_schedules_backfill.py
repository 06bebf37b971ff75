"""`observatory refresh --years … --sources cbp`: a targeted backfill; re-running it is a no-op."""

from pipelines import cli
from pipelines.config import Settings
from pipelines.layout import cbp_staged_path
from pipelines.raw.archive import RawArchive


def test_refresh_cbp_backfill_then_unchanged_rerun(tmp_path, mirror_dir, monkeypatch, capsys):
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("OBSERVATORY_MIRROR", str(mirror_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    settings = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir)
    assert cli.main(["refresh", "--years", "2010-2011", "--sources", "cbp"]) == 0
    assert "1 run(s)" in capsys.readouterr().out  # one single-run backfill over the range
    staged = [cbp_staged_path(settings, y, "state") for y in (2010, 2011)]
    stamps = [p.stat().st_mtime_ns for p in staged]
    manifests = {y: RawArchive(settings.raw_dir).entries(f"census/cbp/state/{y}") for y in (2010, 2011)}
    assert all(len(m) == 1 for m in manifests.values())
    assert not (settings.releases_dir).exists()  # cbp only: nothing published

    assert cli.main(["refresh", "--years", "2010-2011", "--sources", "cbp"]) == 0
    assert [p.stat().st_mtime_ns for p in staged] == stamps  # unchanged input: not re-parsed
    assert {y: RawArchive(settings.raw_dir).entries(f"census/cbp/state/{y}") for y in (2010, 2011)} == manifests
    assert not (settings.releases_dir).exists()

    assert cli.main(["refresh", "--sources", "bogus"]) == 1
    assert "unknown sources" in capsys.readouterr().err
