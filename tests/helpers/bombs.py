"""Decompression bombs for the input-bound tests: small on disk, large inflated."""

from __future__ import annotations

import gzip
import struct
import zipfile
from pathlib import Path

from tests.helpers.cbp_files import ZIP_TIME

CBP_HEADER = b'"FIPSTATE","NAICS","EMPFLAG","EMP_NF","EMP","AP_NF","AP","EST"\n'
MIB = 1 << 20


def zip_bomb(path: Path, mib: int, *, header: bytes = CBP_HEADER, member: str = "cbp11st.txt", fill: bytes = b"0") -> Path:
    """A zip whose one member is `header` then `mib` MiB of `fill` repeated (zeros without a newline
    by default: ~1000x deflate)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = (fill * (MIB // len(fill) + 1))[:MIB]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(member, date_time=ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w") as fh:
            fh.write(header)
            for _ in range(mib):
                fh.write(block)
    return path


def declare_size(path: Path, size: int) -> Path:
    """Make the zip lie: its (one) member's declared uncompressed size becomes `size`, in the local
    and the central header, so only the inflating loop can see the truth."""
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, size)
    struct.pack_into("<I", data, central + 24, size)
    path.write_bytes(bytes(data))
    return path


def gzip_bomb(path: Path, mib: int, *, header: bytes = b"nace_r2,indic_sb,geo\\time\t2010\n") -> Path:
    """A gzip file: `header` then `mib` MiB of zeros without a newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = b"0" * MIB
    with gzip.open(path, "wb", compresslevel=6) as fh:
        fh.write(header)
        for _ in range(mib):
            fh.write(block)
    return path
