"""The ingest bucket: which objects are new sources, their sidecars, moving them on.

Layout under a watched `s3://BUCKET/PREFIX` (every name below is relative to PREFIX):

    film.mov                     a source (any object that is not one of the below)
    film.json                    its optional ingest sidecar (`IngestSidecar`)
    archive/film.mov             where a source (and its sidecar) goes once its title is out
    quarantine/film.mov          where it goes when it cannot become a title ...
    quarantine/film.mov.error.json   ... with why: cause, stage, time, job id
    claims/film.mov.<etag>.claim     who claimed that version of the source

Claiming a source version (the claim object, the Redis claim and the job, atomically) is
`workers.claims`.

Keys that could escape a prefix or corrupt a log line (`..` segments, control characters,
leading '/', ...) are never claimed, never copied and never used as local paths: they are
reported as rejected. Sources are never deleted: archive and quarantine copy first, verify
the copy (size, and ETag where the copy was not multipart), and only then delete the original.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import PipelineError
from pipeline.planning.channel_map import AudioMap
from pipeline.storage.s3 import check_key, reason, s3_url, transfer_config
from pipeline.workflow.protection import DrmOptions
from pipeline.workflow.spec import Subtitle
from workers.jobs import JobSpec, job_id_for

ARCHIVE, QUARANTINE, CLAIMS = "archive", "quarantine", "claims"
RESERVED = (f"{ARCHIVE}/", f"{QUARANTINE}/", f"{CLAIMS}/")
SUBTITLE_SUFFIXES = (".vtt", ".srt", ".ttml", ".dfxp", ".scc")
ERROR_SUFFIX = ".error.json"
MAX_SIDECAR_BYTES = 1024 * 1024
_TITLE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class IngestError(PipelineError):
    """A source that cannot become a job (bad sidecar, bad title id...): it is quarantined."""

    def __init__(self, path: str, cause: str, stage: str = "sidecar"):
        super().__init__(path, cause, stage=stage)


class SourceGone(PipelineError):
    """The claimed source version is no longer there (deleted, or overwritten by a newer
    version, which is a new candidate of its own): there is nothing left to move."""

    def __init__(self, path: str, cause: str):
        super().__init__(path, cause, stage="watch")


@dataclass(frozen=True)
class Candidate:
    """One version of one object that may be a new source."""

    key: str
    etag: str
    size: int
    modified: float = 0.0


@dataclass(frozen=True)
class Rejected:
    """An object that is never processed, and why (its key is shown with repr, escaped)."""

    key: str
    etag: str
    reason: str


@dataclass
class Listing:
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


# -- names ---------------------------------------------------------------------------------------


def relative(key: str, prefix: str) -> str:
    return key[len(prefix) + 1 :] if prefix else key


def under(prefix: str, *parts: str) -> str:
    return check_key("/".join(p for p in (prefix, *parts) if p))


def archive_key(prefix: str, key: str) -> str:
    return under(prefix, ARCHIVE, relative(key, prefix))


def quarantine_key(prefix: str, key: str) -> str:
    return under(prefix, QUARANTINE, relative(key, prefix))


def claim_object_key(prefix: str, key: str, etag: str) -> str:
    return under(prefix, CLAIMS, f"{relative(key, prefix)}.{etag.strip(chr(34))}.claim")


def sidecar_key(key: str) -> str:
    """`in/film.mov` -> `in/film.json` (the source's name with its last suffix replaced)."""
    path = PurePosixPath(key)
    return str(path.with_name(f"{path.stem}.json")) if path.suffix else f"{key}.json"


def classify(key: str, prefix: str) -> Literal["candidate", "ignore"] | str:
    """'candidate', 'ignore' (ours or a companion file) or the reason a key is refused."""
    try:
        check_key(key)
    except PipelineError as exc:
        return exc.cause
    rel = relative(key, prefix)
    if key.endswith("/") or rel.startswith(RESERVED):
        return "ignore"
    lower = rel.lower()
    if lower.endswith((".json", *SUBTITLE_SUFFIXES)) or PurePosixPath(rel).name.startswith("."):
        return "ignore"  # sidecars, error reports, subtitles, hidden / partial uploads
    return "candidate"


def list_candidates(
    client: Any, bucket: str, prefix: str, *, min_age: float = 0.0, now: float | None = None
) -> Listing:
    """Objects under PREFIX that may be new sources, oldest first; objects younger than
    `min_age` seconds are left for a later scan (their sidecar may still be on its way)."""
    now = time.time() if now is None else now
    out = Listing()
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""
    )
    for page in pages:
        for obj in page.get("Contents", []):
            key, etag = obj["Key"], obj.get("ETag", "").strip('"')
            verdict = classify(key, prefix)
            if verdict == "ignore":
                continue
            if verdict != "candidate":
                out.rejected.append(Rejected(key, etag, verdict))
                continue
            modified = obj["LastModified"].timestamp() if obj.get("LastModified") else 0.0
            if now - modified < min_age:
                continue
            out.candidates.append(Candidate(key, etag, int(obj.get("Size", 0)), modified))
    out.candidates.sort(key=lambda c: (c.modified, c.key))
    return out


# -- the sidecar ---------------------------------------------------------------------------------


class SidecarDrm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    systems: str = "clearkey"
    scheme: Literal["cenc", "cbcs", "both"] = "cenc"


class SidecarSubtitle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, description="object key in the ingest bucket")
    language: str = Field(min_length=1)


class IngestSidecar(BaseModel):
    """`<name>.json` beside a source in the ingest bucket; every field optional."""

    model_config = ConfigDict(extra="forbid")

    title_id: str | None = None
    device_classes: list[str] | None = None
    drm: SidecarDrm | None = None
    subtitles: list[SidecarSubtitle] = Field(default_factory=list)
    rights: list[Any] | dict[str, Any] | None = None  # catalogue.sidecar windows
    segment_seconds: float | None = Field(default=None, gt=0)
    chunk_seconds: float | None = Field(default=None, gt=0)
    audio: AudioMap | None = None  # {"tracks": ["L", "R", "C", "LFE", "Ls", "Rs"]}


def read_sidecar(client: Any, bucket: str, key: str) -> tuple[IngestSidecar | None, str | None]:
    """The source's sidecar and its key, (None, None) when there is none; IngestError names
    the sidecar and says what is wrong with it."""
    from botocore.exceptions import ClientError

    from catalogue.sidecar import _no_duplicate_keys

    skey = sidecar_key(key)
    where = s3_url(bucket, skey)
    try:
        obj = client.get_object(Bucket=bucket, Key=skey)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None, None
        raise
    if int(obj.get("ContentLength", 0)) > MAX_SIDECAR_BYTES:
        raise IngestError(where, f"sidecar is over {MAX_SIDECAR_BYTES} bytes")
    data = obj["Body"].read()
    try:
        document = json.loads(data, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        raise IngestError(where, f"not valid sidecar JSON: {exc}") from None
    try:
        sidecar = IngestSidecar.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise IngestError(where, f"invalid sidecar: {problems}") from None
    return sidecar, skey


def check_subtitles(client: Any, bucket: str, sidecar: IngestSidecar, where: str) -> list[str]:
    """The sidecar's subtitle keys, each checked to be a safe key present in the bucket."""
    keys = []
    for sub in sidecar.subtitles:
        try:
            check_key(sub.key, what="subtitle key")
        except PipelineError as exc:
            raise IngestError(where, exc.cause) from None
        if _head(client, bucket, sub.key) is None:
            raise IngestError(where, f"subtitle {s3_url(bucket, sub.key)} not found")
        keys.append(sub.key)
    return keys


def rights_document(sidecar: IngestSidecar, title_id: str) -> bytes | None:
    """The sidecar's rights as a catalogue.sidecar document (title_id filled in)."""
    if sidecar.rights is None:
        return None
    doc = {"windows": sidecar.rights} if isinstance(sidecar.rights, list) else dict(sidecar.rights)
    doc.setdefault("title_id", title_id)
    return json.dumps(doc).encode()


def check_rights(data: bytes, where: str) -> Any:
    """Parsed windows; any row error quarantines the source (rights must not half-import)."""
    from catalogue.sidecar import parse_sidecar

    try:
        result = parse_sidecar(data, where)
    except PipelineError as exc:
        raise IngestError(where, f"rights: {exc.cause}") from None
    if result.errors:
        first = result.errors[0]
        raise IngestError(
            where,
            f"rights {first.location} {first.field}: {first.problem}"
            + (f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""),
        )
    return result


def default_title_id(key: str) -> str:
    """`in/My Film (2024).mov` -> `My-Film-2024`."""
    stem = PurePosixPath(key).stem
    return _TITLE_CHARS.sub("-", stem).strip("-._")[:128] or "title"


def build_spec(
    bucket: str,
    cand: Candidate,
    sidecar: IngestSidecar | None,
    *,
    origin: str,
    device_classes: list[str],
    where: str,
) -> JobSpec:
    """The job for this source version; its id is stable for the (bucket, key, ETag) and the
    options, so a second submit of the same thing is recognised."""
    from pipeline.storage.local import check_title_id

    side = sidecar or IngestSidecar()
    title_id = side.title_id or default_title_id(cand.key)
    try:
        check_title_id(title_id)
    except PipelineError as exc:
        raise IngestError(where, exc.cause) from None
    from pipeline.encode.subtitles import is_language_tag

    subtitles = []
    for sub in side.subtitles:
        try:
            check_key(sub.key, what="subtitle key")
        except PipelineError as exc:
            raise IngestError(where, exc.cause) from None
        if not is_language_tag(sub.language):
            raise IngestError(where, f"subtitle language {sub.language!r} is not a BCP-47 tag")
        subtitles.append(Subtitle(path=s3_url(bucket, sub.key), language=sub.language))
    options: dict[str, Any] = {
        "title_id": title_id,
        "origin": origin,
        "device_classes": side.device_classes or device_classes,
        "subtitles": subtitles,
    }
    if side.drm:
        options["drm"] = DrmOptions(systems=side.drm.systems, scheme=side.drm.scheme)
    if side.segment_seconds:
        options["segment_seconds"] = side.segment_seconds
    if side.chunk_seconds:
        options["chunk_seconds"] = side.chunk_seconds
    if side.audio:
        options["audio_map"] = side.audio.tracks
    try:
        draft = JobSpec(job_id="-", source=s3_url(bucket, cand.key), **options)
    except ValidationError as exc:
        raise IngestError(where, "; ".join(e["msg"] for e in exc.errors())) from None
    job_id = job_id_for(bucket, cand.key, cand.etag, draft.options_key())
    return draft.model_copy(update={"job_id": job_id})


# -- moving sources on ---------------------------------------------------------------------------


def _head(client: Any, bucket: str, key: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def move(
    client: Any, bucket: str, src: str, dest: str, etag: str | None = None, optional: bool = False
) -> bool:
    """Copy SRC to DEST, verify the copy, then delete SRC. False when SRC is already gone and
    DEST holds it (a move that finished before). Never deletes a source whose copy is not
    verified, nor one that changed (ETag) since it was claimed."""
    where = s3_url(bucket, src)
    head = _head(client, bucket, src)
    if head is None:
        if optional or _head(client, bucket, dest) is not None:
            return False
        raise SourceGone(where, "source vanished before it could be moved")
    src_etag = head.get("ETag", "").strip('"')
    if etag is not None and src_etag != etag.strip('"'):
        raise SourceGone(where, f"source changed since it was claimed (now ETag {src_etag})")
    try:
        client.copy(
            {"Bucket": bucket, "Key": src},
            bucket,
            dest,
            ExtraArgs={"CopySourceIfMatch": head["ETag"]},
            Config=transfer_config(),
        )
    except Exception as exc:
        raise PipelineError(where, f"copy to {dest} failed: {reason(exc)}", stage="watch") from None
    copied = _head(client, bucket, dest)
    size = int(head.get("ContentLength", -1))
    if copied is None or int(copied.get("ContentLength", -2)) != size:
        raise PipelineError(where, f"copy to {dest} not verified (size)", stage="watch")
    dest_etag = copied.get("ETag", "").strip('"')
    if dest_etag != src_etag and "-" not in dest_etag + src_etag:
        raise PipelineError(where, f"copy to {dest} not verified (ETag)", stage="watch")
    client.delete_object(Bucket=bucket, Key=src)
    return True


def archive(
    client: Any, bucket: str, prefix: str, key: str, etag: str, companions: list[str]
) -> str:
    """Move a finished source (and its sidecar) to archive/; returns the archived key."""
    dest = archive_key(prefix, key)
    move(client, bucket, key, dest, etag)
    for other in companions:
        move(client, bucket, other, archive_key(prefix, other), optional=True)
    return dest


def error_record(
    cause: str, stage: str, job_id: str | None, key: str, now: float | None = None
) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "cause": cause,
        "stage": stage,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "job_id": job_id,
        "source": key,
    }


def quarantine(
    client: Any,
    bucket: str,
    prefix: str,
    key: str,
    etag: str | None,
    record: dict[str, Any],
    companions: list[str],
) -> str:
    """Write `quarantine/<key>.error.json`, then move the source (and its sidecar) beside it;
    the report comes first so a failed move still leaves the reason readable."""
    dest = quarantine_key(prefix, key)
    client.put_object(
        Bucket=bucket,
        Key=dest + ERROR_SUFFIX,
        Body=json.dumps(record, indent=2).encode(),
        ContentType="application/json",
    )
    move(client, bucket, key, dest, etag)
    for other in companions:
        move(client, bucket, other, quarantine_key(prefix, other), optional=True)
    return dest
