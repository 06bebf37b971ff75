"""Issue 20, bounded inputs: the CBP file behind the NACE concordance's US weights, and the reference
workbooks (xlsx: zips), are checked and inflated within the run's decompression limits (OBSERVATORY_MAX_UNCOMPRESSED,
OBSERVATORY_MAX_COMPRESSION_RATIO), not the defaults, and fails in one line naming source, file
and limit."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.sources import cbp
from pipelines.staging.nace_concordance import (
    REFERENCE_IDS,
    WEIGHT_YEAR,
    cbp_weight_employment,
    fetch_reference,
)

SID = f"census/cbp/state/{WEIGHT_YEAR}"
NO_RATIO = 1e9  # a ratio limit that never trips, to test the size limit alone


def _member(mirror_dir: Path) -> tuple[Path, zipfile.ZipInfo]:
    z = mirror_dir / f"www2.census.gov/programs-surveys/cbp/datasets/{WEIGHT_YEAR}/cbp{WEIGHT_YEAR % 100:02d}st.zip"
    return z, zipfile.ZipFile(z).infolist()[0]


def _error(settings: Settings) -> str:
    with pytest.raises(SourceError) as err:
        cbp_weight_employment(settings, WEIGHT_YEAR, None)
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


def test_weight_file_is_checked_within_the_run_size_limit(settings: Settings, mirror_dir: Path) -> None:
    z, info = _member(mirror_dir)
    at = dataclasses.replace(settings, max_uncompressed=info.file_size, max_compression_ratio=NO_RATIO)
    emp = cbp_weight_employment(at, WEIGHT_YEAR, None)  # exactly the member's size: passes
    assert emp.height > 900 and emp["emp"].sum() > 1e8  # US employment 2011, ~112 million
    over = dataclasses.replace(at, warehouse=settings.warehouse.with_name("w2"), max_uncompressed=info.file_size - 1)
    msg = _error(over)
    assert SID in msg and str(z) in msg and info.filename in msg, msg
    assert "OBSERVATORY_MAX_UNCOMPRESSED" in msg and "invalid content" in msg, msg


def test_weight_file_is_checked_within_the_run_ratio_limit(settings: Settings, mirror_dir: Path) -> None:
    z, info = _member(mirror_dir)
    ratio = info.file_size / info.compress_size  # ~5.2
    msg = _error(dataclasses.replace(settings, max_compression_ratio=ratio * 0.99))
    assert SID in msg and str(z) in msg and "OBSERVATORY_MAX_COMPRESSION_RATIO" in msg, msg


def test_weight_file_inflates_within_the_run_limits(settings: Settings, mirror_dir: Path, monkeypatch) -> None:
    """The second line of defence: were the download check passed (a member that lies about its
    size passes it), the inflating itself stops at the run's limit."""
    monkeypatch.setattr(cbp, "validate_zip", lambda path, limits=None: None)
    _, info = _member(mirror_dir)
    msg = _error(dataclasses.replace(settings, max_uncompressed=info.file_size - 1, max_compression_ratio=NO_RATIO))
    assert SID in msg and info.filename in msg and "OBSERVATORY_MAX_UNCOMPRESSED" in msg, msg
    assert "invalid content" not in msg, msg  # from the extraction, not the download check


def _largest(path: Path) -> zipfile.ZipInfo:
    return max(zipfile.ZipFile(path).infolist(), key=lambda i: i.file_size)


def _reference_error(settings: Settings, name: str) -> str:
    with pytest.raises(SourceError) as err:
        fetch_reference(settings, name)
    msg = str(err.value)
    assert "\n" not in msg and REFERENCE_IDS[name] in msg and "invalid content" in msg, msg
    return msg


def test_reference_workbook_within_the_run_size_limit(settings: Settings, mirror_dir: Path) -> None:
    xlsx = mirror_dir / "reference/concordance/census_2012_naics_to_isic4.xlsx"
    big = _largest(xlsx)  # xl/worksheets/sheet1.xml, 416 KB
    at = dataclasses.replace(settings, max_uncompressed=big.file_size)
    assert fetch_reference(at, "naics_isic").sha256  # exactly the largest member: passes
    assert fetch_reference(dataclasses.replace(settings, max_uncompressed=1), "isic_structure").bytes > 1  # a CSV: no zip
    msg = _reference_error(dataclasses.replace(at, max_uncompressed=big.file_size - 1), "naics_isic")
    assert str(xlsx) in msg and big.filename in msg and "OBSERVATORY_MAX_UNCOMPRESSED" in msg, msg


def test_reference_workbook_within_the_run_ratio_limit(settings: Settings, mirror_dir: Path) -> None:
    xlsx = mirror_dir / "reference/eurostat-classifications/nuts2021.xlsx"
    big = _largest(xlsx)  # xl/worksheets/sheet2.xml, 1.16 MB at 7.1x (past the ratio's 1 MiB floor)
    ratio = big.file_size / big.compress_size
    assert fetch_reference(dataclasses.replace(settings, max_compression_ratio=ratio * 1.01), "nuts2021").sha256
    msg = _reference_error(dataclasses.replace(settings, max_compression_ratio=ratio * 0.99), "nuts2021")
    assert str(xlsx) in msg and big.filename in msg and "OBSERVATORY_MAX_COMPRESSION_RATIO" in msg, msg
