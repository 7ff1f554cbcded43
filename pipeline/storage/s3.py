"""S3-compatible object storage: checked `s3://` URLs, a configured client, streamed transfers.

Bucket names and keys come from users (`--origin s3://bucket/prefix`) and end up in object keys
and in the http URLs players fetch, so they are checked here once: a key never starts with '/',
never holds an empty, '.' or '..' segment (some gateways and every filesystem-backed store
normalise those, which would let a prefix escape its folder) and never holds control characters.
Transfers go through boto3's transfer manager: files are read and written in chunks (multipart
above `MULTIPART_THRESHOLD`), never whole in memory.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

from core.errors import PipelineError
from core.settings import settings

DEFAULT_REGION = "us-east-1"
MiB = 1024 * 1024
MULTIPART_THRESHOLD = 8 * MiB
MULTIPART_CHUNKSIZE = 8 * MiB
MAX_CONCURRENCY = 4  # 2-core machines; S3 latency, not CPU, is the limit
MAX_KEY_BYTES = 1024
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _error(cause: str, where: str | None = None) -> PipelineError:
    return PipelineError(where, cause, stage="s3")


# -- names ----------------------------------------------------------------------------------
def check_bucket(bucket: str) -> str:
    """AWS bucket naming rules (the strictest of the S3-compatible stores)."""
    if (
        not _BUCKET.match(bucket)
        or ".." in bucket
        or ".-" in bucket
        or "-." in bucket
        or bucket.startswith(("xn--", "sthree-"))
        or bucket.endswith(("-s3alias", "--ol-s3"))
        or _is_ip(bucket)
    ):
        raise _error(
            f"invalid bucket name {bucket!r}: use 3-63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit"
        )
    return bucket


def _is_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def check_key(key: str, *, what: str = "key") -> str:
    """Refuse keys that could escape their prefix or corrupt a URL/log line."""
    if not key:
        raise _error(f"empty {what}")
    if _CONTROL.search(key):
        raise _error(f"{what} {key!r} contains control characters")
    if key.startswith("/"):
        raise _error(f"{what} {key!r} must not start with '/'")
    if "\\" in key:
        raise _error(f"{what} {key!r} must not contain '\\'")
    if "//" in key:
        raise _error(f"{what} {key!r} must not contain '//' (empty path segment)")
    if any(part in (".", "..") for part in key.split("/")):
        raise _error(f"{what} {key!r} must not contain '.' or '..' segments")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise _error(f"{what} is longer than {MAX_KEY_BYTES} bytes")
    return key


def check_prefix(prefix: str) -> str:
    """A key prefix ('' allowed); one trailing '/' is tolerated and dropped."""
    if prefix.endswith("/") and not prefix.endswith("//"):
        prefix = prefix[:-1]
    return check_key(prefix, what="prefix") if prefix else ""


def is_s3_url(value: object) -> bool:
    return isinstance(value, str) and value[:5].lower() == "s3://"


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ('bucket', 'some/prefix'); prefix may be ''."""
    if not is_s3_url(url):
        raise _error(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url[5:].partition("/")
    if any(c in bucket for c in "@:?#") or _CONTROL.search(bucket):
        raise _error(f"s3 URL {url!r}: credentials, ports, queries or fragments are not allowed")
    return check_bucket(bucket), check_prefix(prefix)


def s3_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}" if key else f"s3://{bucket}"


def join_key(*parts: str) -> str:
    """Join key parts, skipping empty ones, and check the result."""
    return check_key("/".join(p for p in parts if p))


# -- client ---------------------------------------------------------------------------------
def endpoint_url(explicit: str | None = None) -> str | None:
    """The S3 endpoint: argument, VOD_S3_ENDPOINT_URL (core.settings), $AWS_ENDPOINT_URL_S3,
    $AWS_ENDPOINT_URL; None means AWS itself."""
    url = (
        explicit
        or settings().s3_endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _error(f"S3 endpoint must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def s3_client(endpoint: str | None = None) -> Any:
    """A boto3 S3 client with retries; path-style addressing on custom endpoints (MinIO, moto,
    Ceph), whose buckets usually have no DNS names of their own."""
    import boto3
    from botocore.config import Config

    url = endpoint_url(endpoint)
    options: dict[str, Any] = {
        "retries": {"max_attempts": 5, "mode": "standard"},
        "connect_timeout": 10,
        "read_timeout": 60,
        "max_pool_connections": 2 * MAX_CONCURRENCY + 2,
    }
    if url:
        options["s3"] = {"addressing_style": "path"}
        # Many S3-compatible stores reject the CRC trailers boto3 sends by default since 1.36.
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    return boto3.client("s3", endpoint_url=url, region_name=region(), config=Config(**options))


def transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD,
        multipart_chunksize=MULTIPART_CHUNKSIZE,
        max_concurrency=MAX_CONCURRENCY,
        max_io_queue=16,  # bounds the download buffer (16 x 256 KiB)
        use_threads=True,
    )


def public_url(endpoint: str | None, bucket: str, key: str) -> str | None:
    """The path-style http URL of an object on a known endpoint (None for AWS itself)."""
    if not endpoint:
        return None
    return f"{endpoint.rstrip('/')}/{bucket}/{urllib.parse.quote(key, safe='/')}"


# -- transfers ------------------------------------------------------------------------------
def upload_file(
    src: Path,
    s3_dest: str,
    *,
    client: Any = None,
    content_type: str | None = None,
    cache_control: str | None = None,
) -> str:
    """Stream a local file to `s3://bucket/key` (multipart when large); returns the key."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_url(s3_dest)
    check_key(key)
    extra = {"ContentType": content_type} if content_type else {}
    if cache_control:
        extra["CacheControl"] = cache_control
    try:
        (client or s3_client()).upload_file(
            str(src), bucket, key, ExtraArgs=extra, Config=transfer_config()
        )
    except (S3UploadFailedError, ClientError, BotoCoreError) as e:
        raise _error(f"cannot upload {src}: {reason(e)}", s3_dest) from None
    return key


def download_file(s3_src: str, dest: Path, *, client: Any = None) -> Path:
    """Stream `s3://bucket/key` to DEST (a file, or a directory to put it in); ranged parts
    for large objects, written to a temporary name and renamed, so DEST is whole or absent."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_url(s3_src)
    check_key(key)
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / key.rsplit("/", 1)[-1]
    try:
        (client or s3_client()).download_file(bucket, key, str(dest), Config=transfer_config())
    except (ClientError, BotoCoreError) as e:
        raise _error(f"cannot download: {reason(e)}", s3_src) from None
    return dest


def check_access(bucket: str, *, client: Any = None) -> None:
    """Fail fast (before hours of encoding) when the bucket is missing or unreachable."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        (client or s3_client()).head_bucket(Bucket=check_bucket(bucket))
    except (ClientError, BotoCoreError) as e:
        raise _error(f"cannot use bucket: {reason(e)}", s3_url(bucket, "")) from None


def reason(e: Exception) -> str:
    """'NoSuchBucket The specified bucket does not exist' rather than botocore's long text."""
    response = getattr(e, "response", None)
    if not response:
        return str(e)
    err = response.get("Error", {})
    code = err.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    return f"{code} {err.get('Message', '')}".strip()


# -- buckets (tests and dev setups) -------------------------------------------------------------
CORS_RULES = {
    "CORSRules": [
        {
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedOrigins": ["*"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["Content-Length", "Content-Range", "Content-Type", "ETag"],
            "MaxAgeSeconds": 3600,
        }
    ]
}


def ensure_bucket(
    bucket: str, *, cors: bool = True, public_read: bool = False, client: Any = None
) -> None:
    """Create BUCKET if missing; CORS lets browser players on other origins GET/HEAD it,
    `public_read` adds a bucket policy granting anonymous GetObject (not listing)."""
    from botocore.exceptions import ClientError

    check_bucket(bucket)
    client = client or s3_client()
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise _error(f"cannot use bucket {bucket!r}: {reason(e)}") from None
        args: dict[str, Any] = {"Bucket": bucket}
        name = client.meta.region_name
        if name and name != DEFAULT_REGION:
            args["CreateBucketConfiguration"] = {"LocationConstraint": name}
        try:
            client.create_bucket(**args)
        except ClientError as e2:
            if e2.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise _error(f"cannot create bucket {bucket!r}: {reason(e2)}") from None
    if cors:
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS_RULES)
    if public_read:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicReadObjects",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
        client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
