"""CBP parser: every upstream layout, markers, null-not-zero, and clear errors on bad input."""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl
import pytest

from pipelines.errors import SourceError
from pipelines.sources import cbp
from pipelines.staging.cbp import parse_cbp_file
from tests.helpers.cbp_files import COUNTY_2011, COUNTY_2018, MSA_2010, US_2019, write_zip


def _parse(tmp_path: Path, text: str, year: int, member: str = "data.txt") -> pl.DataFrame:
    z = write_zip(tmp_path / "in.zip", member, text)
    cbp.validate_zip(z)
    return parse_cbp_file(
        z, year=year, source_id="test/cbp", sha256="abc", location=str(z), work_dir=tmp_path / "work"
    ).collect()


def test_url_pattern() -> None:
    assert cbp.url(2011, "state") == "https://www2.census.gov/programs-surveys/cbp/datasets/2011/cbp11st.zip"
    assert cbp.url(2005, "county").endswith("/2005/cbp05co.zip")
    assert cbp.url(2019, "us").endswith("/2019/cbp19us.zip")
    with pytest.raises(ValueError):
        cbp.url(2011, "planet")


def test_county_pre2017_layout(tmp_path: Path) -> None:
    df = _parse(tmp_path, COUNTY_2011, 2011)
    assert df.schema["region_code"] == pl.String
    assert set(df["region_code"]) == {"01001", "01003"}
    assert set(df["region_type"]) == {"county"}
    assert df["classification"].unique().to_list() == ["NAICS2007"]
    total = df.filter((pl.col("region_code") == "01001") & (pl.col("industry_code") == "TOTAL")).row(0, named=True)
    assert total["industry_level"] == 0 and total["emp"] == 10454 and total["qp1"] == 75538
    sub = df.filter(pl.col("industry_code") == "336").row(0, named=True)
    assert sub["industry_level"] == 3 and sub["payroll"] == 50000
    suppressed = df.filter((pl.col("region_code") == "01001") & (pl.col("industry_code") == "336411")).row(0, named=True)
    # Null is not zero: a suppressed cell has no reported employment or payroll, and an imputed midpoint.
    assert suppressed["emp_reported"] is None
    assert suppressed["payroll"] is None
    assert suppressed["empflag"] == "A"
    assert suppressed["emp"] == 10.0 and suppressed["emp_imputed"] is True
    c = df.filter((pl.col("region_code") == "01003") & (pl.col("industry_code") == "336411")).row(0, named=True)
    assert c["emp"] == 175.0
    assert df["lfo"].unique().to_list() == ["-"]


def test_county_2017_noise_layout_lowercase(tmp_path: Path) -> None:
    df = _parse(tmp_path, COUNTY_2018, 2018)
    assert df["classification"].unique().to_list() == ["NAICS2017"]
    noisy = df.filter((pl.col("region_code") == "01001") & (pl.col("industry_code") == "336411")).row(0, named=True)
    assert noisy["emp_reported"] == 15 and noisy["emp_nf"] == "J" and noisy["empflag"] is None
    withheld = df.filter(pl.col("industry_code") == "336412").row(0, named=True)
    assert withheld["emp_reported"] is None and withheld["emp"] is None and withheld["payroll"] is None
    assert withheld["emp_nf"] == "D"
    assert df.filter(pl.col("region_code") == "06037")["emp"].to_list() == [25000.0]


def test_msa_layout(tmp_path: Path) -> None:
    df = _parse(tmp_path, MSA_2010, 2010)
    assert set(df["region_type"]) == {"msa"} and set(df["region_code"]) == {"10180"}
    row = df.filter(pl.col("industry_code") == "336411").row(0, named=True)
    assert row["emp"] == 60.0 and row["emp_reported"] is None


def test_us_layout_keeps_lfo_and_all_sizes_only(tmp_path: Path) -> None:
    df = _parse(tmp_path, US_2019, 2019)
    assert set(df["region_type"]) == {"country"} and set(df["region_code"]) == {"US"}
    assert df.height == 3  # size-class rows dropped, LFO "C" kept
    assert sorted(df.filter(pl.col("industry_code") == "336411")["lfo"].to_list()) == ["-", "C"]


def test_mirror_state_file_2000(mirror_dir: Path, tmp_path: Path) -> None:
    z = mirror_dir / "www2.census.gov/programs-surveys/cbp/datasets/2000/cbp00st.zip"
    df = parse_cbp_file(z, year=2000, source_id="census/cbp/state/2000", sha256="x", location=str(z), work_dir=tmp_path).collect()
    assert df["classification"].unique().to_list() == ["NAICS1997"]
    assert df["region_code"].str.len_chars().unique().to_list() == [2]
    al = df.filter((pl.col("region_code") == "01") & (pl.col("industry_code") == "TOTAL")).row(0, named=True)
    assert al["emp"] == 1653074 and al["payroll"] == 43957816 and al["est"] == 99817
    # "113---" style padding is normalised like "336///".
    assert df.filter(pl.col("industry_code") == "113").height > 0
    # Suppressed cells keep their flag and never count as reported zeros.
    sup = df.filter(pl.col("empflag").is_not_null())
    assert sup.height > 1000 and sup["emp_reported"].null_count() == sup.height


def test_malformed_rows_are_rejected_with_line_numbers(tmp_path: Path) -> None:
    bad = COUNTY_2011.replace('"01","003","336411","C","",0', '"01","003","336411","Q","",-5')
    with pytest.raises(SourceError) as err:
        _parse(tmp_path, bad, 2011)
    msg = str(err.value)
    assert "test/cbp" in msg and "malformed" in msg
    assert "unknown EMPFLAG" in msg and "non-numeric or negative emp" in msg
    assert "7" in msg  # the offending line number


def test_unknown_layout_is_rejected(tmp_path: Path) -> None:
    renamed = COUNTY_2011.replace('"EMP",', '"EMPLOYEES",', 1)
    with pytest.raises(SourceError, match=r"unknown CBP column layout.*emp"):
        _parse(tmp_path, renamed, 2011)


def test_html_page_and_corrupt_zip_are_rejected(tmp_path: Path) -> None:
    html = tmp_path / "err.zip"
    html.write_bytes(b"<!DOCTYPE html><html><body>Service unavailable</body></html>")
    with pytest.raises(ValueError, match="not a zip"):
        cbp.validate_zip(html)
    z = write_zip(tmp_path / "ok.zip", "data.txt", COUNTY_2011 * 50)
    truncated = tmp_path / "trunc.zip"
    truncated.write_bytes(z.read_bytes()[: z.stat().st_size // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        cbp.validate_zip(truncated)


def test_padded_cells_are_stripped_and_unpadded_files_skip_the_strip(tmp_path: Path) -> None:
    plain = _parse(tmp_path / "plain", COUNTY_2011, 2011)
    # Same file with whitespace around ids, flags and counts (some old extracts pad cells).
    padded_text = (
        COUNTY_2011.replace('"01","001"', '" 01 ","001 "')
        .replace(',"G",10454,', ',"G ",\t10454 ,')
        .replace('"336411","C",', '" 336411","C ",')
    )
    assert padded_text != COUNTY_2011
    z = write_zip(tmp_path / "padded.zip", "data.txt", padded_text)
    member = cbp.extract_member(z, tmp_path / "x", "test")
    assert cbp.has_padding(member)
    assert not cbp.has_padding(cbp.extract_member(write_zip(tmp_path / "p.zip", "d.txt", COUNTY_2011), tmp_path / "y", "t"))
    padded = _parse(tmp_path / "pad", padded_text, 2011)
    assert padded.equals(plain)


def test_corrupt_member_is_named(tmp_path: Path) -> None:
    z = write_zip(tmp_path / "in.zip", "data.txt", COUNTY_2011 * 20)
    assert cbp.extract_member(z, tmp_path / "ok", "test/cbp").read_text() == COUNTY_2011 * 20
    raw = bytearray(z.read_bytes())
    raw[60] ^= 0xFF  # a flipped byte inside the compressed data
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(raw))
    with pytest.raises(SourceError, match=r"test/cbp.*(corrupt|CRC)"):
        cbp.extract_member(bad, tmp_path / "x", "test/cbp")


def test_non_utf8_byte_in_an_unused_cell_is_read(tmp_path: Path) -> None:
    """An all-ASCII file is decoded strictly (faster); a file with a stray latin-1 byte falls back
    to lossy decoding instead of failing, and yields the same rows as the clean file."""
    clean = _parse(tmp_path / "a", COUNTY_2011, 2011)
    raw = COUNTY_2011.encode().replace(b'"63","003"', b'"63","0\xe93"', 1)  # CENCTY, not a used column
    z = tmp_path / "b" / "in.zip"
    z.parent.mkdir(parents=True)
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.txt", raw)
    ascii_zip = write_zip(tmp_path / "c" / "in.zip", "data.txt", COUNTY_2011)
    assert cbp.text_stats(cbp.extract_member(ascii_zip, tmp_path / "mc", "test/cbp")).ascii is True
    assert cbp.text_stats(cbp.extract_member(z, tmp_path / "mb", "test/cbp")).ascii is False
    df = parse_cbp_file(z, year=2011, source_id="test/cbp", sha256="abc", location=str(z), work_dir=tmp_path / "w").collect()
    assert df.equals(clean)
