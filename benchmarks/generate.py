"""Synthetic County Business Patterns county files in the real upstream layout.

    python -m benchmarks.generate --years 25 --out benchmarks/data --seed 1

Writes ``<out>/<year>/cbp<yy>co.zip`` (one ``cbp<yy>co.txt`` member, as upstream) for the years
1998, 1999, ... and ``<out>/manifest.json``. Everything is vectorised (numpy + polars) and
seeded: a year's file depends only on (seed, year, counties, generator version), never on how
many other years are generated, so the 1-, 5- and 10-year inputs are prefixes of the 25-year one.

Shape of the data (see benchmarks/README.md):
- regions: the 3,147 real county FIPS codes of the BEA economic-area table in the mirror plus one
  "999" statewide row per state (≈3,200 regions, as in the real county files);
- industries: the 6-digit NAICS codes of the cluster definitions in the file's NAICS vintage
  (1997/2002/2007/2012 as upstream: a 2012 file carries 2012 codes; 2017+ files carry the 2012
  codes mapped through the NAICS year concordance to 2017/2022 codes), plus every hierarchy row above them ("33641/", "3364//",
  "336///", "31----") and the all-industries row "------", with consistent sums;
- employment: county size lognormal (heavy-tailed), industry share lognormal, a persistent
  county × industry specialisation, establishments Poisson so small cells are absent (sparse,
  ~2 million rows a year at full size); county and industry growth trends across years;
- suppression (before 2017): ~15-25 % of cells, more likely the fewer establishments they have;
  suppressed cells carry the EMPFLAG letter of the true employment range and EMP/QP1/AP = 0 with
  "D" flags. 2017+ files use the lower-case layout with noise flags (G/H/J) and no EMPFLAG.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.config import PROJECT_ROOT
from pipelines.staging.harmonise import cbp_naics_vintage

GENERATOR_VERSION = 3  # 2: 2012 files in NAICS 2012 (were 2007), as upstream; 3: one 999 row per state
FIRST_YEAR = 1998  # first NAICS-based CBP year
DEFAULT_YEARS = 25
DEFAULT_OUT = PROJECT_ROOT / "benchmarks" / "data"
DEFS_REL = "reference/us-cluster-mapping/2018-10-01/cluster_naics_definitions.csv"
COUNTIES_REL = "reference/us-cluster-mapping/2018-10-01/bea_economic_areas_and_counties.xls"
CONCORDANCE_REL = "reference/naics-concordance/NAICS_Year_Concordance.csv"

PRE2017_HEADER = [
    "FIPSTATE", "FIPSCTY", "NAICS", "EMPFLAG", "EMP_NF", "EMP", "QP1_NF", "QP1", "AP_NF", "AP",
    "EST", "N1_4", "N5_9", "N10_19", "N20_49", "N50_99", "N100_249", "N250_499", "N500_999",
    "N1000", "N1000_1", "N1000_2", "N1000_3", "N1000_4", "CENSTATE", "CENCTY",
]  # fmt: skip
POST2017_HEADER = [
    "fipstate", "fipscty", "naics", "emp_nf", "emp", "qp1_nf", "qp1", "ap_nf", "ap", "est",
    "n<5", "n5_9", "n10_19", "n20_49", "n50_99", "n100_249", "n250_499", "n500_999", "n1000",
    "n1000_1", "n1000_2", "n1000_3", "n1000_4", "censtate", "cencty",
]  # fmt: skip
SIZE_COLS = [
    "n1_4",
    "n5_9",
    "n10_19",
    "n20_49",
    "n50_99",
    "n100_249",
    "n250_499",
    "n500_999",
    "n1000",
]
SIZE_MIDS = np.log([2.5, 7.0, 14.5, 34.5, 74.5, 174.5, 374.5, 749.5, 1500.0])
# Upper bounds of the EMPFLAG employment ranges A (0-19) ... M (100,000+).
FLAG_BOUNDS = np.array([20, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000])
FLAG_LETTERS = np.array(list("ABCEFGHIJKLM"))
SECTOR_OF = {"32": "31", "33": "31", "45": "44", "49": "48"}  # CBP sector rows "31----" etc.

# Tuning (calibrated so the full input has ~2.0M rows a year and ~20 % suppressed cells).
COUNTY_MEDIAN_EMP = 7000.0
COUNTY_SIGMA = 1.75
INDUSTRY_SIGMA = 1.35
AFFINITY_SIGMA = 1.0
PRESENCE = 0.4  # scales the expected establishment count of a cell
# Chance a cell is suppressed, by establishment count 1-2, 3-4, 5-9, 10-19, 20-99, and 100+.
SUPPRESSION = (0.38, 0.17, 0.07, 0.03, 0.01)
SUPPRESSION_LARGE = 0.004


def mirror_root() -> Path:
    env = os.environ.get("OBSERVATORY_MIRROR")
    return Path(env) if env else PROJECT_ROOT.parent / "shared" / "mirror"


def file_vintage(year: int) -> str:
    """NAICS vintage of the codes written into a year's file: the upstream year rule (the
    pipeline detects it from the codes and maps each file with the definitions of its vintage)."""
    return cbp_naics_vintage(year)


def file_name(year: int) -> str:
    return f"cbp{year % 100:02d}co"


def zip_path(out: Path, year: int) -> Path:
    return Path(out) / str(year) / f"{file_name(year)}.zip"


@dataclass(frozen=True)
class Universe:
    """Everything that does not change from year to year (drawn once from the seed)."""

    seed: int
    fipstate: np.ndarray  # (n_counties,) str
    fipscty: np.ndarray
    size: np.ndarray  # county employment scale
    growth: np.ndarray  # county yearly growth rate
    wage_factor: np.ndarray
    codes: np.ndarray  # (n_codes,) sorted 6-digit codes, union over all vintages
    weight: np.ndarray  # industry share of employment
    ind_growth: np.ndarray
    est_size: np.ndarray  # mean employees per establishment
    wage: np.ndarray  # mean annual wage, dollars
    affinity: np.ndarray  # (n_counties, n_codes) float32 persistent specialisation
    vintage_idx: dict[str, np.ndarray]  # file vintage -> indices into codes
    all_codes: np.ndarray  # padded codes of every level, ASCII-sorted (file order)
    level_ids: np.ndarray  # (5, n_codes) ids into all_codes of the 5-,4-,3-,2-digit and total rows
    self_ids: np.ndarray  # (n_codes,) id of the 6-digit code itself
    code_level: np.ndarray  # (len(all_codes),) 0 for "------", else digits
    censtate: np.ndarray


def _read_definitions(mirror: Path) -> dict[str, list[str]]:
    df = pl.read_csv(mirror / DEFS_REL, infer_schema=False, encoding="utf8-lossy")
    df = df.select(pl.col("naics_vintage").str.strip_chars(), pl.col("naics").str.strip_chars())
    return {v: sorted(g["naics"].unique().to_list()) for (v,), g in df.group_by("naics_vintage")}


def _read_concordance(mirror: Path) -> pl.DataFrame:
    return pl.read_csv(mirror / CONCORDANCE_REL, infer_schema=False).select(
        pl.all().str.strip_chars()
    )


def _read_counties(mirror: Path) -> list[str]:
    import pandas as pd  # xlrd reader for the BEA .xls

    xls = pd.read_excel(
        mirror / COUNTIES_REL, sheet_name="EA county definition", engine="xlrd", dtype=str
    )
    fips = sorted({f.strip().zfill(5) for f in xls["FIPS"].dropna()})
    states = sorted({f[:2] for f in fips})
    # "999": statewide, county not assigned. The EA list already holds 11999 (DC): a set, so no
    # county is written twice (a repeated key the harmonised suite rejects, which the benchmark skips).
    return sorted(set(fips) | {s + "999" for s in states})


def _padded(code: str, level: int) -> str:
    if level == 0:
        return "------"
    head = code[:level]
    if level == 2:
        head = SECTOR_OF.get(head, head)
        return head + "----"
    return head + "/" * (6 - level)  # "336///", "3364//", "33641/"


@lru_cache(maxsize=4)
def build_universe(seed: int, mirror: str, counties: int | None = None) -> Universe:
    root = Path(mirror)
    defs = _read_definitions(root)
    conc = _read_concordance(root)
    by_vintage = {v: defs[v] for v in ("1997", "2002", "2007", "2012")}
    for target, col in (("2017", "NAICS_2017_Code"), ("2022", "NAICS_2022_Code")):
        mapped = conc.filter(pl.col("NAICS_2012_Code").is_in(defs["2012"]))[col]
        unmapped = set(defs["2012"]) - set(conc["NAICS_2012_Code"].to_list())
        codes = {c for c in mapped.to_list() if c and len(c) == 6 and c.isdigit()} | unmapped
        by_vintage[target] = sorted(codes)
    codes = np.array(sorted(set().union(*by_vintage.values())))
    pos = {c: i for i, c in enumerate(codes)}

    fips = np.array(_read_counties(root))
    rng = np.random.default_rng([seed, 0])
    n_c, n_i = len(fips), len(codes)
    statewide = np.char.endswith(fips, "999")
    size = np.exp(rng.normal(np.log(COUNTY_MEDIAN_EMP), COUNTY_SIGMA, n_c))
    size = np.where(statewide, size * 0.05, size)
    growth = rng.normal(0.008, 0.015, n_c)
    wage_factor = np.exp(rng.normal(0.0, 0.15, n_c))
    weight = np.exp(rng.normal(0.0, INDUSTRY_SIGMA, n_i))
    ind_growth = rng.normal(0.0, 0.025, n_i)
    est_size = np.clip(np.exp(rng.normal(np.log(9.0), 0.8, n_i)), 1.5, 800.0)
    wage = np.exp(rng.normal(np.log(42000.0), 0.35, n_i))
    affinity = np.exp(
        rng.normal(-(AFFINITY_SIGMA**2) / 2, AFFINITY_SIGMA, (n_c, n_i)).astype(np.float32)
    )
    if counties is not None and counties < n_c:
        keep = np.sort(np.random.default_rng([seed, 1]).choice(n_c, counties, replace=False))
        fips, size, growth, wage_factor = fips[keep], size[keep], growth[keep], wage_factor[keep]
        affinity = affinity[keep]

    padded = {lvl: [_padded(c, lvl) for c in codes] for lvl in (5, 4, 3, 2, 0)}
    all_codes = np.array(sorted(set(codes.tolist()).union(*map(set, padded.values()))))
    rank = {c: i for i, c in enumerate(all_codes)}
    level_ids = np.array(
        [[rank[p] for p in padded[lvl]] for lvl in (5, 4, 3, 2, 0)], dtype=np.int64
    )
    self_ids = np.array([rank[c] for c in codes], dtype=np.int64)
    return Universe(
        seed=seed,
        fipstate=np.array([f[:2] for f in fips]),
        fipscty=np.array([f[2:] for f in fips]),
        size=size,
        growth=growth,
        wage_factor=wage_factor,
        codes=codes,
        weight=weight,
        ind_growth=ind_growth,
        est_size=est_size,
        wage=wage,
        affinity=affinity,
        vintage_idx={v: np.array([pos[c] for c in cs]) for v, cs in by_vintage.items()},
        all_codes=all_codes,
        level_ids=level_ids,
        self_ids=self_ids,
        code_level=np.array([len(c.rstrip("-/")) for c in all_codes]),
        censtate=np.array([f"{(int(f[:2]) * 37) % 89 + 11:02d}" for f in fips]),
    )


def _size_classes(est: np.ndarray, emp: np.ndarray) -> np.ndarray:
    """Split establishment counts over the 9 employment-size classes (rows sum to est)."""
    avg = np.log(np.maximum(emp / np.maximum(est, 1), 1.0))
    p = np.exp(-0.5 * ((SIZE_MIDS[None, :] - avg[:, None]) / 1.1) ** 2)
    p /= p.sum(axis=1, keepdims=True)
    n = np.floor(est[:, None] * p).astype(np.int64)
    n[np.arange(len(est)), p.argmax(axis=1)] += est - n.sum(axis=1)
    return n


def generate_year(u: Universe, year: int) -> pl.DataFrame:
    """All rows of one year's county file, in file order, with numeric columns as integers."""
    t = year - FIRST_YEAR
    rng = np.random.default_rng([u.seed, 1000 + year])
    idx = u.vintage_idx[file_vintage(year)]
    w = u.weight[idx] * np.exp(u.ind_growth[idx] * t)
    w /= w.sum()
    size = u.size * np.exp(u.growth * t)
    shape = (len(size), len(idx))
    expected = (size[:, None] * w[None, :]) * u.affinity[:, idx]
    expected *= np.exp(rng.normal(0.0, 0.12, shape))
    est_all = rng.poisson(expected * (PRESENCE / u.est_size[idx])[None, :])
    r, j = np.nonzero(est_all)
    est = est_all[r, j].astype(np.int64)
    del est_all
    emp = np.rint(expected[r, j] * np.exp(rng.normal(0.0, 0.25, len(r)))).astype(np.int64)
    del expected
    code = idx[j]
    ap = np.rint(
        emp
        * u.wage[code]
        * u.wage_factor[r]
        * 1.03**t
        / 1000.0
        * np.exp(rng.normal(0, 0.1, len(r)))
    ).astype(np.int64)
    qp1 = np.rint(ap * 0.24 * np.exp(rng.normal(0.0, 0.05, len(r)))).astype(np.int64)
    sizes = _size_classes(est, emp)

    n_all = len(u.all_codes)
    base = {"est": est, "emp": emp, "ap": ap, "qp1": qp1}
    base.update({c: sizes[:, k] for k, c in enumerate(SIZE_COLS)})
    sum_cols = list(base)
    six = pl.DataFrame({"key": r.astype(np.int64) * n_all + u.self_ids[code], **base})
    parts = [six]
    for lvl_ids in u.level_ids:
        parts.append(
            pl.DataFrame({"key": r.astype(np.int64) * n_all + lvl_ids[code], **base})
            .group_by("key")
            .agg(pl.col(sum_cols).sum())
        )
    df = pl.concat(parts).sort("key")
    county = (df["key"] // n_all).to_numpy()
    code_id = (df["key"] % n_all).to_numpy()
    n = df.height
    emp_all = df["emp"].to_numpy()
    est_v = df["est"].to_numpy()
    # Noise flags G (<2 %), H (2-5 %), J (>=5 %) for emp, qp1 and ap.
    flags = pl.Series(["G", "H", "J"])
    noise = np.searchsorted(np.array([0.78, 0.96]), rng.random((3, n)), side="right")
    level = u.code_level[code_id]
    cols: dict[str, object] = {
        "fipstate": pl.Series(u.fipstate).gather(county),
        "fipscty": pl.Series(u.fipscty).gather(county),
        "naics": pl.Series(u.all_codes).gather(code_id),
    }
    nf = [flags.gather(noise[k]) for k in range(3)]
    if year < 2017:
        p = np.select(
            [est_v <= 2, est_v <= 4, est_v <= 9, est_v <= 19, est_v <= 99],
            list(SUPPRESSION),
            SUPPRESSION_LARGE,
        )
        p = np.where(level == 0, 0.0, np.where(level == 2, p * 0.5, p))
        supp = rng.random(n) < p
        letter = pl.Series(FLAG_LETTERS.tolist()).gather(
            np.searchsorted(FLAG_BOUNDS, emp_all, side="right")
        )
        s = pl.Series(supp)
        d = pl.lit("D")
        cols["empflag"] = pl.select(pl.when(s).then(letter).otherwise(pl.lit(""))).to_series()
        cols["emp_nf"] = pl.select(pl.when(s).then(d).otherwise(nf[0])).to_series()
        cols["emp"] = np.where(supp, 0, emp_all)
        cols["qp1_nf"] = pl.select(pl.when(s).then(d).otherwise(nf[1])).to_series()
        cols["qp1"] = np.where(supp, 0, df["qp1"].to_numpy())
        cols["ap_nf"] = pl.select(pl.when(s).then(d).otherwise(nf[2])).to_series()
        cols["ap"] = np.where(supp, 0, df["ap"].to_numpy())
    else:
        cols.update(
            emp_nf=nf[0], emp=emp_all, qp1_nf=nf[1], qp1=df["qp1"].to_numpy(),
            ap_nf=nf[2], ap=df["ap"].to_numpy(),
        )  # fmt: skip
    cols["est"] = est_v
    for c in SIZE_COLS:
        cols[c] = df[c].to_numpy()
    n1000 = df["n1000"].to_numpy()
    big = np.minimum(n1000, np.rint(n1000 * 0.15).astype(np.int64))
    cols.update(n1000_1=n1000 - big, n1000_2=big, n1000_3=0 * n1000, n1000_4=0 * n1000)
    cols["censtate"] = pl.Series(u.censtate).gather(county)
    cols["cencty"] = cols["fipscty"]
    out = pl.DataFrame(
        {k: (v.alias(k) if isinstance(v, pl.Series) else v) for k, v in cols.items()}
    )
    header = PRE2017_HEADER if year < 2017 else POST2017_HEADER
    return out.rename(dict(zip(out.columns, header, strict=True)))


def write_year(u: Universe, year: int, out: Path, compresslevel: int = 1) -> dict[str, object]:
    t0 = time.perf_counter()
    df = generate_year(u, year)
    buf = io.BytesIO()
    if year < 2017:  # "01","------",...,1573138 — strings quoted, numbers not
        df.write_csv(buf, quote_style="non_numeric", line_terminator="\r\n")
    else:
        df.write_csv(buf, quote_style="necessary", line_terminator="\r\n")
    data = buf.getvalue()
    if year < 2017:  # upstream quotes the header names too
        nl = data.index(b"\r\n")
        data = (",".join(f'"{c}"' for c in df.columns)).encode() + data[nl:]
    path = zip_path(out, year)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".zip.tmp")
    info = zipfile.ZipInfo(f"{file_name(year)}.txt", date_time=(min(year + 2, 2107), 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    with zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
    os.replace(tmp, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    six = df.filter(~pl.col(df.columns[2]).str.contains(r"[-/]"))
    supp_share = float((df["EMPFLAG"] != "").mean()) if year < 2017 else 0.0  # type: ignore[arg-type]
    return {
        "year": year,
        "path": str(path.relative_to(out)),
        "rows": df.height,
        "rows_6digit": six.height,
        "text_bytes": len(data),
        "bytes": path.stat().st_size,
        "sha256": digest,
        "suppressed_share": round(supp_share, 4),
        "layout": "pre2017-empflag" if year < 2017 else "2017-noise",
        "naics_vintage": file_vintage(year),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _worker(args: tuple[int, str, int | None, int, str, int]) -> dict[str, object]:
    seed, mirror, counties, year, out, level = args
    return write_year(build_universe(seed, mirror, counties), year, Path(out), level)


def default_years(n: int, first: int = FIRST_YEAR) -> list[int]:
    return list(range(first, first + n))


def _params(seed: int, counties: int | None, compresslevel: int) -> dict[str, object]:
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "counties": counties,
        "compresslevel": compresslevel,
    }


def read_manifest(out: Path) -> dict[str, object] | None:
    mf = Path(out) / "manifest.json"
    return json.loads(mf.read_text()) if mf.is_file() else None


def generate(
    out: Path,
    years: list[int],
    seed: int = 1,
    counties: int | None = None,
    jobs: int = 2,
    compresslevel: int = 1,
    mirror: Path | None = None,
    log=print,
) -> dict[str, object]:
    """Generate (or reuse) the files of ``years`` in ``out``; return the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    params = _params(seed, counties, compresslevel)
    old = read_manifest(out)
    files: dict[int, dict[str, object]] = {}
    if old and all(old.get(k) == v for k, v in params.items()):
        for rec in old["files"]:  # type: ignore[union-attr]
            p = out / rec["path"]
            if p.is_file() and p.stat().st_size == rec["bytes"]:
                files[int(rec["year"])] = rec
    todo = [y for y in years if y not in files]
    t0 = time.perf_counter()
    if todo:
        root = str(mirror or mirror_root())
        tasks = [(seed, root, counties, y, str(out), compresslevel) for y in todo]
        if jobs > 1 and len(todo) > 1:
            with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=get_context("spawn")) as ex:
                for rec in ex.map(_worker, tasks):
                    files[int(rec["year"])] = rec  # type: ignore[arg-type]
                    log(
                        f"  {rec['year']}: {rec['rows']:,} rows, {rec['bytes'] / 1e6:.0f} MB zip, {rec['seconds']} s"
                    )
        else:
            for task in tasks:
                rec = _worker(task)
                files[int(rec["year"])] = rec  # type: ignore[arg-type]
                log(
                    f"  {rec['year']}: {rec['rows']:,} rows, {rec['bytes'] / 1e6:.0f} MB zip, {rec['seconds']} s"
                )
    manifest = {
        **params,
        "first_year": min(files),
        "years": sorted(files),
        "generated_seconds": round(time.perf_counter() - t0, 1),
        "files": [files[y] for y in sorted(files)],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--years", type=int, default=DEFAULT_YEARS, help="number of years from 1998")
    ap.add_argument("--first-year", type=int, default=FIRST_YEAR)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--counties", type=int, default=None, help="random subset of counties (small inputs)"
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--compresslevel", type=int, default=1)
    a = ap.parse_args(argv)
    years = default_years(a.years, a.first_year)
    print(f"generating {len(years)} years ({years[0]}-{years[-1]}) into {a.out}")
    m = generate(a.out, years, a.seed, a.counties, a.jobs, a.compresslevel)
    rows = sum(int(f["rows"]) for f in m["files"] if f["year"] in years)  # type: ignore[union-attr]
    print(f"{rows:,} rows in {len(years)} files; {m['generated_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
