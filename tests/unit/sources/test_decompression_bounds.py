"""Issue 20, inputs that can take the host down: zip and gzip bombs stop at the decompression
limits (size and ratio, declared and real), lines at MAX_LINE, each with one error naming source,
file (and member) and the limit, at a bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from pipelines.config import (
    DEFAULT_MAX_COMPRESSION_RATIO,
    DEFAULT_MAX_UNCOMPRESSED,
    PROJECT_ROOT,
    DecompressionLimits,
    Settings,
)
from pipelines.defs.resources import ObservatoryResource
from pipelines.errors import SourceError
from pipelines.raw.archive import RawArchive, sha256_file
from pipelines.sources import cbp
from pipelines.sources import eurostat as es
from pipelines.sources.bounds import MAX_LINE, OUT_CHUNK, LineBound
from pipelines.staging.cbp import stage_cbp
from pipelines.staging.eu_sbs import load_eu_industry
from tests.helpers.bombs import CBP_HEADER, MIB, declare_size, gzip_bomb, zip_bomb

SID = "census/cbp/state/2011"
NO_RATIO = 1e9  # a limit that never trips, to test the other one alone


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


def test_declared_size_at_the_limit_passes_one_byte_over_fails(tmp_path: Path) -> None:
    z = zip_bomb(tmp_path / "cbp11st.zip", 4, header=b"a,b\n", fill=b"1,2\n")
    size = zipfile.ZipFile(z).infolist()[0].file_size
    out = cbp.extract_member(z, tmp_path / "ok", SID, DecompressionLimits(max_bytes=size, max_ratio=NO_RATIO))
    assert out.stat().st_size == size
    cbp.validate_zip(z, DecompressionLimits(max_bytes=size, max_ratio=NO_RATIO))
    tight = DecompressionLimits(max_bytes=size - 1, max_ratio=NO_RATIO)
    with pytest.raises(SourceError) as err:
        cbp.extract_member(z, tmp_path / "bomb", SID, tight)
    msg = _one_line(err)
    assert SID in msg and str(z) in msg and "cbp11st.txt" in msg, msg
    assert "OBSERVATORY_MAX_UNCOMPRESSED" in msg and "declared size" in msg, msg
    assert not (tmp_path / "bomb").exists()  # refused before a byte was inflated
    with pytest.raises(ValueError, match="OBSERVATORY_MAX_UNCOMPRESSED"):
        cbp.validate_zip(z, tight)


def test_a_lying_declared_size_is_caught_while_inflating(tmp_path: Path) -> None:
    limit = 8 * MIB
    z = declare_size(zip_bomb(tmp_path / "cbp11st.zip", 64, fill=b"1,2\n"), limit)  # 64 MiB inside, says 8
    dest = tmp_path / "x"
    with pytest.raises(SourceError) as err:
        cbp.extract_member(z, dest, SID, DecompressionLimits(max_bytes=limit, max_ratio=NO_RATIO))
    msg = _one_line(err)
    assert SID in msg and "cbp11st.txt" in msg and "beyond 8 MiB (OBSERVATORY_MAX_UNCOMPRESSED)" in msg, msg
    assert (dest / "cbp11st.txt").stat().st_size <= limit  # stopped at the limit, not at 64 MiB


def test_compression_ratio_declared_and_real(tmp_path: Path) -> None:
    z = zip_bomb(tmp_path / "cbp11st.zip", 16)  # zeros: ~1000x
    with pytest.raises(SourceError) as err:
        cbp.extract_member(z, tmp_path / "a", SID)  # the defaults: 200x
    msg = _one_line(err)
    assert "more than 200x" in msg and "OBSERVATORY_MAX_COMPRESSION_RATIO" in msg and "declared size" in msg, msg
    with pytest.raises(ValueError, match="OBSERVATORY_MAX_COMPRESSION_RATIO"):
        cbp.validate_zip(z)
    declare_size(z, 1000)  # says 1000 bytes: only the inflating loop sees the ratio
    with pytest.raises(SourceError) as err:
        cbp.extract_member(z, tmp_path / "b", SID)
    msg = _one_line(err)
    assert "more than 200x" in msg and "declared size" not in msg, msg
    assert (tmp_path / "b" / "cbp11st.txt").stat().st_size <= OUT_CHUNK


def test_ratio_limit_at_the_boundary_of_a_real_file(mirror_dir: Path, tmp_path: Path) -> None:
    z = mirror_dir / "www2.census.gov/programs-surveys/cbp/datasets/2011/cbp11st.zip"
    info = zipfile.ZipFile(z).infolist()[0]
    ratio = info.file_size / info.compress_size  # ~5.2
    cbp.extract_member(z, tmp_path / "ok", SID, DecompressionLimits(max_ratio=ratio * 1.01))
    with pytest.raises(SourceError, match="OBSERVATORY_MAX_COMPRESSION_RATIO"):
        cbp.extract_member(z, tmp_path / "no", SID, DecompressionLimits(max_ratio=ratio * 0.99))


def test_defaults_are_far_above_every_real_file(mirror_dir: Path) -> None:
    assert (DEFAULT_MAX_UNCOMPRESSED, DEFAULT_MAX_COMPRESSION_RATIO) == (4 << 30, 200.0)
    for z in sorted((mirror_dir / "www2.census.gov").rglob("*.zip")):
        for info in zipfile.ZipFile(z).infolist():
            assert info.file_size * 10 < DEFAULT_MAX_UNCOMPRESSED
            assert info.file_size / info.compress_size * 10 < DEFAULT_MAX_COMPRESSION_RATIO, z


def test_a_member_without_newlines_is_refused_at_the_line_bound(tmp_path: Path) -> None:
    z = zip_bomb(tmp_path / "cbp11st.zip", 3, header=b"")
    with pytest.raises(SourceError) as err:
        cbp.extract_member(z, tmp_path / "x", SID, DecompressionLimits(max_ratio=NO_RATIO))
    msg = _one_line(err)
    assert SID in msg and "cbp11st.txt" in msg and "line 1 is longer than 1 MiB" in msg, msg


def test_header_reader_reads_a_bounded_line(tmp_path: Path) -> None:
    text = tmp_path / "cbp11st.txt"
    text.write_bytes(b"0" * (32 * MIB))
    tracemalloc.start()
    try:
        with pytest.raises(SourceError) as err:
            cbp.scan_cbp(text, SID, "https://example.test/cbp11st.zip")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MIB  # read at most MAX_LINE + 2 characters, never the 32 MiB line
    msg = _one_line(err)
    assert SID in msg and "cbp11st.txt: header line longer than 1 MiB" in msg, msg
    header = b"fipstate,naics,emp,ap,est," + b"x" * (MAX_LINE - 26)
    assert len(header) == MAX_LINE
    text.write_bytes(header + b"\n")  # a header of exactly MAX_LINE bytes is read
    assert cbp.scan_cbp(text, SID, "x")[1].columns[-1] == "est"  # (the long column is not used)


@pytest.mark.parametrize("pieces", [[MAX_LINE], [10, MAX_LINE - 10], [MAX_LINE // 2, MAX_LINE - MAX_LINE // 2]])
def test_line_bound_is_exact_across_blocks(pieces: list[int]) -> None:
    ok = LineBound("s", "f", "m")
    for i, n in enumerate(pieces):  # a line of exactly MAX_LINE bytes, split across blocks
        ok.feed(b"a" * n + (b"\n" if i == len(pieces) - 1 else b""))
    ok.feed(b"b\n" * 5 + b"c" * MAX_LINE)
    over = LineBound("s", "f", "m")
    over.feed(b"x\n" + b"a" * pieces[0])
    with pytest.raises(SourceError, match="line 2 is longer than 1 MiB"):
        over.feed(b"a" * (MAX_LINE - pieces[0] + 1) + b"\n")


def test_eurostat_gzip_bomb(tmp_path: Path) -> None:
    gz = gzip_bomb(tmp_path / "sbs_r_nuts06_r2.tsv.gz", 32)
    with pytest.raises(SourceError) as err:
        es.decompress_tsv(gz, tmp_path / "a", source="eurostat/x", location="https://example.test/x")
    msg = _one_line(err)
    assert "eurostat/x" in msg and "sbs_r_nuts06_r2.tsv.gz" in msg and "more than 200x" in msg, msg
    with pytest.raises(SourceError) as err:
        es.decompress_tsv(gz, tmp_path / "b", source="eurostat/x", limits=DecompressionLimits(max_bytes=MIB, max_ratio=NO_RATIO))
    assert "beyond 1 MiB (OBSERVATORY_MAX_UNCOMPRESSED)" in _one_line(err)
    assert sum(p.stat().st_size for p in (tmp_path / "b").iterdir()) <= MIB
    with pytest.raises(SourceError, match="line 2 is longer than 1 MiB"):  # the zeros after the header
        es.parse_tsv(gz, "eurostat/x", "u", tmp_path / "c", DecompressionLimits(max_ratio=NO_RATIO))


def test_eurostat_header_without_newline_is_refused(tmp_path: Path) -> None:
    gz = gzip_bomb(tmp_path / "x.tsv.gz", 32, header=b"")
    tracemalloc.start()
    try:
        with pytest.raises(SourceError) as err:
            es.read_tsv_header(gz, "eurostat/x", "u")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MIB  # MAX_LINE characters at most, never the 32 MiB line
    assert "x.tsv.gz: header line longer than 1 MiB" in _one_line(err)


def test_eurostat_real_file_inflates_within_the_defaults(mirror_dir: Path, tmp_path: Path) -> None:
    gz = mirror_dir / "ec.europa.eu/eurostat/sbs_r_nuts06_r2.tsv.gz"
    out = es.decompress_tsv(gz, tmp_path)
    assert out.stat().st_size == 10_979_964


def test_decompression_limits_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OBSERVATORY_MAX_UNCOMPRESSED", "500MB")
    monkeypatch.setenv("OBSERVATORY_MAX_COMPRESSION_RATIO", "50")
    s = Settings.from_env()
    assert s.decompression_limits == DecompressionLimits(500_000_000, 50.0)
    monkeypatch.setenv("OBSERVATORY_MAX_UNCOMPRESSED", "2GiB")
    assert Settings.from_env().max_uncompressed == 2 << 30
    # inside Dagster runs (the resource names some settings; these keep their environment values)
    dagster = ObservatoryResource(warehouse="wh", cbp_years="2010").settings()
    assert dagster.decompression_limits == DecompressionLimits(2 << 30, 50.0)
    monkeypatch.setenv("OBSERVATORY_MAX_UNCOMPRESSED", "lots")
    with pytest.raises(ValueError, match="OBSERVATORY_MAX_UNCOMPRESSED"):
        Settings.from_env()
    monkeypatch.delenv("OBSERVATORY_MAX_UNCOMPRESSED")
    monkeypatch.setenv("OBSERVATORY_MAX_COMPRESSION_RATIO", "0.5")
    with pytest.raises(ValueError, match="OBSERVATORY_MAX_COMPRESSION_RATIO"):
        Settings.from_env()


STAGE_BOMB = """
import json, resource, sys
from pathlib import Path
from pipelines.errors import SourceError
from pipelines.staging.cbp import stage_cbp_file
zip_path, work = Path(sys.argv[1]), Path(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    stage_cbp_file(zip_path, work / "out.parquet", year=2011, source_id="census/cbp/state/2011",
                   sha256="0" * 64, location=str(zip_path), work_dir=work)
    error = None
except SourceError as exc:
    error = str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "after_kib": after, "error": error}))
"""


def test_staging_a_bomb_stays_at_bounded_memory(tmp_path: Path) -> None:
    """Staging a 256 MiB bomb (~0.25 MB on disk) that lies about its size: one error, and the
    process grows by a few MiB (before the fix it held the whole member in memory at once)."""
    z = declare_size(zip_bomb(tmp_path / "cbp11st.zip", 256), 100_000)
    assert z.stat().st_size < MIB
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", STAGE_BOMB, str(z), str(tmp_path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    res = json.loads(run.stdout.strip().splitlines()[-1])
    assert res["error"] and "more than 200x" in res["error"] and "cbp11st.txt" in res["error"], res
    grew_mib = (res["after_kib"] - res["before_kib"]) / 1024
    assert grew_mib < 64, res


def test_stage_cbp_refuses_a_bomb_before_it_reaches_the_archive(tmp_path: Path) -> None:
    """The run's settings reach the zip check of the download: a member beyond the configured ratio
    is refused as invalid content, and the raw archive never holds it."""
    mirror = tmp_path / "mirror"
    z = zip_bomb(mirror / "cbp11st.zip", 4, header=CBP_HEADER, fill=b'"01","------","","G",1,"G",1,1\n')
    url = cbp.url(2011, "state")
    entry = {"id": SID, "url": url, "path": "cbp11st.zip", "sha256": sha256_file(z), "kind": "upstream-file"}
    (mirror / "index.json").write_text(json.dumps({"mirror_version": "t", "entries": [entry]}))
    size = zipfile.ZipFile(z).infolist()[0].file_size
    s = Settings(warehouse=tmp_path / "wh", mirror=mirror, offline=True, max_uncompressed=size - 1, max_compression_ratio=NO_RATIO)
    with pytest.raises(SourceError) as err:
        stage_cbp(s, 2011, "state")
    msg = _one_line(err)
    assert "invalid content" in msg and "OBSERVATORY_MAX_UNCOMPRESSED" in msg and SID in msg, msg
    assert RawArchive(s.raw_dir).entries(SID) == []


def test_eurostat_staging_inflates_within_the_run_settings(mirror_dir: Path, tmp_path: Path) -> None:
    s = Settings(warehouse=tmp_path / "wh", mirror=mirror_dir, offline=True, max_uncompressed=10 * MIB)  # the file: 10.5 MiB
    with pytest.raises(SourceError) as err:
        load_eu_industry(s, ("sbs_r_nuts06_r2",)).collect()
    msg = _one_line(err)
    assert "eurostat/sbs_r_nuts06_r2" in msg and "sbs_r_nuts06_r2.tsv.gz inflates beyond 10 MiB" in msg, msg
