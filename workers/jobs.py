"""Job specs and job state: what a job asks for, and where each of its stages stands.

A job's state lives in one Redis hash, `vod:job:<id>`, written by the tasks as they run, with
flat fields `<stage>.<attr>` (state, progress, error, started, finished, attempts, worker) and
`job.<attr>` for the whole job, so a stage update is one HSET and a retry count one HINCRBY.
`vod:jobs` (a sorted set by creation time) lists them. The spec carries only paths and URLs:
content keys stay in the key store or key server and never travel through the broker.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from functools import cache
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field, field_validator

from workers.app import DEFAULT_BROKER

STAGES = ("probe", "plan", "encode", "package", "publish", "catalogue", "finalize")
JOB_PREFIX = "vod:job:"
JOBS_INDEX = "vod:jobs"
StageState = Literal["pending", "running", "retrying", "done", "failed"]
JobStatus = Literal["queued", "running", "done", "failed"]


class DrmOptions(BaseModel):
    """Where the worker finds keys; the keys themselves never appear here."""

    systems: str = "clearkey"  # e.g. "clearkey" or "widevine,playready,fairplay" or "all"
    scheme: Literal["cenc", "cbcs", "both"] = "cenc"
    key_store: str | None = None  # local key store path (default: the worker's default store)
    key_server: str | None = None  # CPIX / SPEKE URL; its token comes from the worker's env
    license_url: str | None = None

    def protection(self) -> Any:
        """The `drm.encryption.protect.Protection` these options describe, built where keys
        may live: in the worker. A key server's bearer token comes from $VOD_KEY_SERVER_TOKEN."""
        from drm.encryption.protect import Protection, parse_systems

        systems = parse_systems(self.systems)
        provider: Any
        if self.key_server:
            from drm.keyexchange.speke import SpekeClient

            provider = SpekeClient(
                self.key_server,
                token=os.environ.get("VOD_KEY_SERVER_TOKEN") or None,
                scheme="cbcs" if self.scheme != "cenc" else "cenc",
                systems=[s for s in systems if s != "fairplay"],
            )
        else:
            from drm.keystore import LocalKeyStore, default_store_path

            provider = LocalKeyStore(self.key_store or default_store_path())
        return Protection(
            systems=systems, scheme=self.scheme, provider=provider, license_url=self.license_url
        )


class Subtitle(BaseModel):
    path: str
    language: str


class JobSpec(BaseModel):
    """One title to ingest, as submitted. JSON-only so it can ride in task arguments."""

    job_id: str
    source: str  # local path or s3://bucket/key
    title_id: str
    origin: str  # local directory or s3://bucket/prefix
    device_classes: list[str] = Field(default_factory=lambda: ["web"])
    drm: DrmOptions | None = None
    subtitles: list[Subtitle] = Field(default_factory=list)
    segment_seconds: float = 6.0
    chunk_seconds: float | None = (
        None  # split encodes into chunks (when pipeline.encode.chunks exists)
    )
    preset: str = "veryfast"  # x264/x265 preset: speed against bits

    @field_validator("title_id")
    @classmethod
    def _safe_title(cls, value: str) -> str:
        """Refused at submit rather than after hours of encoding, at publish."""
        from core.errors import PipelineError
        from pipeline.storage.local import check_title_id

        try:
            return check_title_id(value)
        except PipelineError as exc:
            raise ValueError(exc.cause) from None

    @field_validator("device_classes")
    @classmethod
    def _some_class(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one device class is needed")
        return value

    def options_key(self) -> str:
        """Everything but the id and source, canonically: part of a stable job id."""
        return json.dumps(self.model_dump(exclude={"job_id", "source"}), sort_keys=True)


def job_id_for(bucket: str, key: str, etag: str, salt: str = "") -> str:
    """A stable id for one version of one object (and, with `salt`, one set of options)."""
    blob = json.dumps([bucket, key, etag.strip('"'), salt], separators=(",", ":"))
    return "j" + hashlib.sha256(blob.encode()).hexdigest()[:24]


class StageInfo(BaseModel):
    state: StageState = "pending"
    progress: float = 0.0
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    attempts: int = 0
    worker: str | None = None


class JobInfo(BaseModel):
    job_id: str
    state: JobStatus
    error: str | None = None
    created: float | None = None
    updated: float | None = None
    spec: JobSpec | None = None
    summary: dict[str, Any] | None = None
    stages: dict[str, StageInfo] = Field(default_factory=dict)
    parts: dict[str, StageInfo] = Field(default_factory=dict)  # encode parts by name


def state_url() -> str:
    """Job state shares the broker's Redis unless VOD_STATE_URL says otherwise."""
    return os.environ.get("VOD_STATE_URL") or os.environ.get("VOD_BROKER_URL", DEFAULT_BROKER)


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)


def client() -> redis.Redis:
    return _client(state_url())


def job_key(job_id: str) -> str:
    return f"{JOB_PREFIX}{job_id}"


def worker_name(node: str | None = None) -> str:
    """Who ran a stage: the Celery node name (or host) and the process id."""
    return f"{node or socket.gethostname()}:{os.getpid()}"


def create_job(spec: JobSpec) -> None:
    """(Re)start the record of a job: every stage pending, spec stored, job queued."""
    now = time.time()
    r = client()
    with r.pipeline() as pipe:
        pipe.delete(job_key(spec.job_id))
        pipe.hset(
            job_key(spec.job_id),
            mapping={
                "job.state": "queued",
                "job.created": now,
                "job.updated": now,
                "job.spec": spec.model_dump_json(),
                **{f"{stage}.state": "pending" for stage in STAGES},
            },
        )
        pipe.zadd(JOBS_INDEX, {spec.job_id: now})
        pipe.execute()


def set_stage(job_id: str, stage: str, **fields: Any) -> None:
    """Record attributes of one stage (or encode part, "encode:<name>") and touch the job."""
    mapping = {f"{stage}.{k}": _text(v) for k, v in fields.items()}
    mapping["job.updated"] = str(time.time())
    client().hset(job_key(job_id), mapping=mapping)


def count_attempt(job_id: str, stage: str) -> int:
    return int(client().hincrby(job_key(job_id), f"{stage}.attempts", 1))


def set_job(job_id: str, **fields: Any) -> None:
    mapping = {f"job.{k}": _text(v) for k, v in fields.items()}
    mapping["job.updated"] = str(time.time())
    client().hset(job_key(job_id), mapping=mapping)


def clear_job_error(job_id: str) -> None:
    client().hdel(job_key(job_id), "job.error")


def get_job(job_id: str) -> JobInfo | None:
    raw = client().hgetall(job_key(job_id))
    return parse_job(job_id, raw) if raw else None


def list_jobs(limit: int = 100) -> list[JobInfo]:
    """Newest first."""
    ids = client().zrevrange(JOBS_INDEX, 0, max(limit, 1) - 1)
    return [job for job in (get_job(i) for i in ids) if job is not None]


def parse_job(job_id: str, raw: dict[str, str]) -> JobInfo:
    groups: dict[str, dict[str, str]] = {}
    for field, value in raw.items():
        name, _, attr = field.rpartition(".")
        groups.setdefault(name, {})[attr] = value
    meta = groups.pop("job", {})
    stages = {s: _stage(groups.pop(s, {})) for s in STAGES}
    parts = {
        name.split(":", 1)[1]: _stage(attrs)
        for name, attrs in groups.items()
        if name.startswith("encode:")
    }
    return JobInfo(
        job_id=job_id,
        state=meta.get("state", "queued"),  # type: ignore[arg-type]
        error=meta.get("error") or None,
        created=_float(meta.get("created")),
        updated=_float(meta.get("updated")),
        spec=JobSpec.model_validate_json(meta["spec"]) if meta.get("spec") else None,
        summary=json.loads(meta["summary"]) if meta.get("summary") else None,
        stages=stages,
        parts=parts,
    )


def _stage(attrs: dict[str, str]) -> StageInfo:
    return StageInfo(
        state=attrs.get("state", "pending"),  # type: ignore[arg-type]
        progress=_float(attrs.get("progress")) or 0.0,
        error=attrs.get("error") or None,
        started=_float(attrs.get("started")),
        finished=_float(attrs.get("finished")),
        attempts=int(attrs.get("attempts", 0)),
        worker=attrs.get("worker") or None,
    )


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)
