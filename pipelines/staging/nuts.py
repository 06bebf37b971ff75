"""NUTS versions: which version a code belongs to, and recoding to a target version (default 2021).

Rules (see assets/eu/README.md):

* A code keeps its meaning only while its boundaries are unchanged. It is recoded to the target
  version when it is unchanged, renamed, or purely recoded (same territory, new code). Codes of
  regions that were split, merged or had boundary changes are **kept with their original code
  and version** and flagged (``nuts_change``): they are never silently mixed with target codes.
* Version of a source code: the Eurostat SBS code list (``sbs_dsd_nuts.csv``) marks codes that
  were discontinued with their last valid version ("Chemnitz (NUTS 2006)"); unmarked codes are
  NUTS 2013 codes. Datasets published in NUTS 2021 are declared as such by the caller.
* 2016 → 2021: read from the official workbook ``nuts2021.xlsx``, sheet "Changes detailed NUTS
  2016-2021" (change codes 1 renamed, 2 recoded, 3 boundary change + recode, 4 boundary change +
  recode + rename, 5 discontinued, 6 new).
* 2006/2010/2013 → 2016: the mirror has no official change sheet for these steps, so the pure
  recodes at NUTS levels 1–2 are listed below (:data:`PURE_RECODES_PRE2016`, transcribed from the
  NUTS 2010/2013/2016 amendment regulations; every pair has the same region name in both code
  lists, which the tests check). Any other code absent from the NUTS 2016 list is treated as
  split/merged/boundary-changed.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.errors import SourceError

NUTS_VERSIONS = ("2006", "2010", "2013", "2016", "2021")
DEFAULT_TARGET = "2021"

# old code -> (new code, version of the new code). Pure recodes only (same territory).
PURE_RECODES_PRE2016: dict[str, tuple[str, str]] = {
    # NUTS 2010: Italy's NUTS 1 Nord-Est / Centro recoded ITD -> ITH, ITE -> ITI
    "ITD": ("ITH", "2010"), "ITD1": ("ITH1", "2010"), "ITD2": ("ITH2", "2010"),
    "ITD3": ("ITH3", "2010"), "ITD4": ("ITH4", "2010"), "ITD5": ("ITH5", "2010"),
    "ITE": ("ITI", "2010"), "ITE1": ("ITI1", "2010"), "ITE2": ("ITI2", "2010"),
    "ITE3": ("ITI3", "2010"), "ITE4": ("ITI4", "2010"),
    # NUTS 2013: Greek NUTS 2 recoded under new NUTS 1 (EL1/EL2 themselves were restructured)
    "EL11": ("EL51", "2013"), "EL12": ("EL52", "2013"), "EL13": ("EL53", "2013"),
    "EL14": ("EL61", "2013"), "EL21": ("EL54", "2013"), "EL22": ("EL62", "2013"),
    "EL23": ("EL63", "2013"), "EL24": ("EL64", "2013"), "EL25": ("EL65", "2013"),
    # NUTS 2013: Slovenia and the French overseas departments (FR9 -> FRA is not pure:
    # FRA added Mayotte)
    "SI01": ("SI03", "2013"), "SI02": ("SI04", "2013"),
    "FR91": ("FRA1", "2013"), "FR92": ("FRA2", "2013"),
    "FR93": ("FRA3", "2013"), "FR94": ("FRA4", "2013"),
    # NUTS 2016: French NUTS 2 recoded under the new NUTS 1 regions; overseas FRA -> FRY
    "FR10": ("FR10", "2016"),
    "FR21": ("FRF2", "2016"), "FR22": ("FRE2", "2016"), "FR23": ("FRD2", "2016"),
    "FR24": ("FRB0", "2016"), "FR25": ("FRD1", "2016"), "FR26": ("FRC1", "2016"),
    "FR30": ("FRE1", "2016"), "FR41": ("FRF3", "2016"), "FR42": ("FRF1", "2016"),
    "FR43": ("FRC2", "2016"), "FR51": ("FRG0", "2016"), "FR52": ("FRH0", "2016"),
    "FR53": ("FRI3", "2016"), "FR61": ("FRI1", "2016"), "FR62": ("FRJ2", "2016"),
    "FR63": ("FRI2", "2016"), "FR71": ("FRK2", "2016"), "FR72": ("FRK1", "2016"),
    "FR81": ("FRJ1", "2016"), "FR82": ("FRL0", "2016"), "FR83": ("FRM0", "2016"),
    "FRA": ("FRY", "2016"), "FRA1": ("FRY1", "2016"), "FRA2": ("FRY2", "2016"),
    "FRA3": ("FRY3", "2016"), "FRA4": ("FRY4", "2016"), "FRA5": ("FRY5", "2016"),
    # NUTS 2016: Polish voivodeships recoded under the new macroregions (PL12 was split)
    "PL11": ("PL71", "2016"), "PL33": ("PL72", "2016"), "PL31": ("PL81", "2016"),
    "PL32": ("PL82", "2016"), "PL34": ("PL84", "2016"),
}  # fmt: skip

CHANGE_LABELS = {
    1: "renamed",
    2: "recoded",
    3: "boundary_change",
    4: "boundary_change",
    5: "discontinued",
    6: "new",
}
# nuts_change values: unchanged | renamed | recoded -> recoded to the target;
# split_or_merged | boundary_change | discontinued | unknown -> kept in the source version.
RECODABLE = ("unchanged", "renamed", "recoded")
_VERSION_SUFFIX = re.compile(r"\(NUTS (\d{4})\)\s*$")

CROSSWALK_SCHEMA = {
    "source_code": pl.String(),
    "source_version": pl.String(),
    "target_code": pl.String(),
    "target_version": pl.String(),
    "nuts_change": pl.String(),
}


def region_type(code: pl.Expr) -> pl.Expr:
    """nuts0/nuts1/nuts2/nuts3 by code length; EU/EA/EFTA aggregates are 'aggregate'."""
    n = code.str.len_chars()
    return (
        pl.when(code.str.contains(r"^(EU|EA|EFTA|EEA)"))
        .then(pl.lit("aggregate"))
        .when(~code.str.contains(r"^[A-Z]{2}[0-9A-Z]{0,3}$"))
        .then(pl.lit("other"))
        .when(n == 2)
        .then(pl.lit("nuts0"))
        .when(n == 3)
        .then(pl.lit("nuts1"))
        .when(n == 4)
        .then(pl.lit("nuts2"))
        .otherwise(pl.lit("nuts3"))
    )


@dataclass(frozen=True)
class NutsReference:
    """Code lists needed for recoding (all paths are files fetched through pipelines.raw.http)."""

    sbs_codes: pl.DataFrame  # code, label, last_version (SBS code list, NUTS 2013 era)
    codes_2016: frozenset[str]
    codes_2021: frozenset[str]
    changes_2016_2021: pl.DataFrame  # code_2016, code_2021, change

    @classmethod
    def load(cls, sbs_nuts_csv: Path, nuts2016_csv: Path, nuts2021_xlsx: Path) -> NutsReference:
        sbs = pl.read_csv(sbs_nuts_csv, infer_schema=False, encoding="utf8-lossy")
        sbs = sbs.rename({c: c.strip().lower() for c in sbs.columns}).select(
            pl.col("code").str.strip_chars(),
            pl.col("label"),
            pl.col("label").str.extract(_VERSION_SUFFIX.pattern, 1).fill_null("2013").alias("last_version"),
        )
        n16 = pl.read_csv(nuts2016_csv, separator=";", infer_schema=False, encoding="utf8-lossy")
        codes16 = frozenset(n16[n16.columns[0]].str.strip_chars().to_list())
        codes21, changes = read_nuts2021_workbook(nuts2021_xlsx)
        return cls(sbs, codes16, codes21, changes)


def nuts_names(sbs_nuts_csv: Path, nuts2016_csv: Path) -> pl.DataFrame:
    """(code, name) of every NUTS code with a non-empty name: the SBS code list's labels (NUTS
    2013 era) and the NUTS 2016 names. The EU indicators must name every region they carry
    (expectation `region_named`); on the mirror these two lists name every code published."""
    sbs = pl.read_csv(sbs_nuts_csv, infer_schema=False, encoding="utf8-lossy")
    sbs = sbs.rename({c: c.strip().lower() for c in sbs.columns}).select(
        pl.col("code").str.strip_chars(), pl.col("label").str.strip_chars().alias("name")
    )
    n16 = pl.read_csv(nuts2016_csv, separator=";", infer_schema=False, encoding="utf8-lossy")
    n16 = n16.select(
        pl.col(n16.columns[0]).str.strip_chars().alias("code"), pl.col(n16.columns[1]).str.strip_chars().alias("name")
    )
    return (
        pl.concat([sbs, n16]).filter(pl.col("name").is_not_null() & (pl.col("name") != ""))
        .unique("code", keep="first", maintain_order=True)
    )  # fmt: skip


def read_nuts2021_workbook(path: Path) -> tuple[frozenset[str], pl.DataFrame]:
    """(set of NUTS 2021 codes, 2016→2021 change table) from the official workbook."""
    import openpyxl

    try:
        with warnings.catch_warnings():  # the official workbook carries an extension openpyxl skips (harmless)
            warnings.filterwarnings("ignore", message="Unknown extension is not supported", category=UserWarning)
            wb = openpyxl.load_workbook(open(path, "rb"), read_only=True, data_only=True)  # noqa: SIM115
    except Exception as exc:
        raise SourceError("eurostat-classifications/nuts2021", str(path), f"cannot open workbook: {exc}") from exc
    try:
        sheets = {ws.title: ws for ws in wb.worksheets}
        main = next((s for t, s in sheets.items() if t.startswith("NUTS & SR 2021")), None)
        detail = next((s for t, s in sheets.items() if t.startswith("Changes detailed")), None)
        if main is None or detail is None:
            raise SourceError(
                "eurostat-classifications/nuts2021", str(path),
                f"expected sheets 'NUTS & SR 2021' and 'Changes detailed NUTS 2016-2021', found {list(sheets)}",
            )
        rows = main.iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(rows)]
        if header[0] != "Code 2021":
            raise SourceError("eurostat-classifications/nuts2021", str(path), f"unexpected header {header[:4]}")
        codes21 = frozenset(str(r[0]).strip() for r in rows if r and r[0])
        drows = detail.iter_rows(values_only=True)
        dheader = [str(h or "").strip() for h in next(drows)]
        i16, i21 = dheader.index("Code 2016"), dheader.index("Code 2021")
        ich = next(i for i, h in enumerate(dheader) if h.startswith("Change codes"))
        recs = [
            (
                str(r[i16]).strip() if r[i16] else None,
                str(r[i21]).strip() if r[i21] else None,
                int(r[ich]) if isinstance(r[ich], int | float) else None,
            )
            for r in drows
            if r and (r[i16] or r[i21])
        ]
    finally:
        wb.close()
    changes = pl.DataFrame(recs, schema={"code_2016": pl.String, "code_2021": pl.String, "change": pl.Int64}, orient="row")
    return codes21, changes


def build_crosswalk(ref: NutsReference, codes: list[str], source_version: str | None = None, target: str = DEFAULT_TARGET) -> pl.DataFrame:
    """One row per source code: its version, target code/version and the kind of change.

    ``source_version=None`` reads each code's version from the SBS code list (2013-era data);
    a given version ("2021") declares every code to be of that version.
    """
    if target not in {"2016", "2021"}:
        raise ValueError(f"NUTS target version must be '2016' or '2021', not {target!r}")
    last = dict(zip(ref.sbs_codes["code"].to_list(), ref.sbs_codes["last_version"].to_list(), strict=True))
    ch = {
        r[0]: (r[1], r[2])
        for r in ref.changes_2016_2021.filter(pl.col("code_2016").is_not_null()).iter_rows()
    }
    out: list[tuple[str, str, str, str, str]] = []
    # A short loop over distinct region codes (a few hundred), never over data rows.
    for code in sorted(set(codes)):
        version = source_version or last.get(code, "2013")
        if version == "2021":
            if target == "2021":
                out.append((code, version, code, "2021", "unchanged" if code in ref.codes_2021 else "unknown"))
            else:
                out.append((code, version, code, version, "unknown"))
            continue
        # step 1: up to NUTS 2016
        cur, change = code, "unchanged"
        if version != "2016":
            seen = 0
            while cur in PURE_RECODES_PRE2016 and seen < 5:
                nxt = PURE_RECODES_PRE2016[cur][0]
                if nxt != cur:
                    change = "recoded"
                cur, seen = nxt, seen + 1
            if cur not in ref.codes_2016 or (cur == code and version not in ("2013", "2016")):
                # absent from NUTS 2016, or a discontinued code with no pure recode
                kind = "split_or_merged" if code in last else "unknown"
                out.append((code, version, code, version, kind))
                continue
        elif cur not in ref.codes_2016:
            out.append((code, version, code, version, "unknown"))
            continue
        if target == "2016":
            out.append((code, version, cur, "2016", change))
            continue
        # step 2: NUTS 2016 -> 2021 from the official change sheet
        new, c = ch.get(cur, (cur, None))
        if c in (3, 4, 5) or new is None:
            out.append((code, version, code, version, CHANGE_LABELS.get(c or 5, "discontinued")))
            continue
        if c == 2:
            change = "recoded"
        elif c == 1 and change == "unchanged":
            change = "renamed"
        if new not in ref.codes_2021:
            out.append((code, version, code, version, "unknown"))
            continue
        out.append((code, version, new, "2021", change))
    return pl.DataFrame(out, schema=CROSSWALK_SCHEMA, orient="row")


def recode(lf: pl.LazyFrame, crosswalk: pl.DataFrame, code_col: str = "region_code") -> pl.LazyFrame:
    """Recode a NUTS column with a crosswalk; adds nuts_version, nuts_code_original, nuts_change.

    Recodable codes take the target code and version; the others keep their code and version
    and carry the reason in ``nuts_change``. Unknown codes (not in the crosswalk) get
    ``nuts_change = 'unknown'`` and no version.
    """
    cw = crosswalk.lazy().rename({"source_code": "_src"})
    recodable = pl.col("nuts_change").is_in(list(RECODABLE))
    return (
        lf.join(cw, left_on=code_col, right_on="_src", how="left")
        .with_columns(
            pl.col(code_col).alias("nuts_code_original"),
            pl.when(recodable).then(pl.col("target_code")).otherwise(pl.col(code_col)).alias(code_col),
            pl.when(recodable).then(pl.col("target_version")).otherwise(pl.col("source_version")).alias("nuts_version"),
            pl.col("nuts_change").fill_null("unknown"),
        )
        .drop("target_code", "target_version", "source_version")
    )
