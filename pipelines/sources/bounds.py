"""Bounded reading of untrusted compressed input: a zip member, gzip file or gzip-encoded body
stops at the decompression limits (pipelines.config.DecompressionLimits), and a text line stops at
MAX_LINE, so a bomb ends in one error naming source, file and limit at a bounded memory instead
of filling the RAM or the disk."""

from __future__ import annotations

import gzip
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from isal import isal_zlib

from pipelines.config import DecompressionLimits
from pipelines.errors import SourceError

OUT_CHUNK = 1 << 22  # at most this many decompressed bytes are in memory at once
# Longest line a text source may have. Real ones: CBP < 300 bytes, Eurostat TSV < 1 KB (the
# header grows ~10 bytes a year); 1 MiB is far above both and small enough to hold in memory.
MAX_LINE = 1 << 20


def human(n: float) -> str:
    """4294967296 → '4 GiB' (limits and sizes in messages)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.4g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.4g} TiB"  # pragma: no cover


class InflateBudget:
    """Counts what one member inflates to; raises a SourceError once it passes a limit."""

    def __init__(self, limits: DecompressionLimits, source: str, location: str, what: str) -> None:
        self.limits, self.source, self.location, self.what = limits, source, location, what

    def check(self, out: int, consumed: int) -> None:
        """`out` bytes inflated so far (in all) from `consumed` compressed bytes."""
        problem = inflate_problem(self.what, out, consumed, self.limits)
        if problem:
            raise SourceError(self.source, self.location, problem)


def inflate_problem(what: str, out: int, consumed: int, limits: DecompressionLimits) -> str | None:
    """Why `out` bytes inflated from `consumed` compressed ones pass the limits (None: they do not)."""
    if out > limits.max_bytes:
        return (
            f"{what} inflates beyond {human(limits.max_bytes)} (OBSERVATORY_MAX_UNCOMPRESSED); "
            f"stopped at {human(out)}: a decompression bomb or a corrupt file"
        )
    if out > limits.ratio_floor and out > limits.max_ratio * max(consumed, 1):
        return (
            f"{what} inflates more than {limits.max_ratio:g}x its compressed size "
            f"(OBSERVATORY_MAX_COMPRESSION_RATIO): {human(out)} from {human(consumed)}; "
            "a decompression bomb or a corrupt file"
        )
    return None


class LineBound:
    """Feeds blocks of a text stream; raises a SourceError when a line exceeds `max_line` bytes."""

    def __init__(self, source: str, location: str, what: str, max_line: int = MAX_LINE) -> None:
        self.source, self.location, self.what, self.max_line = source, location, what, max_line
        self.run = 0  # bytes since the last newline
        self.line = 1

    def feed(self, block: bytes) -> None:
        arr = np.frombuffer(block, np.uint8)
        nl = np.flatnonzero(arr == 10)
        if not len(nl):
            self.run += len(block)
            self._check(self.run, self.line)
            return
        first = self.run + int(nl[0])
        gaps = np.diff(nl) - 1
        longest = max(first, int(gaps.max()) if len(gaps) else 0)
        if longest > self.max_line:
            at = self.line if first > self.max_line else self.line + 1 + int(np.argmax(gaps))
            self._check(longest, at)
        self.line += len(nl)
        self.run = len(block) - 1 - int(nl[-1])
        self._check(self.run, self.line)

    def _check(self, length: int, line: int) -> None:
        if length > self.max_line:
            raise SourceError(
                self.source, self.location,
                f"{self.what}: line {line} is longer than {human(self.max_line)} "
                "(no newline): not a text file of this source, or a decompression bomb",
            )  # fmt: skip


def copy_gzip(src: Path, dst: BinaryIO, limits: DecompressionLimits, source: str, location: str) -> int:
    """Inflate a gzip file into `dst` in bounded chunks, within `limits`; returns the bytes written."""
    budget = InflateBudget(limits, source, location, src.name)
    lines = LineBound(source, location, src.name)
    out = 0
    with open(src, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
        try:
            while block := gz.read(OUT_CHUNK):
                out += len(block)
                budget.check(out, raw.tell())
                lines.feed(block)
                dst.write(block)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise SourceError(source, location, f"{src.name}: corrupt or truncated gzip: {exc}") from None
    return out


def inflate_zip_member(
    zip_path: Path, info: zipfile.ZipInfo, out: Path, budget: InflateBudget, lines: LineBound, chunk: int = 1 << 22
) -> None:
    """Inflate a deflate zip member with ISA-L (about twice zlib's speed; it releases the GIL), at
    most OUT_CHUNK bytes at a time, within `budget` and `lines`; CRC and size checked."""
    with open(zip_path, "rb") as fh, open(out, "wb") as dst:
        fh.seek(info.header_offset)
        local = fh.read(30)
        if local[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local header for {info.filename}")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        inflater = isal_zlib.decompressobj(-15)
        left, crc, size, fed = info.compress_size, 0, 0, 0
        while left or inflater.unconsumed_tail:
            data = inflater.unconsumed_tail
            if not data:
                data = fh.read(min(left, chunk))
                if not data:
                    raise zipfile.BadZipFile(f"{info.filename}: data ends early")
                left -= len(data)
                fed += len(data)
            try:  # at most OUT_CHUNK bytes out per call: a bomb never inflates whole into memory
                block = inflater.decompress(data, OUT_CHUNK)
            except isal_zlib.error as exc:
                raise zipfile.BadZipFile(f"{info.filename}: {exc}") from exc
            crc, size = isal_zlib.crc32(block, crc), size + len(block)
            budget.check(size, fed - len(inflater.unconsumed_tail))
            if size > info.file_size:
                raise zipfile.BadZipFile(f"{info.filename}: inflates beyond its declared size (member corrupt)")
            lines.feed(block)
            dst.write(block)
        block = inflater.flush()
        crc, size = isal_zlib.crc32(block, crc), size + len(block)
        budget.check(size, fed)
        lines.feed(block)
        dst.write(block)
    if crc != info.CRC or size != info.file_size:
        raise zipfile.BadZipFile(f"{info.filename}: CRC or size mismatch (member corrupt)")
