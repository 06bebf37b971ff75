"""Synthetic county CBP generator: deterministic, upstream layout, parseable by the pipeline."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks import generate
from pipelines.sources import cbp
from pipelines.staging.cbp import parse_cbp_file

YEARS = [2016, 2017]
COUNTIES = 40


def _text(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        (name,) = zf.namelist()
        return zf.read(name).decode("latin-1")


def test_generator_is_deterministic(tmp_path: Path, mirror_dir: Path) -> None:
    a = generate.generate(
        tmp_path / "a",
        YEARS,
        seed=3,
        counties=COUNTIES,
        jobs=1,
        mirror=mirror_dir,
        log=lambda _: None,
    )
    b = generate.generate(
        tmp_path / "b",
        YEARS,
        seed=3,
        counties=COUNTIES,
        jobs=1,
        mirror=mirror_dir,
        log=lambda _: None,
    )
    # a year's file does not depend on which other years are generated
    c = generate.generate(
        tmp_path / "c",
        [2017],
        seed=3,
        counties=COUNTIES,
        jobs=1,
        mirror=mirror_dir,
        log=lambda _: None,
    )
    d = generate.generate(
        tmp_path / "d",
        [2016],
        seed=4,
        counties=COUNTIES,
        jobs=1,
        mirror=mirror_dir,
        log=lambda _: None,
    )
    sha = {
        name: {f["year"]: f["sha256"] for f in m["files"]}
        for name, m in dict(a=a, b=b, c=c, d=d).items()
    }
    assert sha["a"] == sha["b"]
    assert sha["c"][2017] == sha["a"][2017]
    assert sha["d"][2016] != sha["a"][2016]  # the seed matters
    for name in ("a", "b"):
        for y in YEARS:
            assert (tmp_path / name / f"{y}" / f"cbp{y % 100:02d}co.zip").is_file()
    # a second call reuses what is there
    again = generate.generate(
        tmp_path / "a",
        YEARS,
        seed=3,
        counties=COUNTIES,
        jobs=1,
        mirror=mirror_dir,
        log=lambda _: None,
    )
    assert again["generated_seconds"] < 1.0 and {f["sha256"] for f in again["files"]} == set(
        sha["a"].values()
    )


def test_upstream_layout_and_shape(tmp_path: Path, mirror_dir: Path) -> None:
    m = generate.generate(
        tmp_path, YEARS, seed=1, counties=COUNTIES, jobs=1, mirror=mirror_dir, log=lambda _: None
    )
    pre = _text(tmp_path / "2016" / "cbp16co.zip")
    assert pre.splitlines()[0] == (
        '"FIPSTATE","FIPSCTY","NAICS","EMPFLAG","EMP_NF","EMP","QP1_NF","QP1","AP_NF","AP","EST",'
        '"N1_4","N5_9","N10_19","N20_49","N50_99","N100_249","N250_499","N500_999","N1000",'
        '"N1000_1","N1000_2","N1000_3","N1000_4","CENSTATE","CENCTY"'
    )
    post = _text(tmp_path / "2017" / "cbp17co.zip")
    assert post.splitlines()[0].startswith(
        "fipstate,fipscty,naics,emp_nf,emp,qp1_nf,qp1,ap_nf,ap,est"
    )
    assert "empflag" not in post.splitlines()[0]

    df = pl.read_csv(io.StringIO(pre), infer_schema=False)
    codes = df["NAICS"]
    assert codes.str.contains(
        r"^(------|[0-9]{2}----|[0-9]{3}///|[0-9]{4}//|[0-9]{5}/|[0-9]{6})$"
    ).all()
    assert (codes == "------").sum() == df.select("FIPSTATE", "FIPSCTY").unique().height
    supp = df.filter(pl.col("EMPFLAG") != "")
    assert supp["EMPFLAG"].is_in(list(cbp.EMPFLAG_MIDPOINTS)).all()
    assert (supp["EMP"] == "0").all() and (supp["AP"] == "0").all() and (supp["QP1"] == "0").all()
    share = supp.height / df.height
    assert 0.12 <= share <= 0.32, share
    # 6-digit codes are the cluster definitions' codes for the year's vintage
    defs = pl.read_csv(mirror_dir / generate.DEFS_REL, infer_schema=False, encoding="utf8-lossy")
    six = set(df.filter(~pl.col("NAICS").str.contains(r"[-/]"))["NAICS"])
    assert six <= set(defs.filter(pl.col("naics_vintage") == "2012")["naics"])
    # hierarchy rows add up
    emp = df.filter(pl.col("EMPFLAG") == "").with_columns(pl.col("EMP").cast(pl.Int64))
    assert emp["EMP"].min() >= 0
    rec = {f["year"]: f for f in m["files"]}
    assert rec[2016]["rows"] == df.height and rec[2016]["layout"] == "pre2017-empflag"

    # the pipeline's parser accepts both layouts without a malformed row
    for y in YEARS:
        z = tmp_path / str(y) / f"cbp{y % 100:02d}co.zip"
        cbp.validate_zip(z)
        out = parse_cbp_file(
            z,
            year=y,
            source_id="bench",
            sha256="x",
            location=str(z),
            work_dir=tmp_path / "w" / str(y),
        ).collect()
        assert out.height == rec[y]["rows"]
        assert set(out["region_type"]) == {"county"}
        if y < 2017:
            assert out["emp_imputed"].sum() > 0


def test_every_county_once(mirror_dir: Path) -> None:
    """The county list holds each county once, statewide 999 rows included: the EA list already
    has DC's 11999, and writing it twice gave every bench year ~600 repeated keys (summed twice by
    the benchmark, which runs no checks)."""
    u = generate.build_universe(1, str(mirror_dir))
    fips = np.char.add(u.fipstate, u.fipscty)
    assert len(fips) == len(set(fips.tolist()))
    assert "11999" in set(fips.tolist())
    states = set(u.fipstate.tolist())
    assert {s + "999" for s in states} <= set(fips.tolist())  # one statewide row per state
