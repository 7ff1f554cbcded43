"""The one way a built title reaches its origin: checked first, published last.

`check_destination` runs before any work (both drivers call it ahead of probing), so a bad
title id, a malformed `s3://` URL, a missing bucket or an unwritable directory is reported in
seconds rather than after hours of encoding. `publish_title` then puts a validated title
directory on the origin: a local origin gets a hard-linked (or copied) staging folder renamed
into place (`pipeline.storage.local`), an S3 origin an upload with media first and manifests
last (`pipeline.storage.s3_publish`). The built directory is left intact, so a retried
publication simply runs again and gives the same title.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.errors import PipelineError
from pipeline.storage.local import check_title_id, discard, publish_local, staging_dir
from pipeline.storage.s3 import (
    check_access,
    endpoint_url,
    is_s3_url,
    join_key,
    parse_s3_url,
    public_url,
    s3_url,
)


@dataclass(frozen=True)
class Destination:
    """Where one title goes: ORIGIN/<title_id> on a directory or under an S3 prefix."""

    origin: str  # the directory, or s3://bucket/prefix as given
    title_id: str
    bucket: str | None = None  # set for S3 origins
    prefix: str = ""
    endpoint: str | None = None  # S3 endpoint, for http URLs of the published objects

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    @property
    def location(self) -> str:
        """The title's folder: a local path or an s3:// URL."""
        if self.bucket is not None:
            return s3_url(self.bucket, join_key(self.prefix, self.title_id))
        return str(Path(self.origin) / self.title_id)

    def url(self, name: str) -> str:
        """Where a file of the title lands (path or s3:// URL)."""
        if self.bucket is not None:
            return s3_url(self.bucket, join_key(self.prefix, self.title_id, name))
        return str(Path(self.origin) / self.title_id / name)

    def http_url(self, name: str) -> str | None:
        """The object's http URL on a known S3 endpoint (None for AWS itself or a directory)."""
        if self.bucket is None:
            return None
        return public_url(self.endpoint, self.bucket, join_key(self.prefix, self.title_id, name))


@dataclass(frozen=True)
class Published:
    """A title on its origin; `keys` are the S3 objects written, in upload order."""

    destination: Destination
    keys: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return self.destination.location


def check_destination(origin: str | Path, title_id: str) -> Destination:
    """Refuse a bad title id or an unusable origin now, before any encoding.

    Nothing is created: a local origin must be a writable directory, or a path whose nearest
    existing parent is one; an S3 origin must name a reachable bucket."""
    check_title_id(title_id)
    if is_s3_url(origin):
        bucket, prefix = parse_s3_url(str(origin))
        join_key(prefix, title_id)
        endpoint = endpoint_url()
        check_access(bucket)
        return Destination(str(origin), title_id, bucket, prefix, endpoint)
    if str(origin).startswith("s3:/"):  # Path("s3://b/p") collapsed the '//': not a dir
        raise PipelineError(origin, "pass an S3 origin as a string 's3://bucket/prefix'")
    root = Path(origin)
    _check_writable(root)
    return Destination(str(root), title_id)


def _check_writable(root: Path) -> None:
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise PipelineError(existing, "origin is not a directory", stage="publish")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PipelineError(existing, "origin directory is not writable", stage="publish")


def publish_title(title_dir: Path, destination: Destination) -> Published:
    """Put the validated title in `title_dir` on the origin; `title_dir` is left intact."""
    if not (title_dir / "master.m3u8").is_file():
        raise PipelineError(title_dir, "no packaged title to publish", stage="publish")
    if destination.bucket is not None:
        from pipeline.storage.s3_publish import publish_title_s3

        keys = publish_title_s3(
            title_dir, destination.bucket, destination.prefix, destination.title_id
        )
        return Published(destination, tuple(keys))
    root = Path(destination.origin)
    root.mkdir(parents=True, exist_ok=True)
    staged = staging_dir(root, destination.title_id)
    try:
        shutil.copytree(
            title_dir,
            staged,
            dirs_exist_ok=True,
            copy_function=_link_or_copy,
            ignore=shutil.ignore_patterns(".*"),  # scratch (.work), as the S3 upload skips it
        )
        publish_local(staged, root, destination.title_id)
    except BaseException:
        discard(staged, root)
        raise
    return Published(destination)


def _link_or_copy(src: str, dst: str) -> str:
    """Hard-link when the build shares the origin's filesystem (no bytes copied), else copy."""
    with contextlib.suppress(OSError):
        os.link(src, dst)
        return dst
    return shutil.copy2(src, dst)
