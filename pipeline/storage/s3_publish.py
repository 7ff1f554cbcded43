"""Publication of a finished local title onto an S3-compatible origin.

S3 has no rename, so a title cannot appear atomically as on a filesystem. What it does have is
an atomic PUT per object, and a player only finds media through the manifests. So objects go
up in three phases, each finished before the next starts:

1. media: init segments, media segments, WebVTT files (in parallel);
2. media playlists (variant, I-frame, subtitle playlists);
3. the entry points, `master.m3u8` then `manifest.mpd`.

A player that sees a new entry point therefore finds everything it references.

"Nothing half-published" on S3 means:

- First publication of a title: if anything fails, every object of this attempt is deleted,
  entry points first; the prefix is left as it was (empty).
- Republication over an existing title: if the failure happens before a new entry point is
  up, objects that did not exist before are deleted and the old manifests stay live. Objects
  that existed under the same names were overwritten (segment names are deterministic and
  S3 cannot restore them without bucket versioning), so replacing a title that is being
  watched is not seamless: publish a new title id for that. Once an entry point is up nothing
  is deleted: retrying finishes the job. After a successful republication, objects of the old
  version that the new one lacks are deleted, as `publish_local` drops the old directory.

Caching: init and media segments are `immutable` for a year (a URL never changes content
within a version; invalidate the CDN after a republication), WebVTT five minutes (subtitles
are the file most often corrected in place), playlists and manifests ten seconds.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import PipelineError
from pipeline.storage.local import check_title_id
from pipeline.storage.s3 import (
    check_bucket,
    check_prefix,
    join_key,
    reason,
    s3_client,
    s3_url,
    transfer_config,
)

log = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=10"
SUBTITLES = "public, max-age=300"
ENTRY_POINTS = ("master.m3u8", "manifest.mpd")  # uploaded last, in this order
TYPES: dict[str, tuple[str, str]] = {  # suffix -> (Content-Type, Cache-Control)
    ".m4s": ("video/iso.segment", IMMUTABLE),
    ".mp4": ("video/mp4", IMMUTABLE),
    ".vtt": ("text/vtt", SUBTITLES),  # also the thumbnail storyboard
    ".jpg": ("image/jpeg", IMMUTABLE),  # thumbnail tile images
    ".m3u8": ("application/vnd.apple.mpegurl", SHORT),
    ".mpd": ("application/dash+xml", SHORT),
}
OTHER = ("application/octet-stream", SHORT)
MANIFESTS = (".m3u8", ".mpd")
DELETE_BATCH = 1000  # DeleteObjects limit


@dataclass(frozen=True)
class Upload:
    path: Path
    key: str
    content_type: str
    cache_control: str

    @property
    def extra_args(self) -> dict[str, str]:
        return {"ContentType": self.content_type, "CacheControl": self.cache_control}


def publish_title_s3(
    title_dir: Path,
    bucket: str,
    prefix: str,
    title_id: str,
    *,
    client: Any = None,
    replace: bool = True,
) -> list[str]:
    """Upload TITLE_DIR to s3://BUCKET/PREFIX/TITLE_ID/ media first, entry points last;
    returns the keys in upload order. See the module docstring for the failure rules."""
    check_bucket(bucket)
    base = join_key(check_prefix(prefix), check_title_id(title_id))
    phases = plan_uploads(Path(title_dir), base)
    client = client or s3_client()
    existing = _existing(client, bucket, base)
    if existing and not replace:
        raise PipelineError(
            s3_url(bucket, base), "a title is already published here", stage="publish"
        )
    planned = [u.key for phase in phases for u in phase]
    landed: list[str] = []  # entry points that are live
    try:
        _upload_phases(client, bucket, phases, landed)
    except BaseException as e:
        rolled = _roll_back(client, bucket, planned, existing, landed)
        if isinstance(e, KeyboardInterrupt):
            raise
        raise PipelineError(
            s3_url(bucket, base), f"upload failed: {reason(e)}; {rolled}", stage="publish"
        ) from e
    stale = sorted(existing - set(planned))
    if stale:
        try:
            delete_keys(client, bucket, stale)
        except Exception as e:  # the new title is live and whole: leftovers are harmless
            log.warning("could not delete %d stale objects under %s: %s", len(stale), base, e)
    return planned


def plan_uploads(title_dir: Path, base: str) -> list[list[Upload]]:
    """The title's files as [media, media playlists, entry points]; hidden entries skipped,
    symlinks refused (they could point outside the title)."""
    if not title_dir.is_dir():
        raise PipelineError(title_dir, "title directory not found", stage="publish")
    media: list[Upload] = []
    playlists: list[Upload] = []
    entries: dict[str, Upload] = {}
    for root, dirs, files in os.walk(title_dir, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith("."):
                continue
            if path.is_symlink() or not path.is_file():
                raise PipelineError(path, "not a regular file: refusing to upload", stage="publish")
            rel = path.relative_to(title_dir).as_posix()
            content_type, cache = TYPES.get(path.suffix.lower(), OTHER)
            upload = Upload(path, join_key(base, rel), content_type, cache)
            if rel in ENTRY_POINTS:
                entries[rel] = upload
            elif path.suffix.lower() in MANIFESTS:
                playlists.append(upload)
            else:
                media.append(upload)
    if not entries:
        raise PipelineError(title_dir, "no master.m3u8 or manifest.mpd to publish", stage="publish")
    return [media, playlists, [entries[n] for n in ENTRY_POINTS if n in entries]]


def _upload_phases(client: Any, bucket: str, phases: list[list[Upload]], landed: list[str]) -> None:
    """Each phase in parallel on one transfer manager, waiting for all of it before the next;
    the entry points one by one. Leaving the `with` on an error cancels and drains in-flight
    transfers, so nothing lands after the roll-back."""
    from boto3.s3.transfer import create_transfer_manager

    *bulk, entries = phases
    with create_transfer_manager(client, transfer_config()) as manager:
        for phase in bulk:
            futures = [manager.upload(str(u.path), bucket, u.key, u.extra_args) for u in phase]
            for future in futures:
                future.result()
        for u in entries:
            manager.upload(str(u.path), bucket, u.key, u.extra_args).result()
            landed.append(u.key)


def _roll_back(
    client: Any, bucket: str, planned: list[str], existing: set[str], landed: list[str]
) -> str:
    """Delete what this attempt added, unless a new entry point already replaced an old one."""
    if existing and landed:
        return "a new entry point is already live, so nothing was deleted: retry to finish"
    doomed = [k for k in planned if k not in existing]
    entries = [k for k in doomed if k in landed]
    rest = [k for k in doomed if k not in landed]
    try:
        delete_keys(client, bucket, entries)  # first: never a live manifest without media
        delete_keys(client, bucket, rest)
    except Exception as e:
        return f"roll-back failed too ({e}): objects may remain"
    note = f"removed {len(doomed)} new objects"
    if existing:
        note += f"; {len(set(planned) & existing)} existing objects were overwritten"
    return note


def _existing(client: Any, bucket: str, base: str) -> set[str]:
    """Keys of a previous version; also the first request, so access problems surface here."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return list_keys(client, bucket, base + "/")
    except (ClientError, BotoCoreError) as e:
        raise PipelineError(
            s3_url(bucket, base), f"cannot list the title's prefix: {reason(e)}", stage="publish"
        ) from None


def list_keys(client: Any, bucket: str, prefix: str) -> set[str]:
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.update(obj["Key"] for obj in page.get("Contents", []))
    return keys


def delete_keys(client: Any, bucket: str, keys: list[str]) -> None:
    for i in range(0, len(keys), DELETE_BATCH):
        batch = [{"Key": k} for k in keys[i : i + DELETE_BATCH]]
        response = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise PipelineError(
                s3_url(bucket, first.get("Key", "")),
                f"{len(errors)} objects not deleted: {first.get('Code')} {first.get('Message')}",
                stage="publish",
            )
