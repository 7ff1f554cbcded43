"""Moving a job's files between where they live (local path or s3:// URL) and its work dir.

Workers need the source on local disk to probe and encode it, and must put the finished title
on the origin. With several machines, encoded parts also travel through a shared S3 work area
(`pipeline.storage.work_area`: private, never in the origin's bucket): each encode uploads its
files, the package step downloads those it does not already have. Every move is idempotent:
downloads land whole (temp name + rename) and are reused, uploads overwrite the same keys, and
delivering the same title twice leaves the same title on the origin (local: staged copy +
atomic rename; S3: same keys overwritten), see `pipeline.storage.publish`.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from pipeline.storage.s3 import download_file, is_s3_url, join_key, parse_s3_url, s3_url


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
