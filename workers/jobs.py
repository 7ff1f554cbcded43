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
from pydantic import BaseModel, Field

from core.settings import settings
from pipeline.workflow.spec import TitleSpec
from workers import lease

STAGES = ("probe", "plan", "encode", "package", "publish", "catalogue", "finalize")
JOB_PREFIX = "vod:job:"
JOBS_INDEX = "vod:jobs"
# "recovering": the worker running it died (its lease lapsed, see workers.lease); re-queued
StageState = Literal["pending", "running", "recovering", "retrying", "done", "failed"]
JobStatus = Literal["queued", "running", "recovering", "done", "failed"]


class JobSpec(TitleSpec):
    """One title to build (`TitleSpec`) under a job id; JSON-only so it can ride in task
    arguments. `chunk_seconds` splits long encodes into GOP/segment-aligned chunks."""

    job_id: str
    chunk_seconds: float | None = None

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
    return settings().job_state


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
    with client().pipeline() as pipe:
        pipe.delete(job_key(spec.job_id))
        record_new_job(pipe, spec)
        pipe.execute()


def record_new_job(pipe: Any, spec: JobSpec, **job_fields: Any) -> None:
    """Queue the writes of a fresh job record on `pipe` (a Redis pipeline or transaction), so
    that callers can make it appear together with other keys (a watcher's claim)."""
    now = time.time()
    pipe.hset(
        job_key(spec.job_id),
        mapping={
            "job.state": "queued",
            "job.created": now,
            "job.updated": now,
            "job.spec": spec.model_dump_json(),
            **{f"{stage}.state": "pending" for stage in STAGES},
            **{f"job.{k}": _text(v) for k, v in job_fields.items()},
        },
    )
    pipe.zadd(JOBS_INDEX, {spec.job_id: now})


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


def parse_job(job_id: str, raw: dict[str, str], now: float | None = None) -> JobInfo:
    """The job as readers see it: a step whose lease lapsed `now` shows as recovering."""
    now = time.time() if now is None else now
    groups: dict[str, dict[str, str]] = {}
    for field, value in raw.items():
        name, _, attr = field.rpartition(".")
        groups.setdefault(name, {})[attr] = value
    meta = groups.pop("job", {})
    stages = {s: _stage(groups.pop(s, {}), now) for s in STAGES}
    parts = {
        name.split(":", 1)[1]: _stage(attrs, now)
        for name, attrs in groups.items()
        if name.startswith("encode:")
    }
    steps = [info.state for info in [*stages.values(), *parts.values()]]
    return JobInfo(
        job_id=job_id,
        state=lease.job_state(meta.get("state", "queued"), steps),  # type: ignore[arg-type]
        error=meta.get("error") or None,
        created=_float(meta.get("created")),
        updated=_float(meta.get("updated")),
        spec=JobSpec.model_validate_json(meta["spec"]) if meta.get("spec") else None,
        summary=json.loads(meta["summary"]) if meta.get("summary") else None,
        stages=stages,
        parts=parts,
    )


def _stage(attrs: dict[str, str], now: float) -> StageInfo:
    return StageInfo(
        state=lease.step_state(attrs, now),  # type: ignore[arg-type]
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
