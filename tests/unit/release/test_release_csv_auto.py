"""Issue 22: `OBSERVATORY_RELEASE_CSV=auto` limits CSV copies by their size, not by row count (a
long narrow table may get one, a short wide one not), estimated without writing the big ones."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.release import parquet
from pipelines.release.parquet import AUTO, estimated_csv_bytes, wants_csv, write_csv


def _files(tmp_path: Path) -> tuple[Path, Path]:
    narrow = tmp_path / "narrow.parquet"  # many rows, a few bytes each
    pl.DataFrame({"year": pl.int_range(30_000, eager=True) % 20 + 2000, "flag": pl.int_range(30_000, eager=True) % 2 == 0}).write_parquet(narrow)
    wide = tmp_path / "wide.parquet"  # few rows, long text and lists
    pl.DataFrame(
        {"note": [f"row {i} " + "x" * 400 for i in range(3_000)], "codes": [[f"DE{i % 90:02d}", "FR10"] for i in range(3_000)]}
    ).write_parquet(wide)
    return narrow, wide


def test_estimate_is_close_to_the_written_csv(tmp_path: Path) -> None:
    for path in _files(tmp_path):
        write_csv(path, tmp_path / f"{path.stem}.csv")
        actual = (tmp_path / f"{path.stem}.csv").stat().st_size
        assert abs(estimated_csv_bytes(path) - actual) <= 0.1 * actual, (path.stem, estimated_csv_bytes(path), actual)


def test_auto_copies_by_size_not_rows(tmp_path: Path, monkeypatch) -> None:
    narrow, wide = _files(tmp_path)
    assert pl.read_parquet(narrow).height > pl.read_parquet(wide).height
    monkeypatch.setattr(parquet, "CSV_AUTO_MAX_BYTES", 500_000)  # narrow ≈ 0.3 MB of CSV, wide ≈ 1.3 MB
    assert wants_csv("narrow", {AUTO}, narrow)
    assert not wants_csv("wide", {AUTO}, wide)
    assert wants_csv("wide", {AUTO, "wide"}, wide)  # named explicitly: always
    assert not wants_csv("narrow", set(), narrow)  # none
