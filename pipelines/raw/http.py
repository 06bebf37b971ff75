"""The one download path: mirror or upstream, streamed, hashed, verified, then archived.\n\nThe session (retries, Retry-After cap) is pipelines/raw/session.py; URL redaction pipelines/raw/redact.py;
the bounded request (first-byte deadline, error status and failures as one SourceError) and body read
(deadline, decompression limits, byte cap) pipelines/raw/body.py.\n"""

from __future__ import annotations

import contextvars
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import requests

from pipelines.config import (
    DEFAULT_HTTP_DEADLINE,
    DEFAULT_HTTP_FIRST_BYTE_TIMEOUT,
    DecompressionLimits,
    Settings,
)
from pipelines.errors import SourceError
from pipelines.raw.archive import RawArchive, RawFile
from pipelines.raw.body import BodyCap, body_chunks, bounded_get
from pipelines.raw.mirror import MirrorEntry, resolve
from pipelines.raw.redact import redact_text, redact_url
from pipelines.raw.session import (
    FirstByteTimeoutError,
    RetryAfterTooLongError,
    first_byte_deadline,
    make_session,
)

CHUNK = 1 << 20
PROGRESS_MIN_BYTES = 5 << 20

Validator = Callable[[Path], None]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _filename(url: str | None, fallback: str) -> str:
    if url:
        name = Path(urlparse(url).path).name
        if name:
            return name
    return fallback


def _progress(total: int | None, label: str):
    if total and total >= PROGRESS_MIN_BYTES and sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False)
    return None


def _copy_from_mirror(entry: MirrorEntry, source_id: str, tmp: Path, where: str = "mirror") -> str:
    if not entry.path.is_file():
        raise SourceError(source_id, str(entry.path), f"{where} entry is listed but the file is missing")
    h = hashlib.sha256()
    with open(entry.path, "rb") as src, open(tmp, "wb") as dst:
        while chunk := src.read(CHUNK):
            h.update(chunk)
            dst.write(chunk)
    digest = h.hexdigest()
    if digest != entry.sha256:
        raise SourceError(
            source_id,
            str(entry.path),
            f"checksum mismatch in the {where}: index says sha256 {entry.sha256}, file has {digest}",
        )
    return digest


def _download(
    session: requests.Session,
    url: str,
    source_id: str,
    tmp: Path,
    timeout: tuple[float, float],
    deadline: float = DEFAULT_HTTP_DEADLINE,
    first_byte: float = DEFAULT_HTTP_FIRST_BYTE_TIMEOUT,
    limits: DecompressionLimits | None = None,
    cap: BodyCap | None = None,
) -> tuple[str, int, dict[str, str]]:
    """Stream `url` into `tmp`: a first byte within `first_byte` s (retries included, and no single
    wait longer), the body within `deadline` s, a gzip/deflate-encoded body inflating within
    `limits`, at most `cap` bytes, and exactly Content-Length bytes on the wire."""
    shown = redact_url(url) or url
    with bounded_get(session, url, source_id, shown, timeout=timeout, first_byte=first_byte) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        # The length check below is ours (naming got and expected bytes), counted on the wire.
        resp.raw.enforce_content_length = False
        h = hashlib.sha256()
        size = 0
        bar = _progress(total, source_id)
        with open(tmp, "wb") as fh:
            for chunk in body_chunks(
                resp, source_id, shown, deadline=deadline, limits=limits or DecompressionLimits(), cap=cap
            ):
                size += len(chunk)
                h.update(chunk)
                fh.write(chunk)
                if bar:
                    bar.update(len(chunk))
        if bar:
            bar.close()
        wire = resp.raw.tell()
        if total is not None and wire != total:
            raise SourceError(source_id, shown, f"truncated body: got {wire} of {total} bytes (Content-Length)")
        headers = {k: resp.headers[k] for k in ("ETag", "Last-Modified", "Content-Type") if k in resp.headers}
        return h.hexdigest(), size, headers


def fetch(
    source_id: str,
    url: str | None,
    settings: Settings,
    *,
    mirror_id: str | None = None,
    filename: str | None = None,
    validate: Validator | None = None,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (10.0, 120.0),
    deadline: float | None = None,
    cap: BodyCap | None = None,
) -> RawFile:
    """Fetch one file into the raw archive and return its archive record.

    The mirror (when configured) wins over upstream, so runs are offline and reproducible.
    `validate` sees the complete temp file before it is archived: bad bytes never reach the archive.
    The first byte must come within settings.http_first_byte_timeout seconds, retries included;
    the body within `deadline` seconds (default: settings.http_deadline) and `cap` bytes (decoded;
    the mirror, checked against its index, is not capped); an encoded body inflates within the
    settings' decompression limits.
    """
    archive = RawArchive(settings.raw_dir)
    public_url = redact_url(url)  # what manifests, errors and metadata record: never a key
    # The mirror when configured, else the packaged reference copy (assets/reference) for files without a URL.
    entry, served_from = resolve(settings.mirror, public_url, mirror_id or source_id)
    name = filename or _filename(url, entry.path.name if entry is not None and url is None else source_id.replace("/", "_"))
    _require_a_source(source_id, url, public_url, entry, settings)

    fd, tmp_name = tempfile.mkstemp(dir=archive.tmp_dir(), prefix="dl-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        headers: dict[str, str] = {}
        if entry is not None:
            digest = _copy_from_mirror(entry, source_id, tmp, served_from.split(":")[0])
            size = tmp.stat().st_size
            location = str(entry.path)
        else:
            assert url is not None
            digest, size, headers = _download_upstream(
                url, source_id, tmp, settings, session, timeout,
                settings.http_deadline if deadline is None else deadline, cap,
            )  # fmt: skip
            location = str(public_url)
        if validate is not None:
            _validate(validate, tmp, source_id, location)
        meta = RawFile(
            source_id=source_id,
            url=public_url,
            path=tmp,
            sha256=digest,
            bytes=size,
            retrieved_at=_now(),
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            served_from=served_from,
            mirror_kind=entry.kind if entry else None,
            attribution=entry.attribution if entry else None,
            note=entry.note if entry else None,
        )
        return _store(archive, tmp, name, meta)
    finally:
        if tmp.exists():
            tmp.unlink()


def _require_a_source(
    source_id: str, url: str | None, public_url: str | None, entry: MirrorEntry | None, settings: Settings
) -> None:
    """Raise SourceError when there is nothing to fetch from: no mirror entry and no URL, or offline."""
    if entry is None and url is None:
        raise SourceError(
            source_id,
            str(settings.mirror),
            "no upstream URL, no mirror entry and no packaged copy (assets/reference/index.json) for this reference file",
        )
    if entry is None and settings.offline:
        raise SourceError(source_id, str(public_url), "offline and the mirror has no copy of this URL")


def _download_upstream(
    url: str,
    source_id: str,
    tmp: Path,
    settings: Settings,
    session: requests.Session | None,
    timeout: tuple[float, float],
    deadline: float,
    cap: BodyCap | None = None,
) -> tuple[str, int, dict[str, str]]:
    """_download through `session`, or through a session of its own (closed after), with the
    settings' first-byte deadline and decompression limits."""
    own = session is None
    sess = session or make_session(retry_after_max=settings.http_retry_after_max)
    try:
        return _download(
            sess, url, source_id, tmp, timeout, deadline, settings.http_first_byte_timeout,
            settings.decompression_limits, cap,
        )  # fmt: skip
    finally:
        if own:
            sess.close()


def _validate(validate: Validator, tmp: Path, source_id: str, location: str) -> None:
    """Run the caller's check on the complete temp file; any failure is a SourceError naming the file."""
    try:
        validate(tmp)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(source_id, location, f"invalid content: {exc}") from exc


def _store(archive: RawArchive, tmp: Path, name: str, meta: RawFile) -> RawFile:
    """Archive the temp file and hand its record to an enclosing record_fetches block."""
    stored = archive.store(tmp, name, meta)
    recorder = _recorder.get()
    if recorder is not None:
        recorder.append(stored)
    return stored


_recorder: contextvars.ContextVar[list[RawFile] | None] = contextvars.ContextVar("fetch_recorder", default=None)


@contextmanager
def record_fetches() -> Iterator[list[RawFile]]:
    """Collect the archive record of every fetch inside the block (provenance for releases)."""
    records: list[RawFile] = []
    token = _recorder.set(records)
    try:
        yield records
    finally:
        _recorder.reset(token)



@dataclass(frozen=True)
class RemoteVersion:
    """What a cheap HEAD says about an upstream file: enough to tell a new vintage apart."""

    url: str  # redacted
    status: int
    etag: str | None = None
    last_modified: str | None = None
    content_length: int | None = None

    @property
    def exists(self) -> bool:
        return self.status < 400 or self.status == 304

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def token(self) -> str | None:
        """A version token: ETag, else Last-Modified, else Content-Length (None if absent)."""
        if not self.exists:
            return None
        if self.etag:
            return f"etag:{self.etag}"
        if self.last_modified:
            return f"lm:{self.last_modified}"
        if self.content_length is not None:
            return f"len:{self.content_length}"
        return None


class HostUnreachableError(SourceError):
    """No answer at all from the host (first-byte deadline, connection refused or timed out): a
    caller probing many files on one host need not wait the deadline out for each (raw/vintages.py).
    Any answer, even a 404 or a 503, is not this."""


def head(
    source_id: str,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (10.0, 30.0),
    first_byte: float = DEFAULT_HTTP_FIRST_BYTE_TIMEOUT,
) -> RemoteVersion:
    """Conditional HEAD (If-None-Match / If-Modified-Since): 304 means unchanged, 404 not yet out.

    Raises SourceError (naming source and redacted URL) on connection failures, on no response
    within `first_byte` s (retries included, as for downloads) — these two as HostUnreachableError —
    and on 5xx/429 that survive the session's retries; never downloads a body.
    """
    shown = redact_url(url) or url
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own = session is None
    sess = session or make_session(retries=3, backoff=0.5, max_backoff=30)
    try:
        with first_byte_deadline(first_byte):
            read = min(timeout[1], first_byte)
            resp = sess.head(url, headers=headers, timeout=(timeout[0], read), allow_redirects=True)
    except FirstByteTimeoutError as exc:
        raise HostUnreachableError(source_id, shown, f"HEAD: {exc}") from None
    except RetryAfterTooLongError as exc:
        raise SourceError(source_id, shown, f"HEAD: {exc}") from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise HostUnreachableError(source_id, shown, redact_text(f"HEAD failed: {type(exc).__name__}: {exc}")) from None
    except requests.RequestException as exc:
        raise SourceError(source_id, shown, redact_text(f"HEAD failed: {type(exc).__name__}: {exc}")) from None
    finally:
        if own:
            sess.close()
    if resp.status_code >= 500 or resp.status_code == 429:
        raise SourceError(source_id, shown, f"HEAD: HTTP {resp.status_code} {resp.reason}")
    length = resp.headers.get("Content-Length")
    return RemoteVersion(
        url=shown,
        status=resp.status_code,
        etag=resp.headers.get("ETag"),
        last_modified=resp.headers.get("Last-Modified"),
        content_length=int(length) if length and length.isdigit() else None,
    )
