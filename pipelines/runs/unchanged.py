"""An unchanged `observatory run` in seconds: decide "nothing changed" from fingerprints before
recomputing anything.

After a complete run, `record_run` stores the run's input key beside the release it published
(or found unchanged). The key covers everything a release depends on: every file of the mirror
(a superset of the inputs: an edit anywhere there means a full run), the staged Census API pulls,
the region-groups file, every setting (Settings and the release-shaping switches that live
outside it), the code fingerprint (code, SQL rules, schemas, lock file) and the Python version.
`unchanged_release` then answers, before any stage runs: the key is the same and the latest
release is still the one recorded, so a full run would publish nothing.

Only runs whose inputs are all local have a key (offline with a mirror): an online run cannot
know whether upstream changed without fetching, so it always runs in full.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from pipelines.config import Settings, eurostat_datasets_spec, release_csv_spec
from pipelines.fingerprints import code_fingerprint
from pipelines.layout import census_api_dir, read_latest

STATE_FILE = "last_run.json"  # in the warehouse: the key of the last complete run and its release


@dataclasses.dataclass(frozen=True)
class InputKey:
    key: str
    files: dict[str, list[Any]]  # path -> [size, mtime_ns, sha256]: lets the next run skip rehashing


def state_path(settings: Settings) -> Path:
    return settings.warehouse / STATE_FILE


def _read_state(settings: Settings) -> dict[str, Any]:
    try:
        return json.loads(state_path(settings).read_text())
    except (OSError, ValueError):
        return {}


def _walk(root: Path) -> list[Path]:
    """Every file under root, following symlinks (mirror copies link to the shared files)."""
    out = []
    for dirpath, _dirs, names in os.walk(root, followlinks=True):
        out.extend(Path(dirpath) / n for n in names)
    return sorted(out)


def _digest(path: Path, known: dict[str, list[Any]]) -> list[Any]:
    """[size, mtime_ns, sha256] of a file; the sha256 is reused when size and mtime are unchanged."""
    st = path.stat()
    prev = known.get(str(path))
    if prev and prev[0] == st.st_size and prev[1] == st.st_mtime_ns:
        return prev
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return [st.st_size, st.st_mtime_ns, h.hexdigest()]


def _settings_text(settings: Settings) -> str:
    fields = {f.name: str(getattr(settings, f.name)) for f in dataclasses.fields(settings)}
    fields["release_csv"] = release_csv_spec()
    fields["eurostat_datasets"] = str(eurostat_datasets_spec())
    return json.dumps(fields, sort_keys=True)


def input_key(settings: Settings) -> InputKey | None:
    """The run's input key, or None when the inputs are not all local (online run, no mirror)."""
    if not (settings.offline and settings.mirror and settings.mirror.is_dir()):
        return None
    known = _read_state(settings).get("files", {})
    paths = _walk(settings.mirror)
    if census_api_dir(settings).is_dir():
        paths += _walk(census_api_dir(settings))
    if settings.region_groups and settings.region_groups.is_file():
        paths.append(settings.region_groups)
    files = {str(p): _digest(p, known) for p in paths}
    h = hashlib.sha256()
    h.update(f"code={code_fingerprint()}\npython={sys.version_info[:2]}\n".encode())
    h.update(_settings_text(settings).encode())
    for p, (_size, _mtime, sha) in files.items():
        h.update(f"\n{p}={sha}".encode())
    return InputKey(h.hexdigest(), files)


def unchanged_release(settings: Settings, key: InputKey | None = None) -> dict[str, Any] | None:
    """The latest release ({version, path, fingerprint}) when this run's inputs, settings and code
    are those of the last complete run and that run's release is still the latest; else None.
    Call it after release.integrity.heal_latest, which verifies the latest release and re-points
    latest away from damaged bytes, so a tampered release is never served as "unchanged"."""
    key = key or input_key(settings)
    if key is None:
        return None
    state = _read_state(settings)
    latest = read_latest(settings.releases_dir)
    if not latest or state.get("key") != key.key:
        return None
    if state.get("version") != latest.get("version") or state.get("fingerprint") != latest.get("fingerprint"):
        return None  # another run published (or a release was deleted) since
    path = settings.releases_dir / str(latest["version"])
    if not (path / "datapackage.json").is_file():
        return None
    return {"version": latest["version"], "path": path, "fingerprint": latest["fingerprint"]}


def record_run(settings: Settings, key: InputKey | None, release: dict[str, Any]) -> None:
    """After a complete run: the key it started with and the release it published or kept."""
    if key is None or not release.get("version") or not release.get("fingerprint"):
        return
    state = {"key": key.key, "version": release["version"], "fingerprint": release["fingerprint"], "files": key.files}
    tmp = state_path(settings).with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, state_path(settings))
