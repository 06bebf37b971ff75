"""Issue 15, data that silently disappears: rows or years that would vanish or turn into nulls.

Every case ends in a SourceError naming source, file and rows (or a correct staging), and the
last good staging is untouched.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.errors import SourceError
from pipelines.sources import cbp
from pipelines.staging.cbp import parse_cbp_file
from tests.helpers.cbp_files import COUNTY_2011, US_2019, write_zip

SID = "census/cbp/state/2011"
URL = "https://www2.census.gov/programs-surveys/cbp/datasets/2011/cbp11st.zip"
# The mirror's state layout: 9 fields, every one of them parsed.
STATE = (
    '"FIPSTATE","NAICS","LFO","EMPFLAG","EMP_NF","EMP","AP_NF","AP","EST"\n'
    '"01","------","-","","G",1000,"G",40000,90\n'
    '"01","336411","-","","G",250,"G",9000,3\n'
    '"02","------","-","","G",700,"G",30000,50\n'
)


def _parse(tmp_path: Path, text: str, member: str = "cbp11st.txt", year: int = 2011) -> pl.DataFrame:
    z = write_zip(tmp_path / "cbp11st.zip", member, text)
    return parse_cbp_file(
        z, year=year, source_id=SID, sha256="0" * 64, location=URL, work_dir=tmp_path / "work"
    ).collect()


def _error(tmp_path: Path, text: str, member: str = "cbp11st.txt", year: int = 2011) -> str:
    with pytest.raises(SourceError) as err:
        _parse(tmp_path, text, member, year)
    msg = str(err.value)
    assert SID in msg and URL in msg and member in msg, msg  # source, URL and file named
    return msg


def test_short_row_is_malformed_not_withheld(tmp_path: Path) -> None:
    """4 of 9 fields: Polars would read EMP…EST as nulls, i.e. withheld cells."""
    short = STATE.replace('"02","------","-","","G",700,"G",30000,50', '"02","------","-",""')
    msg = _error(tmp_path, short)
    assert "line 4: 4 of 9 fields" in msg and '"02","------"' in msg
    assert "too few or too many fields" in msg


def test_long_row_with_every_column_parsed(tmp_path: Path) -> None:
    """Polars' own error ('found more fields than defined in Schema') becomes a named one."""
    long = STATE.replace('"G",9000,3\n', '"G",9000,3,7\n')
    msg = _error(tmp_path, long)
    assert "line 3: 10 of 9 fields" in msg
    assert "Schema" not in msg


def test_long_row_in_columns_never_parsed(tmp_path: Path) -> None:
    """A county file's size-class columns are not parsed: an extra field there shifted every
    later cell and went unnoticed."""
    long = COUNTY_2011.replace('"01","001","336412","","G",900,', '"01","001","336412","","G",900,0,')
    msg = _error(tmp_path, long)
    assert "line 5: 27 of 26 fields" in msg


def test_short_row_in_a_size_class_file(tmp_path: Path) -> None:
    short = US_2019.replace('"336411","C","001","G",170000,"G",3800000,"G",16000000,200', '"336411","C","001","G",170000')
    msg = _error(tmp_path, short)
    assert "line 5: 5 of 10 fields" in msg


def test_rows_that_only_look_ragged_are_accepted(tmp_path: Path) -> None:
    """A quoted comma and an empty last cell change the cheap counts; the exact check passes them."""
    text = STATE.replace('"EST"\n', '"EST","NOTE"\n').replace(",90\n", ',90,"a, b"\n').replace(",3\n", ",3,\n")
    text = text.replace(",50\n", ',50,"x"\n')
    df = _parse(tmp_path, text)
    assert df.height == 3 and df["emp"].null_count() == 0


def test_empty_member_names_source_and_file(tmp_path: Path) -> None:
    msg = _error(tmp_path, "")
    assert "empty data file (0 bytes)" in msg and "empty CSV" not in msg


def test_header_only_member_is_an_error(tmp_path: Path) -> None:
    msg = _error(tmp_path, STATE.split("\n", 1)[0] + "\n")
    assert "no data rows" in msg


def test_good_file_passes_the_cheap_check_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The happy path never reads the lines a second time."""

    def fail(*a, **k):
        raise AssertionError("exact line check ran on a well-formed file")

    monkeypatch.setattr(cbp, "ragged_lines", fail)
    assert _parse(tmp_path, STATE).height == 3
    assert _parse(tmp_path / "c", COUNTY_2011.replace("\n", "\r\n")).height == 6


def test_short_and_long_rows_that_cancel_out(tmp_path: Path) -> None:
    """One field missing here, one too many there (in columns never parsed): the comma total is
    right, the rows are not."""
    text = COUNTY_2011.replace('"01","001","336412","","G",900,', '"01","001","336412","","G",900,0,')
    text = text.replace(',"63","003"\n', ',"63"\n', 1)
    msg = _error(tmp_path, text)
    assert "line 5: 27 of 26 fields" in msg and "line 6: 25 of 26 fields" in msg


# --- Eurostat TSV -------------------------------------------------------------------------------

ESID, EURL = "eurostat/sbs_r_nuts06_r2", "https://example.test/sbs_r_nuts06_r2.tsv"
TSV = "nace_r2,indic_sb,geo\\time\t2015\t2014\t2013\nC,V11210,DE1\t12 p\t12\t: c\nC,V11210,DE2\t5\t4\t3\n"


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        (lambda t: t.replace("\t12\t: c\n", "\n"), "line 2: 2 of 4 fields"),  # two cells missing
        (lambda t: t.replace("\t4\t3\n", "\t4\t3\t2\n"), "line 3: 5 of 4 fields"),  # one cell too many
    ],
    ids=["missing-cells", "extra-cell"],
)
def test_eurostat_row_with_missing_or_extra_cells(tmp_path: Path, edit, line: str) -> None:
    from pipelines.sources import eurostat

    p = tmp_path / "sbs.tsv"
    p.write_text(edit(TSV))
    with pytest.raises(SourceError) as err:
        eurostat.parse_tsv(p, ESID, EURL).collect()
    msg = str(err.value)
    assert ESID in msg and EURL in msg and "sbs.tsv" in msg and line in msg, msg


def test_eurostat_withheld_cells_stay_null_and_good_rows_parse(tmp_path: Path) -> None:
    from pipelines.sources import eurostat

    p = tmp_path / "sbs.tsv"
    p.write_text(TSV + "\n")  # a trailing blank line is not a row
    df = eurostat.parse_tsv(p, ESID, EURL).collect()
    assert df.height == 6 and df["value"].null_count() == 1
    assert df.filter(pl.col("value").is_null())["flags"].to_list() == ["c"]


def test_eurostat_row_without_key_is_malformed(tmp_path: Path) -> None:
    from pipelines.sources import eurostat

    p = tmp_path / "sbs.tsv"
    p.write_text(TSV + "\t1\t2\t3\n")
    with pytest.raises(SourceError, match="malformed TSV") as err:
        eurostat.parse_tsv(p, ESID, EURL).collect()
    assert "4" in str(err.value)  # its line


def test_quarantine_and_errors_give_the_file_line_in_size_class_files(tmp_path: Path) -> None:
    """US files carry employment-size rows that are dropped before the row rules: the line
    reported must still be the row's line in the file, not its position among the kept rows."""
    text = US_2019.replace('"336411","C","001","G",170000', '"336411","C","001","G",-5')
    q = tmp_path / "q.parquet"
    z = write_zip(tmp_path / "cbp19us.zip", "cbp19us.txt", text)
    parse_cbp_file(z, year=2019, source_id="census/cbp/us/2019", sha256="0" * 64, location=URL,
                   work_dir=tmp_path / "w", quarantine=q).collect()  # fmt: skip
    held = pl.read_parquet(q)
    assert held["line"].to_list() == [5] and held["reason"].to_list() == ["negative emp"]
    bad = US_2019.replace('"336411","C","001","G",170000', '"336411","C","001","G",1x0')
    msg = _error(tmp_path / "b", bad, member="cbp19us.txt", year=2019)
    assert "line 5:" in msg, msg
