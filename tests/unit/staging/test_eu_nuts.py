"""NUTS versions and recoding to NUTS 2021 (official change sheets + documented pure recodes)."""

from __future__ import annotations

import difflib
import unicodedata

import polars as pl
import pytest

from pipelines.staging import nuts

REF = "reference/eurostat-classifications"


@pytest.fixture(scope="module")
def ref(mirror_dir):
    d = mirror_dir / REF
    return nuts.NutsReference.load(d / "sbs_dsd_nuts.csv", d / "nuts2016_names.csv", d / "nuts2021.xlsx")


def test_workbook_change_sheet(ref):
    ch = ref.changes_2016_2021
    assert ch.filter(pl.col("code_2016") == "HR04")["change"].to_list() == [5]
    assert ch.filter(pl.col("code_2016") == "NO05")["code_2021"].to_list() == ["NO0A"]
    assert "HR02" in ref.codes_2021 and "HR04" not in ref.codes_2021


def test_crosswalk_cases(ref):
    codes = ["AT11", "FR21", "FRA5", "PL12", "PL11", "UKM2", "ITD1", "EL11", "HR04", "NO05", "CZ0", "DE41", "XX99"]
    cw = {r[0]: r[1:] for r in nuts.build_crosswalk(ref, codes).iter_rows()}
    assert cw["AT11"] == ("2013", "AT11", "2021", "unchanged")
    assert cw["FR21"] == ("2013", "FRF2", "2021", "recoded")  # pure recode 2016
    assert cw["FRA5"] == ("2013", "FRY5", "2021", "recoded")
    assert cw["PL11"] == ("2013", "PL71", "2021", "recoded")
    assert cw["ITD1"] == ("2006", "ITH1", "2021", "recoded")  # 2006 code, chained
    assert cw["EL11"] == ("2010", "EL51", "2021", "recoded")
    assert cw["CZ0"] == ("2013", "CZ0", "2021", "renamed")  # 2016->2021 rename
    # split / merged / boundary changes stay in their own version, flagged
    assert cw["PL12"] == ("2013", "PL12", "2013", "split_or_merged")
    assert cw["UKM2"] == ("2013", "UKM2", "2013", "split_or_merged")
    assert cw["DE41"] == ("2006", "DE41", "2006", "split_or_merged")
    assert cw["HR04"] == ("2013", "HR04", "2013", "discontinued")
    assert cw["NO05"] == ("2013", "NO05", "2013", "boundary_change")
    assert cw["XX99"][3] == "unknown"


def test_target_2016(ref):
    cw = {r[0]: r[1:] for r in nuts.build_crosswalk(ref, ["FR21", "HR04"], target="2016").iter_rows()}
    assert cw["FR21"] == ("2013", "FRF2", "2016", "recoded")
    assert cw["HR04"] == ("2013", "HR04", "2016", "unchanged")


def test_nuts2021_dataset_identity(ref):
    cw = nuts.build_crosswalk(ref, ["HR02", "DK01"], source_version="2021")
    assert cw["nuts_change"].to_list() == ["unchanged", "unchanged"]
    assert cw["target_version"].to_list() == ["2021", "2021"]


def _fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()
    s = s.split("(nuts")[0]
    return "".join(ch for ch in s if ch.isalnum())


def test_pure_recodes_keep_their_names(ref, mirror_dir):
    """Every documented pre-2016 pure recode joins two codes with the same region name."""
    n16 = pl.read_csv(mirror_dir / REF / "nuts2016_names.csv", separator=";", infer_schema=False)
    names = dict(zip(n16[n16.columns[0]], n16[n16.columns[1]], strict=True))
    names.update(dict(zip(ref.sbs_codes["code"], ref.sbs_codes["label"], strict=True)))
    old = dict(zip(ref.sbs_codes["code"], ref.sbs_codes["label"], strict=True))
    checked = 0
    for src, (dst, _) in nuts.PURE_RECODES_PRE2016.items():
        if src.startswith("EL") or src in {"FR24", "FR30", "FRA"}:
            continue  # Greek script / renamed at the recode (Centre -> Centre-Val de Loire)
        a, b = _fold(old[src]), _fold(names[dst])
        assert difflib.SequenceMatcher(None, a, b).ratio() > 0.8, (src, old[src], dst, names[dst])
        checked += 1
    assert checked > 35


def test_recode_frame_never_mixes(ref):
    cw = nuts.build_crosswalk(ref, ["FR21", "PL12"])
    lf = pl.LazyFrame({"region_code": ["FR21", "PL12", "ZZ1"], "emp": [1.0, 2.0, 3.0]})
    out = nuts.recode(lf, cw).collect().sort("emp")
    assert out["region_code"].to_list() == ["FRF2", "PL12", "ZZ1"]
    assert out["nuts_version"].to_list() == ["2021", "2013", None]
    assert out["nuts_change"].to_list() == ["recoded", "split_or_merged", "unknown"]
    assert out["nuts_code_original"].to_list() == ["FR21", "PL12", "ZZ1"]


def test_region_type_by_length():
    df = pl.DataFrame({"c": ["DE", "DE1", "DE11", "DE111", "EU28", "EA19"]})
    assert df.select(nuts.region_type(pl.col("c")).alias("t"))["t"].to_list() == [
        "nuts0", "nuts1", "nuts2", "nuts3", "aggregate", "aggregate"
    ]


def test_recodes_against_independent_expected_table(ref, mirror_dir):
    """Each recode checked against tests/data/nuts_recodes_expected.csv, transcribed from the NUTS
    amendment history independently of PURE_RECODES_PRE2016 and the change sheet; and every code
    of the SBS file that the crosswalk recodes or renames must be in that table."""
    from pathlib import Path

    exp = pl.read_csv(Path(__file__).parent / "data/nuts_recodes_expected.csv", infer_schema=False)
    cw = {r[0]: r[1:] for r in nuts.build_crosswalk(ref, exp["source_code"].to_list()).iter_rows()}
    wrong = [
        (s, e, c, cw[s][1], cw[s][3])
        for s, e, c in exp.select("source_code", "expected_code", "expected_change").iter_rows()
        if (cw[s][1], cw[s][3]) != (e, c)
    ]
    assert not wrong, wrong
    kept = exp.filter(~pl.col("expected_change").is_in(list(nuts.RECODABLE)))["source_code"].to_list()
    assert all(cw[s][2] == cw[s][0] != "2021" for s in kept)  # kept in their own (older) version
    # the region name the table gives matches the target code's name in the official lists
    n16 = pl.read_csv(mirror_dir / REF / "nuts2016_names.csv", separator=";", infer_schema=False)
    names = dict(zip(n16[n16.columns[0]], n16[n16.columns[1]], strict=True))
    names.update(dict(zip(ref.sbs_codes["code"], ref.sbs_codes["label"], strict=True)))
    for s, e, name in exp.filter(pl.col("expected_change") == "recoded").select("source_code", "expected_code", "region_name").iter_rows():
        if not s.startswith("EL"):  # Greek names are in Greek script in the lists
            assert difflib.SequenceMatcher(None, _fold(name), _fold(names.get(e, ""))).ratio() > 0.6, (s, e, name, names.get(e))
    sbs_codes = [c for c in ref.sbs_codes["code"].to_list() if nuts.PURE_RECODES_PRE2016.get(c) or c in cw or len(c) <= 4]
    moved = nuts.build_crosswalk(ref, sbs_codes).filter(pl.col("nuts_change").is_in(["recoded", "renamed"]))
    unlisted = sorted(set(moved["source_code"]) - set(exp["source_code"]))
    assert not unlisted, f"recoded/renamed without an independent expectation: {unlisted}"
