"""The shrink check's parameters (the previous release's rows and employment per year × level)
are part of the completeness suites' cache key: the same release must give the same numbers to
the last bit, whatever order its rows were written in, or an unchanged run re-validates."""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl

from pipelines.config import Settings
from pipelines.layout import LATEST_POINTER
from pipelines.validation.gate import completeness_params


def _params(tmp_path: Path, df: pl.DataFrame, name: str) -> dict:
    settings = Settings(warehouse=tmp_path / name, cbp_years=[2011], cbp_geos=["state"], offline=True)
    data = settings.releases_dir / "v1" / "data"
    data.mkdir(parents=True)
    df.write_parquet(data / "industry_employment.parquet")
    (settings.releases_dir / LATEST_POINTER).write_text(json.dumps({"version": "v1", "path": "v1"}))
    return completeness_params(settings)


def test_previous_employment_does_not_depend_on_row_order(tmp_path: Path) -> None:
    rng = random.Random(7)
    # employment over many magnitudes: a float sum in another order differs in the last bits
    emp = [rng.choice([1e-3, 1.0, 1e3, 1e9]) * rng.random() for _ in range(200_000)]
    df = pl.DataFrame({"year": [2011] * len(emp), "region_type": ["state"] * len(emp), "emp": emp})
    a = _params(tmp_path, df, "a")
    b = _params(tmp_path, df.sample(fraction=1.0, shuffle=True, seed=1), "b")
    assert a["prev_emp"] == b["prev_emp"] and a["prev_rows"] == b["prev_rows"] == [len(emp)]
