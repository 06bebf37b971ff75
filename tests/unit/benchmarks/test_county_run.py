"""The county benchmark stage serves the benchmark's county files through a mirror overlay: the
pipeline's own mirror lookup finds each one by its upstream URL, sha256 included, beside every
file of the real mirror."""

from __future__ import annotations

from pathlib import Path

from benchmarks import county_run, generate
from benchmarks.run import step_times
from pipelines.raw.archive import sha256_file
from pipelines.raw.mirror import Mirror
from pipelines.sources import cbp


def test_overlay_serves_the_county_files_by_upstream_url(tmp_path: Path, mirror_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("OBSERVATORY_MIRROR", str(mirror_dir))
    data = tmp_path / "data"
    generate.generate(data, [2016, 2017], seed=3, counties=20, jobs=1, mirror=mirror_dir, log=lambda _: None)
    env = county_run.county_env(data, tmp_path / "run", [2017])
    assert env["OBSERVATORY_CBP_GEOS"] == "county" and env["OBSERVATORY_CBP_YEARS"] == "2017"
    overlay = Mirror(Path(env["OBSERVATORY_MIRROR"]))
    real = Mirror(mirror_dir)
    by_url = {e.url: e for e in overlay.entries if e.url}
    entry = by_url[cbp.url(2017, "county")]
    assert entry.id == cbp.source_id(2017, "county") and entry.path.is_file()
    assert sha256_file(entry.path) == entry.sha256
    assert cbp.url(2016, "county") not in by_url  # only the years asked for
    assert {e.id for e in real.entries} < {e.id for e in overlay.entries}
    assert all(e.path.exists() for e in overlay.entries)


def test_step_times_read_dagster_durations_of_every_form() -> None:
    log = "\n".join(
        f'... - STEP_SUCCESS - Finished execution of step "{name}" in {took}.'
        for name, took in (("release", "1m49s"), ("us_indicators", "33.94s"), ("us_reference", "708ms"), ("slow", "2m"))
    )
    assert step_times(log) == [("slow", 120.0), ("release", 109.0), ("us_indicators", 33.94), ("us_reference", 0.708)]
