"""Offline mirror of upstream files: serve downloads by URL (or id) from a local index.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipelines.config import ASSETS_DIR


@dataclass(frozen=True)
class MirrorEntry:
    id: str
    url: str | None
    path: Path
    bytes: int
    sha256: str
    kind: str
    note: str
    attribution: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "kind": self.kind,
            "note": self.note,
            "attribution": self.attribution,
        }


class Mirror:
    """Index of a mirror directory (format of shared/mirror/index.json)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        index = self.root / "index.json"
        if not index.is_file():
            raise FileNotFoundError(f"mirror {self.root} has no index.json")
        data = json.loads(index.read_text())
        self.version: str = data.get("mirror_version", "")
        self.entries: list[MirrorEntry] = [
            MirrorEntry(
                id=e["id"],
                url=e.get("url"),
                path=self.root / e["path"],
                bytes=int(e.get("bytes", -1)),
                sha256=e["sha256"],
                kind=e.get("kind", ""),
                note=e.get("note", ""),
                attribution=e.get("attribution", ""),
            )
            for e in data["entries"]
        ]
        self._by_url = {e.url: e for e in self.entries if e.url}
        self._by_id = {e.id: e for e in self.entries}

    def lookup(self, url: str | None = None, entry_id: str | None = None) -> MirrorEntry | None:
        if url and url in self._by_url:
            return self._by_url[url]
        if entry_id and entry_id in self._by_id:
            return self._by_id[entry_id]
        return None

    def by_id(self, entry_id: str) -> MirrorEntry:
        try:
            return self._by_id[entry_id]
        except KeyError:
            raise KeyError(f"mirror {self.root} has no entry {entry_id!r}") from None


@lru_cache(maxsize=8)
def load_mirror(root: str) -> Mirror:
    return Mirror(Path(root))


# Reference data shipped with the package (assets/reference/index.json, same format as a mirror).
PACKAGED_REFERENCE = ASSETS_DIR / "reference"


def resolve(mirror: Path | None, url: str | None, entry_id: str | None) -> tuple[MirrorEntry | None, str]:
    """Where a file is served from: the configured mirror (by URL or id), else — for files that
    have no upstream URL — the packaged reference copy; returns (entry, served_from label).

    One lookup for every caller, so the CLI, Dagster and tests resolve reference data alike.
    """
    if mirror is not None:
        m = load_mirror(str(mirror))
        entry = m.lookup(url=url, entry_id=entry_id)
        if entry is not None:
            return entry, f"mirror:{m.version}"
    if url is None and entry_id and (PACKAGED_REFERENCE / "index.json").is_file():
        p = load_mirror(str(PACKAGED_REFERENCE))
        entry = p.lookup(entry_id=entry_id)
        if entry is not None:
            return entry, f"packaged:{p.version}"
    return None, "upstream"
