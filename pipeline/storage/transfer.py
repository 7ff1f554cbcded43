"""Moving a job's files between where they live (local path or s3:// URL) and its work dir.

Workers need the source on local disk to probe and encode it, and must put the finished title
on the origin. With several machines, encoded parts also travel through a shared S3 work area
(`work_location`): each encode uploads its files, the package step downloads those it does not
already have. Every move is idempotent: downloads land whole (temp name + rename) and are
reused, uploads overwrite the same keys, and delivering the same title twice leaves the same
title on the origin (local: staged copy + atomic rename; S3: same keys overwritten).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path, PurePosixPath

from core.errors import PipelineError
from pipeline.storage.local import check_title_id, discard, publish_local, staging_dir
from pipeline.storage.s3 import download_file, is_s3_url, join_key, parse_s3_url, s3_url

WORK_PREFIX = "work"


def fetch_source(source: str, cache_dir: Path) -> Path:
    """A local path for `source`: itself when local, else a download cached in cache_dir."""
    if not is_s3_url(source):
        return Path(source)
    _, key = parse_s3_url(source)
    dest = cache_dir / (PurePosixPath(key).name or "source")
    if dest.is_file():  # download_file renames a whole file into place, never a partial one
        return dest
    cache_dir.mkdir(parents=True, exist_ok=True)
    return download_file(source, dest)


def work_location(origin: str, job_id: str) -> str | None:
    """The S3 area where encoded parts are shared between machines, or None (local only).

    $VOD_WORK_URL (`s3://bucket/prefix`, or `none` to keep parts on the local work dir);
    by default `s3://<origin bucket>/work` when the origin is on S3.
    """
    explicit = os.environ.get("VOD_WORK_URL", "").strip()
    if explicit.lower() == "none":
        return None
    if not explicit and is_s3_url(origin):
        explicit = s3_url(parse_s3_url(origin)[0], WORK_PREFIX)
    if not explicit:
        return None
    bucket, prefix = parse_s3_url(explicit)
    return s3_url(bucket, join_key(prefix, job_id))


def share_files(files: dict[str, Path], work_url: str) -> dict[str, str]:
    """Upload encoded files to the shared work area; rendition name -> s3:// URL."""
    from pipeline.storage.s3 import upload_file

    bucket, prefix = parse_s3_url(work_url)
    urls: dict[str, str] = {}
    for name, path in files.items():
        url = s3_url(bucket, join_key(prefix, "encode", path.name))
        upload_file(path, url)
        urls[name] = url
    return urls


def local_files(
    files: dict[str, str], urls: dict[str, str] | None, cache_dir: Path
) -> dict[str, Path]:
    """Local paths of encoded files: where the encode left them when that was this machine,
    else downloaded from the shared work area into cache_dir (once)."""
    out: dict[str, Path] = {}
    for name, path in files.items():
        local = Path(path)
        if not local.is_file() and urls and name in urls:
            local = fetch_source(urls[name], cache_dir)
        out[name] = local
    return out


def drop_shared(work_url: str) -> None:
    """Delete a finished job's shared work area."""
    from pipeline.storage.s3 import s3_client
    from pipeline.storage.s3_publish import delete_keys, list_keys

    bucket, prefix = parse_s3_url(work_url)
    client = s3_client()
    keys = sorted(list_keys(client, bucket, f"{prefix}/"))
    if keys:
        delete_keys(client, bucket, keys)


def deliver_title(title_dir: Path, origin: str, title_id: str) -> str:
    """Publish a packaged title to ORIGIN/<title_id> (a directory or s3://bucket/prefix).

    `title_dir` is left intact, so a retried delivery can run again from it.
    """
    check_title_id(title_id)
    if not (title_dir / "master.m3u8").is_file():
        raise PipelineError(title_dir, "no packaged title to publish", stage="publish")
    if is_s3_url(origin):
        from pipeline.storage.s3_publish import publish_title_s3

        bucket, prefix = parse_s3_url(origin)
        publish_title_s3(title_dir, bucket, prefix, title_id)
        return s3_url(bucket, join_key(prefix, title_id))
    root = Path(origin)
    root.mkdir(parents=True, exist_ok=True)
    staged = staging_dir(root, title_id)
    try:
        shutil.copytree(title_dir, staged, dirs_exist_ok=True, copy_function=_link_or_copy)
        return str(publish_local(staged, root, title_id))
    except BaseException:
        discard(staged, root)
        raise


def _link_or_copy(src: str, dst: str) -> str:
    """Hard-link when the work dir shares the origin's filesystem (no bytes copied), else copy."""
    with contextlib.suppress(OSError):
        os.link(src, dst)
        return dst
    return shutil.copy2(src, dst)
