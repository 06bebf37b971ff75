"""The writer-independent table hash is published in every datapackage.json: its bytes must not
drift when its code is made faster. Checked against a plain re-statement of CONTENT_HASH_METHOD
(row by row in Python) on a table with every kind of column, nulls, NaN, multi-byte UTF-8 and
rows written out of key order."""

from __future__ import annotations

import hashlib
import math
import random
import struct
from pathlib import Path

import polars as pl

from pipelines.release.content import table_content_hash

TABLE = pl.DataFrame(
    {
        "region_code": ["06", "01", "06", None, "01"],
        "year": [2011, 2012, 2010, None, 2011],
        "name": ["Köln–Bonn", None, "", "Ústí nad Labem", "São Paulo"],
        "emp": [1.0 / 3.0, float("nan"), None, 2.5e12, -0.0],
        "strong": [True, None, False, True, False],
        "members": [["a", "b"], [], None, ["ü"], ["c"]],
    },
    schema_overrides={"year": pl.Int32},
)
KEY = ["region_code", "year"]


def _reference(df: pl.DataFrame, key: list[str]) -> str:
    rows = sorted(
        range(df.height),
        key=lambda i: (*((v is None, v if v is not None else 0) for v in (df[k][i] for k in key)), i),
    )
    h = hashlib.sha256(f"rows={df.height}\n".encode())
    for name, dtype in df.schema.items():
        vals = [df[name][i] for i in rows]
        logical = "integer" if dtype.is_integer() else "boolean" if dtype == pl.Boolean else "number" if dtype.is_float() else "string" if dtype == pl.String else str(dtype)
        h.update(f"{name}:{logical}\n".encode())
        h.update(bytes(v is None for v in vals))
        if dtype.is_integer() or dtype == pl.Boolean:
            h.update(b"".join(struct.pack("<q", int(v or 0)) for v in vals))
        elif dtype.is_float():
            h.update(bytes(v is not None and math.isnan(v) for v in vals))
            clean = [0.0 if v is None or math.isnan(v) else v for v in vals]
            # 12 significant digits as Polars rounds them (arithmetically), one value at a time;
            # -0.0 stays -0.0 (the method's "+ 0.0" is folded away by Polars: published hashes have it so)
            rounded = [pl.Series([v]).round_sig_figs(12)[0] if math.isfinite(v) else v for v in clean]
            h.update(b"".join(struct.pack("<d", v) for v in rounded))
        else:
            txt = ["" if v is None else (v if dtype == pl.String else repr(v)) for v in vals]
            h.update(b"".join(struct.pack("<q", len(t.encode())) for t in txt))
            h.update("".join(txt).encode())
    return f"sha256:{h.hexdigest()}"


def test_the_hash_is_the_documented_method(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    TABLE.write_parquet(path)
    assert table_content_hash(path, KEY) == _reference(TABLE, KEY)
    # and a change of one character in one string changes it
    TABLE.with_columns(pl.col("name").str.replace("Köln", "Koln")).write_parquet(path)
    assert table_content_hash(path, KEY) != _reference(TABLE, KEY)


def test_many_string_keys_in_no_particular_order(tmp_path: Path) -> None:
    rng = random.Random(11)
    codes = [f"{rng.randrange(100_000):05d}" for _ in range(300)]
    df = pl.DataFrame(
        {
            "region_code": [rng.choice([*codes, None]) for _ in range(3_000)],
            "industry_code": [rng.choice(["31", "3111", "311111", "TOTAL", "ä"]) for _ in range(3_000)],
            "emp": [rng.random() * 1e4 for _ in range(3_000)],
        }
    )
    path = tmp_path / "t.parquet"
    df.write_parquet(path)
    assert table_content_hash(path, ["region_code", "industry_code"]) == _reference(df, ["region_code", "industry_code"])
