"""Copy a published release to object storage (S3-compatible) or another folder, for dashboards
that read the Parquet files remotely.

The destination mirrors the local layout (`DEST/<version>/...` and `DEST/latest.json`) and keeps
the release contract: a version already at DEST is never overwritten with different content (an
identical one is left alone, a partly pushed one is completed), every file of the version is
written before its `SHA256SUMS`, then `DEST/latest/` (what the release page's "How to read" and the
README point readers at: a symlink in a folder, a copy of the version's files on S3), and
`latest.json` last, only after the whole version is in place; neither ever moves back to an older
version. A DEST inside a published release (the warehouse's own `releases/<v>/`, through `..` or
symlinks too) is refused: pushing must never write into a release.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from pipelines.layout import read_latest
from pipelines.raw.archive import sha256_file
from pipelines.release.integrity import verify_release
from pipelines.release.versions import version_key

CONTENT_TYPES = {
    ".parquet": "application/vnd.apache.parquet", ".json": "application/json", ".jsonld": "application/ld+json",
    ".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8", ".csv": "text/csv; charset=utf-8",
    ".cff": "text/plain; charset=utf-8", ".zip": "application/zip",
}  # fmt: skip
SHA_META = "sha256"  # S3 object metadata key (x-amz-meta-sha256) recording each file's digest


class PushError(RuntimeError):
    """A push that would overwrite different content, or a release that is not intact."""


@dataclass
class PushResult:
    version: str
    dest: str
    written: list[str] = field(default_factory=list)  # keys in the order they were written
    skipped: list[str] = field(default_factory=list)  # already at DEST with the same sha256
    bytes_written: int = 0
    latest_moved: bool = False


LATEST_DIR = "latest"  # DEST/latest/: the newest pushed version under a fixed name


class Target(Protocol):
    def describe(self, key: str) -> str: ...
    def sha256(self, key: str) -> str | None: ...  # None when the key does not exist
    def put(self, key: str, local: Path, digest: str) -> None: ...
    def get_text(self, key: str) -> str | None: ...
    def inside_release(self) -> str | None: ...  # the published release DEST lies in, if any
    def point_latest_dir(self, version: str, files: list[tuple[str, str]]) -> bool: ...  # True when it moved


class FolderTarget:
    """A local or mounted folder; each file is written to a temp name and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, key: str) -> str:
        return str(self.root / key)

    def sha256(self, key: str) -> str | None:
        p = self.root / key
        return sha256_file(p) if p.is_file() else None

    def put(self, key: str, local: Path, digest: str) -> None:
        dest = self.root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".push-{uuid.uuid4().hex[:8]}-{dest.name}"
        shutil.copyfile(local, tmp)
        os.replace(tmp, dest)

    def get_text(self, key: str) -> str | None:
        p = self.root / key
        return p.read_text() if p.is_file() else None

    def inside_release(self) -> str | None:
        """The release folder DEST is in or equal to (paths resolved: `..` and symlinks followed)."""
        root = self.root.resolve()
        for d in (root, *root.parents):
            if (d / "SHA256SUMS").is_file() and (d / "datapackage.json").is_file():
                return str(d)
        return None

    def point_latest_dir(self, version: str, files: list[tuple[str, str]]) -> bool:
        """DEST/latest → <version>, swapped in one atomic rename (as in the local releases folder)."""
        link = self.root / LATEST_DIR
        if link.is_symlink() and os.readlink(link) == version:
            return False
        if link.exists() and not link.is_symlink():
            raise PushError(f"{link} exists and is not a link; not replacing it")
        tmp = self.root / f".push-latest-{uuid.uuid4().hex[:8]}"
        os.symlink(version, tmp, target_is_directory=True)
        os.replace(tmp, link)
        return True


class S3Target:
    """An S3-compatible bucket (AWS, MinIO, Ceph, R2 …) through boto3: credentials from the
    standard AWS environment/config chain, endpoint from OBSERVATORY_S3_ENDPOINT_URL or
    AWS_ENDPOINT_URL(_S3)."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None, client: Any = None) -> None:
        import boto3

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url or None)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def describe(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _missing(self, exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in {"404", "NoSuchKey", "NotFound"}

    def sha256(self, key: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise
        digest = head.get("Metadata", {}).get(SHA_META)
        if digest:
            return digest
        # Written by another tool: hash the object itself rather than trust its ETag (multipart ETags are not MD5s).
        import hashlib

        h = hashlib.sha256()
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        for chunk in iter(lambda: body.read(1 << 20), b""):
            h.update(chunk)
        return h.hexdigest()

    def put(self, key: str, local: Path, digest: str) -> None:
        extra = {"Metadata": {SHA_META: digest}, "ContentType": CONTENT_TYPES.get(local.suffix, "application/octet-stream")}
        self.client.upload_file(str(local), self.bucket, self._key(key), ExtraArgs=extra)
        size = self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        if size != local.stat().st_size:
            raise PushError(f"{self.describe(key)}: uploaded {size} bytes, expected {local.stat().st_size}")

    def get_text(self, key: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read().decode()
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise

    def inside_release(self) -> str | None:
        """The pushed release the prefix is in or equal to (one holding datapackage.json and SHA256SUMS)."""
        parts = [p for p in self.prefix.split("/") if p]
        for n in range(len(parts), 0, -1):
            anc = "/".join(parts[:n])
            if all(self._exists(f"{anc}/{name}") for name in ("SHA256SUMS", "datapackage.json")):
                return f"s3://{self.bucket}/{anc}"
        return None

    def _exists(self, full_key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=full_key)
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise
        return True

    def point_latest_dir(self, version: str, files: list[tuple[str, str]]) -> bool:
        """Copy the version's objects to latest/ (server-side; SHA256SUMS last), then remove
        latest/ objects the version does not have. S3 has no links: a reader listing latest/
        during a push may see a mix, so consistent readers resolve latest.json first."""
        moved = False
        for rel, digest in files:
            key = f"{LATEST_DIR}/{rel}"
            if self.sha256(key) == digest:
                continue
            self.client.copy_object(
                Bucket=self.bucket, Key=self._key(key), CopySource={"Bucket": self.bucket, "Key": self._key(f"{version}/{rel}")},
                MetadataDirective="COPY",
            )
            moved = True
        keep = {self._key(f"{LATEST_DIR}/{rel}") for rel, _ in files}
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(f"{LATEST_DIR}/"))
        for page in pages:
            for obj in page.get("Contents", []):
                if obj["Key"] not in keep:
                    self.client.delete_object(Bucket=self.bucket, Key=obj["Key"])
                    moved = True
        return moved


def open_target(dest: str, endpoint_url: str | None = None, s3_client: Any = None) -> Target:
    """`s3://bucket/prefix` → S3Target; `file:///path` or a plain path → FolderTarget."""
    url = urlparse(dest)
    if url.scheme == "s3":
        if not url.netloc:
            raise PushError(f"push destination {dest!r}: no bucket (expected s3://bucket/prefix)")
        return S3Target(url.netloc, url.path, endpoint_url, s3_client)
    if url.scheme == "file":
        return FolderTarget(Path(unquote(url.path)))
    if url.scheme and len(url.scheme) > 1:  # (a Windows drive letter is not a scheme)
        raise PushError(f"push destination {dest!r}: unsupported scheme {url.scheme!r} (use s3://, file:// or a folder)")
    return FolderTarget(Path(dest).expanduser().resolve())


def _release_files(folder: Path) -> Iterator[tuple[str, str]]:
    """(relative path, sha256) of every file from SHA256SUMS, SHA256SUMS itself last."""
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, rel = line.split("  ", 1)
            yield rel, digest
    yield "SHA256SUMS", sha256_file(folder / "SHA256SUMS")


def push_release(
    releases_dir: Path,
    dest: str,
    version: str | None = None,
    *,
    endpoint_url: str | None = None,
    s3_client: Any = None,
    progress: Callable[[str], None] | None = None,
) -> PushResult:
    """Copy one release (default: the latest) to DEST, then point DEST/latest.json at it unless
    DEST already names a newer version. Raises PushError, writing nothing, when the release is not
    intact or DEST holds different content under the same version."""
    version, folder = _release_to_push(releases_dir, version)
    target = open_target(dest, endpoint_url, s3_client)
    _refuse_release_dest(releases_dir, dest, target)
    files = list(_release_files(folder))
    # Check everything before writing anything: a version at DEST is immutable.
    remote = {rel: target.sha256(f"{version}/{rel}") for rel, _ in files}
    clash = [rel for rel, digest in files if remote[rel] is not None and remote[rel] != digest]
    if clash:
        raise PushError(
            f"{target.describe(version)} already exists with different content ({', '.join(clash[:5])}"
            f"{' …' if len(clash) > 5 else ''}); releases are immutable, not overwriting"
        )
    result = PushResult(version, dest)
    for rel, digest in files:  # SHA256SUMS comes last: its presence marks a complete version
        key = f"{version}/{rel}"
        if remote[rel] == digest:
            result.skipped.append(key)
            continue
        target.put(key, folder / rel, digest)
        result.written.append(key)
        result.bytes_written += (folder / rel).stat().st_size
        if progress:
            progress(key)
    _point_dest_latest(target, folder, version, result)
    return result


def _refuse_release_dest(releases_dir: Path, dest: str, target: Target) -> None:
    """PushError when DEST is inside a published release, or is this warehouse's releases folder
    (pushing there would write into its releases): releases are immutable."""
    inside = target.inside_release()
    if inside:
        raise PushError(f"push destination {dest!r} is inside the published release {inside}; releases are immutable, choose another DEST")
    if isinstance(target, FolderTarget) and releases_dir.is_dir():
        root, own = target.root.resolve(), releases_dir.resolve()
        if root == own or own in root.parents:
            raise PushError(f"push destination {dest!r} is inside this warehouse's releases folder {own}; choose another DEST")


def _release_to_push(releases_dir: Path, version: str | None) -> tuple[str, Path]:
    """The version to push (default: the latest) and its folder; PushError unless it is intact."""
    latest_local = read_latest(releases_dir) or {}
    version = version or latest_local.get("version")
    if not version:
        raise PushError(f"no release to push: {releases_dir / 'latest.json'} is missing")
    folder = releases_dir / version
    if not (folder / "datapackage.json").is_file():
        raise PushError(f"no release {version} in {releases_dir}")
    problems = verify_release(folder)
    if problems:
        raise PushError(f"release {folder} is not intact, not pushing: {'; '.join(problems[:5])}")
    return version, folder


def _point_dest_latest(target: Target, folder: Path, version: str, result: PushResult) -> None:
    """Point DEST/latest.json at the pushed version (recorded in result), unless it names a newer one."""
    current = target.get_text("latest.json")
    current_version = json.loads(current).get("version") if current else None
    if current_version and version_key(current_version) > version_key(version):
        return  # DEST already points at a newer release; pushing an older one never moves it back
    if target.point_latest_dir(version, list(_release_files(folder))):
        result.written.append(f"{LATEST_DIR}/")
        result.latest_moved = True
    pkg = json.loads((folder / "datapackage.json").read_text())
    pointer = {"version": version, "path": version, "fingerprint": pkg.get("fingerprint"), "created": pkg.get("created")}
    text = json.dumps(pointer, indent=2) + "\n"
    if current != text:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            fh.write(text)
        tmp = Path(fh.name)
        try:
            target.put("latest.json", tmp, sha256_file(tmp))
        finally:
            tmp.unlink(missing_ok=True)
        result.written.append("latest.json")
        result.latest_moved = True
