"""Where a job's clear intermediates may live: never anywhere players can read.

Encoded parts travel between machines through a shared S3 work area. They are clear
renditions of titles that may be encrypted afterwards, so the work area must never be served:

* VOD_WORK_URL (`s3://bucket[/prefix]`) names it; `none` keeps parts on the local work dir
  (every worker then needs the same VOD_WORK_DIR, e.g. one shared volume);
* unset, with an S3 origin, it is the dedicated bucket `<origin bucket>-work`, used only when
  that bucket exists; otherwise the job is refused before anything is downloaded or encoded;
* a work area in the origin's bucket (any prefix: a CDN may serve the whole bucket) is refused,
  and so is a work bucket whose policy lets anyone read its objects, or a local work dir inside
  a local origin directory.

`check_work_area` runs in the probe step (before the source is fetched); `work_location` keeps
the in-origin refusal too, so no encode can ever upload there.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from core.errors import ConfigError, VodError
from core.settings import settings
from pipeline.storage.s3 import check_bucket, is_s3_url, join_key, parse_s3_url, reason, s3_url

WORK_SUFFIX = "-work"  # the default work bucket: `<origin bucket>-work`
SETTING = "VOD_WORK_URL"
_MISSING = ("404", "NoSuchBucket", "NotFound")
_ANYONE = "*"


def default_work_url(origin: str) -> str:
    """`s3://<origin bucket>-work`: the work area when VOD_WORK_URL is unset."""
    bucket = parse_s3_url(origin)[0] + WORK_SUFFIX
    try:
        return s3_url(check_bucket(bucket), "")
    except VodError:
        raise ConfigError(
            SETTING, f"the default work bucket {bucket!r} is not a valid bucket name: set "
            "VOD_WORK_URL to a private s3://bucket/prefix"
        ) from None  # fmt: skip


def work_base(origin: str | None) -> str | None:
    """The work area (`s3://bucket[/prefix]`) for titles published to `origin`, or None when
    parts stay local; a ConfigError when it would be inside the origin's bucket."""
    explicit = (settings().work_url or "").strip()
    if explicit.lower() == "none":
        return None
    if not explicit:
        return default_work_url(origin) if is_s3_url(origin) else None
    try:
        bucket, prefix = parse_s3_url(explicit)
    except VodError as exc:
        raise ConfigError(SETTING, f"{explicit!r}: {exc.cause} (or `none`)") from None
    if is_s3_url(origin) and bucket == parse_s3_url(str(origin))[0]:
        raise ConfigError(
            SETTING, f"{explicit} is in the bucket of the origin {origin}, which players read: "
            "clear encodes must never be there; use a private bucket of its own"
        )  # fmt: skip
    return s3_url(bucket, prefix)


def work_location(origin: str | None, job_id: str) -> str | None:
    """The job's own folder of the work area (`<work area>/<job id>`), or None (local only)."""
    base = work_base(origin)
    if base is None:
        return None
    bucket, prefix = parse_s3_url(base)
    return s3_url(bucket, join_key(prefix, job_id))


def check_work_area(origin: str, work_dir: Path, *, client: Any = None) -> str | None:
    """Refuse (ConfigError) a work area players could read, or one that does not exist, before
    any work; returns the work area (None: local only)."""
    if not is_s3_url(origin) and Path(work_dir).resolve().is_relative_to(Path(origin).resolve()):
        raise ConfigError(
            "VOD_WORK_DIR", f"{work_dir} is inside the origin directory {origin}, which players "
            "read: put the work dir elsewhere"
        )  # fmt: skip
    base = work_base(origin)
    if base is None:
        return None
    from botocore.exceptions import ClientError

    from pipeline.storage.s3 import s3_client

    bucket, prefix = parse_s3_url(base)
    client = client or s3_client()
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in _MISSING and status != "403" and code not in ("403", "AccessDenied"):
            raise  # a 5xx: transient, retried
        raise ConfigError(SETTING, _unusable(base, origin, reason(exc))) from None
    if anyone_can_read(client, bucket, join_key(prefix, "any-job", "part.mp4")):
        raise ConfigError(
            SETTING, f"{base}: the bucket's policy lets anyone read its objects; the work area "
            "holds clear encodes and must be private (remove the anonymous policy)"
        )  # fmt: skip
    return base


def _unusable(base: str, origin: str, why: str) -> str:
    if (settings().work_url or "").strip():
        return f"cannot use the work area {base}: {why}"
    return (
        f"no private work area for titles published to {origin}: the default {base} cannot be "
        f"used ({why}); create that bucket (private), set VOD_WORK_URL to a private "
        "s3://bucket/prefix, or set VOD_WORK_URL=none when every worker shares VOD_WORK_DIR"
    )


def anyone_can_read(client: Any, bucket: str, key: str) -> bool:
    """True when the bucket policy grants anonymous GetObject on `key` without conditions.
    No policy, or no right to read it: False (nothing known to be public)."""
    from botocore.exceptions import ClientError

    try:
        raw = client.get_bucket_policy(Bucket=bucket)["Policy"]
        statements = json.loads(raw).get("Statement", [])
    except (ClientError, ValueError, AttributeError):
        return False
    target = f"arn:aws:s3:::{bucket}/{key}"
    for statement in _listed(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if statement.get("Condition") or not _everyone(statement.get("Principal")):
            continue
        actions = [str(a).lower() for a in _listed(statement.get("Action"))]
        if not any(fnmatchcase("s3:getobject", a) for a in actions):
            continue
        if any(fnmatchcase(target, str(r)) for r in _listed(statement.get("Resource"))):
            return True
    return False


def _everyone(principal: Any) -> bool:
    if principal == _ANYONE:
        return True
    return isinstance(principal, dict) and _ANYONE in _listed(principal.get("AWS"))


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def drop_shared(work_url: str) -> None:
    """Delete a job's folder of the work area (nothing to do when its bucket is gone)."""
    from botocore.exceptions import ClientError

    from pipeline.storage.s3 import s3_client
    from pipeline.storage.s3_publish import delete_keys, list_keys

    bucket, prefix = parse_s3_url(work_url)
    client = s3_client()
    try:
        keys = sorted(list_keys(client, bucket, f"{prefix}/"))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            return
        raise
    if keys:
        delete_keys(client, bucket, keys)
