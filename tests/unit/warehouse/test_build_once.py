"""Issue 22: the US indicators and families are computed once per changed input — a second build
with the same staged files, parameters and code keeps the tables; any change rebuilds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.staging.cbp import stage_cbp
from pipelines.staging.reference import stage_reference
from pipelines.warehouse import database, families


class RebuiltError(Exception):
    pass


@pytest.fixture(scope="module")
def staged(tmp_path_factory, mirror_dir: Path) -> Settings:
    s = Settings(
        warehouse=tmp_path_factory.mktemp("b") / "wh", mirror=mirror_dir, cbp_years=(2010, 2011), offline=True,
        eurostat=False, region_groups=None,
    )
    stage_reference(s)
    for y in s.cbp_years:
        stage_cbp(s, y)
    return s


@pytest.fixture
def built(staged: Settings) -> tuple[Settings, dict[str, int]]:
    """A complete build (rebuilt when an earlier test left it changed)."""
    return staged, database.build_us_indicators(staged)


def _no_rebuild(monkeypatch) -> None:
    def boom(*_a, **_k):
        raise RebuiltError
    monkeypatch.setattr(families, "build_families", boom)


def test_unchanged_inputs_keep_the_tables(built, monkeypatch) -> None:
    s, counts = built
    _no_rebuild(monkeypatch)
    assert database.build_us_indicators(s) == counts
    assert counts["cluster_indicators"] > 0 and counts["shift_share"] > 0 and counts["cluster_links"] > 0


def test_changed_parameter_rebuilds(built, monkeypatch) -> None:
    s, _ = built
    _no_rebuild(monkeypatch)
    with pytest.raises(RebuiltError):
        database.build_us_indicators(s, {"strong_lq_pct": 0.8})


def test_changed_setting_rebuilds(built, monkeypatch) -> None:
    s, _ = built
    _no_rebuild(monkeypatch)
    with pytest.raises(RebuiltError):
        database.build_us_indicators(dataclasses.replace(s, max_shrink=0.5))


def test_changed_staged_file_rebuilds(built, monkeypatch, tmp_path: Path) -> None:
    s, _ = built
    path = s.staging_dir / "cbp" / "state" / "year=2011.parquet"
    saved = path.read_bytes()
    df = pl.read_parquet(path)
    _no_rebuild(monkeypatch)
    try:  # one employment cell differs
        df.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.col("emp") + 1).otherwise(pl.col("emp")).alias("emp")).write_parquet(path)
        with pytest.raises(RebuiltError):
            database.build_us_indicators(s)
    finally:
        path.write_bytes(saved)


def test_edited_table_rebuilds(built, monkeypatch) -> None:
    s, counts = built
    with database.connect(s) as con:
        con.execute("UPDATE cluster_indicators SET lq = lq WHERE false")  # no change: still kept
    _no_rebuild(monkeypatch)
    assert database.build_us_indicators(s) == counts
    with database.connect(s) as con:
        con.execute("UPDATE cluster_indicators SET lq = -1 WHERE region_code = '06'")
    with pytest.raises(RebuiltError):
        database.build_us_indicators(s)
    monkeypatch.undo()
    assert database.build_us_indicators(s) == counts  # rebuilt from the staged files
    with database.connect(s, read_only=True) as con:
        assert con.execute("SELECT min(lq) FROM cluster_indicators WHERE region_code = '06'").fetchall()[0][0] >= 0
