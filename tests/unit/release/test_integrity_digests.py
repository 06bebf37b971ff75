"""verify_release hashes each file once per process while the file is untouched, and again as
soon as anything wrote to it (even a same-size rewrite with its old mtime put back)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pipelines.release import integrity


def _release(root: Path) -> Path:
    rel = root / "v1"
    (rel / "data").mkdir(parents=True)
    files = {"data/a.parquet": b"alpha-bytes", "README.md": b"# release\n"}
    for name, data in files.items():
        (rel / name).write_bytes(data)
    (rel / "SHA256SUMS").write_text(
        "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(files.items()))
    )
    return rel


def test_untouched_files_are_hashed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rel = _release(tmp_path)
    calls: list[Path] = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda p: calls.append(p) or real(p))
    assert integrity.verify_release(rel) == []
    first = len(calls)
    assert first == 2
    assert integrity.verify_release(rel) == []
    assert len(calls) == first  # reused: nothing changed


def test_a_same_size_rewrite_with_its_mtime_put_back_is_caught(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    assert integrity.verify_release(rel) == []
    f = rel / "data" / "a.parquet"
    st = f.stat()
    f.write_bytes(b"ALPHA-BYTES")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # old mtime back: only ctime tells
    assert integrity.verify_release(rel) == ["data/a.parquet: sha256 mismatch"]
