"""Immutable raw archive: every fetched file kept once per content, with an append-only manifest."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_lock = threading.RLock()
ANNOTATION = "annotation"  # manifest lines adding a field to an archived file's record


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks (never whole into memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class RawFile:
    """One archived upstream file and where it came from."""

    source_id: str
    url: str | None
    path: Path
    sha256: str
    bytes: int
    retrieved_at: str
    etag: str | None = None
    last_modified: str | None = None
    served_from: str = "upstream"  # "upstream", "mirror:<version>" or "packaged:<version>" (assets/reference)
    mirror_kind: str | None = None
    attribution: str | None = None
    note: str | None = None
    naics_vintage: str | None = None  # NAICS vintage detected from the file's codes (CBP; at staging)
    new: bool = True

    def manifest_record(self, root: Path) -> dict[str, Any]:
        rec = asdict(self)
        rec["path"] = str(self.path.relative_to(root))
        rec.pop("new")
        return rec

    def source_record(self) -> dict[str, Any]:
        """The record staging sidecars and release sources cite: every field, the path as is, no `new`."""
        rec = asdict(self)
        rec["path"] = str(self.path)
        rec.pop("new", None)
        return rec


def _safe_id(source_id: str) -> Path:
    parts = [p for p in source_id.split("/") if p]
    if not parts or any(p in {".", ".."} for p in parts):
        raise ValueError(f"bad source id {source_id!r}")
    return Path(*parts)


class RawArchive:
    """warehouse/raw/<source-id>/<sha256[:16]>/<file> plus manifest.jsonl per source id."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def source_dir(self, source_id: str) -> Path:
        return self.root / _safe_id(source_id)

    def manifest_path(self, source_id: str) -> Path:
        return self.source_dir(source_id) / "manifest.jsonl"

    def entries(self, source_id: str) -> list[dict[str, Any]]:
        """The archived files of a source, oldest first, with their latest annotations folded in."""
        mf = self.manifest_path(source_id)
        if not mf.exists():
            return []
        lines = [json.loads(line) for line in mf.read_text().splitlines() if line.strip()]
        files = [rec for rec in lines if ANNOTATION not in rec]
        for note in (rec for rec in lines if ANNOTATION in rec):
            for rec in files:
                if rec["sha256"] == note["sha256"]:
                    rec.update(note["fields"])
        return files

    def record_naics_vintage(self, source_id: str, sha256: str, evidence: dict[str, Any]) -> bool:
        """Append the NAICS vintage detected in an archived file (and the evidence) to its manifest.

        The manifest stays append-only: an annotation line names the file by sha256; nothing is
        written when the manifest already says the same. Returns whether a line was written."""
        fields = {"naics_vintage": evidence["naics_vintage"]}
        with _lock:
            current = next((r for r in self.entries(source_id) if r["sha256"] == sha256), None)
            if current is None:
                raise KeyError(f"{source_id}: no archived file with sha256 {sha256}")
            if all(current.get(k) == v for k, v in fields.items()):
                return False
            line = json.dumps({ANNOTATION: "naics_vintage", "sha256": sha256, "fields": fields, "evidence": evidence}, sort_keys=True)
            with open(self.manifest_path(source_id), "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        return True

    def latest(self, source_id: str) -> RawFile | None:
        entries = self.entries(source_id)
        if not entries:
            return None
        rec = dict(entries[-1])
        rec["path"] = self.root / rec["path"]
        return RawFile(**rec, new=False)

    def tmp_dir(self) -> Path:
        d = self.root / ".tmp"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def store(self, tmp: Path, filename: str, meta: RawFile) -> RawFile:
        """Move a fully written temp file into the archive unless identical bytes are there."""
        src_dir = self.source_dir(meta.source_id)
        with _lock:
            for rec in self.entries(meta.source_id):
                if rec["sha256"] == meta.sha256:
                    tmp.unlink(missing_ok=True)
                    existing = dict(rec)
                    existing["path"] = self.root / existing["path"]
                    return RawFile(**existing, new=False)
            dest = src_dir / meta.sha256[:16] / filename
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():  # same prefix, different content: never overwrite
                dest = src_dir / meta.sha256 / filename
                dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
            os.chmod(dest, 0o444)
            stored = RawFile(**{**asdict(meta), "path": dest, "new": True})
            line = json.dumps(stored.manifest_record(self.root), sort_keys=True)
            with open(self.manifest_path(meta.source_id), "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            return stored
