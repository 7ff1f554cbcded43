"""Celery tasks: thin wrappers that call one pipeline stage each and move plain JSON.

Every task takes and returns JSON-ready dicts (the job spec, the probe result, the plan, file
paths, the title summary); none carries a content key, which the package task fetches from the
key store or key server named in the spec. Each task records its stage in the job's Redis hash
(`workers.jobs`) and is safe to run twice (`workers.idempotency`).

Retries: only transient faults (network, Redis, S3 5xx, EAGAIN...) are retried, with
exponential backoff and jitter; a `PipelineError` means bad input and fails the job at once
(unless it merely wraps one of those faults, see `is_transient`).
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from celery import Task, chord, group

from core.errors import PipelineError
from pipeline.analysis.probe import probe
from pipeline.encode.parts import encode_part, gather_outputs, plan_parts
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan
from pipeline.planning.planner import plan as make_plan
from pipeline.storage.transfer import (
    deliver_title,
    drop_shared,
    fetch_source,
    local_files,
    share_files,
    work_location,
)
from pipeline.workflow.assemble import assemble_title
from pipeline.workflow.title import load_texts
from workers import idempotency as idem
from workers.app import app
from workers.jobs import (
    STAGES,
    JobSpec,
    client,
    count_attempt,
    job_key,
    set_job,
    set_stage,
    worker_name,
)

Ctx = dict[str, Any]
PROGRESS_INTERVAL = 0.5  # seconds between progress writes to Redis
_TRANSIENT_ERRNOS = {
    errno.EAGAIN,
    errno.EBUSY,
    errno.EINTR,
    errno.ETIMEDOUT,
    errno.ECONNRESET,
    errno.ECONNREFUSED,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ENETDOWN,
    errno.EPIPE,
}
_S3_RETRY_CODES = {
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "Throttling",
}


class TransientError(Exception):
    """A fault worth retrying (the cause is chained); the only class tasks auto-retry."""


def is_transient(exc: BaseException) -> bool:
    """True for faults that a later attempt can get past; never for bad input.

    A PipelineError is bad input unless it only wraps a transient fault: `pipeline.storage.s3` turns
    an S3 5xx or a dropped connection into a PipelineError naming the object (the fault is kept as
    its cause or context), and `drm.keyexchange.speke.KeyServerError` has no status or a 5xx when
    the key
    server is down rather than refusing.
    """
    if isinstance(exc, PipelineError):
        status = getattr(exc, "status", "n/a")
        if status is None or (isinstance(status, int) and status >= 500):
            return True
        inner = exc.__cause__ or exc.__context__
        return inner is not None and not isinstance(inner, PipelineError) and is_transient(inner)
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return True
    if isinstance(exc, ConnectionError | TimeoutError | BlockingIOError):
        return True
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        return True
    return _is_transient_boto(exc)


def _is_transient_boto(exc: BaseException) -> bool:
    try:
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError
    except ImportError:
        return False
    if isinstance(exc, BotoConnectionError | HTTPClientError):  # EndpointConnectionError, ...
        return True
    if isinstance(exc, ClientError):
        meta = exc.response.get("ResponseMetadata", {})
        code = exc.response.get("Error", {}).get("Code", "")
        return int(meta.get("HTTPStatusCode") or 0) >= 500 or code in _S3_RETRY_CODES
    return False


def describe(exc: BaseException) -> str:
    """One line for the job record: PipelineErrors already name the file and stage."""
    if isinstance(exc, TransientError) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, PipelineError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def retry_transient() -> Iterator[None]:
    """Re-raise transient faults as TransientError so that only they are auto-retried."""
    try:
        yield
    except Exception as exc:
        if is_transient(exc):
            raise TransientError(describe(exc)) from exc
        raise


class StageTask(Task):
    """Base of every stage task: at-least-once, backoff on transient faults, state in Redis."""

    stage = ""
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (TransientError,)
    max_retries = int(os.environ.get("VOD_MAX_RETRIES", "5"))
    retry_backoff = 2  # seconds, doubled per attempt
    retry_backoff_max = 300
    retry_jitter = True

    def record_name(self, args: tuple, kwargs: dict) -> str:
        return self.stage

    def on_retry(
        self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any
    ) -> None:
        job_id = job_id_in(args, kwargs)
        if job_id:
            set_stage(job_id, self.record_name(args, kwargs), state="retrying", error=describe(exc))

    def on_failure(
        self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any
    ) -> None:
        job_id = job_id_in(args, kwargs)
        if job_id:
            record_failure(job_id, self.stage, self.record_name(args, kwargs), exc)


class EncodeTask(StageTask):
    stage = "encode"

    def record_name(self, args: tuple, kwargs: dict) -> str:
        part = kwargs.get("part") or (args[1] if len(args) > 1 else None)
        return f"encode:{part['name']}" if isinstance(part, dict) else "encode"


def job_id_in(args: tuple, kwargs: dict) -> str | None:
    """Find the job id in a task's arguments (a spec dict, or a context holding one)."""
    for value in [*args, *kwargs.values()]:
        if isinstance(value, dict):
            if isinstance(value.get("job"), dict):
                return value["job"].get("job_id")
            if "job_id" in value:
                return value["job_id"]
    return None


def record_failure(job_id: str, stage: str, name: str, exc: BaseException) -> None:
    message = describe(exc)
    now = time.time()
    set_stage(job_id, name, state="failed", error=message, finished=now)
    if name != stage:
        set_stage(job_id, stage, state="failed", error=message, finished=now)
    set_job(job_id, state="failed", error=message, finished=now)


@contextmanager
def running(task: Task, job_id: str, name: str) -> Iterator[None]:
    """Mark a stage (or encode part) running for this attempt, then done when the body ends."""
    count_attempt(job_id, name)
    worker = worker_name(task.request.hostname)
    set_stage(job_id, name, state="running", started=time.time(), worker=worker, error="")
    _job_running(job_id)
    with retry_transient():
        yield
    set_stage(job_id, name, state="done", progress=1.0, finished=time.time())


def _job_running(job_id: str) -> None:
    """queued -> running; a failed or finished job keeps its state."""
    if client().hget(job_key(job_id), "job.state") == "queued":
        set_job(job_id, state="running")


class _Reporter:
    """Progress callback writing to Redis at most every PROGRESS_INTERVAL seconds."""

    def __init__(self, job_id: str, name: str):
        self.job_id, self.name, self.last = job_id, name, 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL and fraction < 1.0:
            return
        self.last = now
        set_stage(self.job_id, self.name, progress=round(fraction, 3))
        if self.name.startswith("encode:"):
            _encode_rollup(self.job_id)

    def stage(self, _stage: str, fraction: float) -> None:
        self(fraction)


def _encode_rollup(job_id: str) -> None:
    """The encode stage's progress: the mean of its parts' progress."""
    raw = client().hgetall(job_key(job_id))
    total = int(raw.get("encode.parts") or 0)
    if not total:
        return
    parts = {k.split(".", 1)[0] for k in raw if k.startswith("encode:")}
    done = sum(
        1.0 if raw.get(f"{p}.state") == "done" else float(raw.get(f"{p}.progress") or 0)
        for p in parts
    )
    set_stage(job_id, "encode", progress=round(min(done / total, 1.0), 3))


def _spec(ctx: Ctx) -> JobSpec:
    return JobSpec.model_validate(ctx["job"])


def _source_dir(spec: JobSpec) -> Path:
    return idem.job_dir(spec.job_id) / "source"


# -- the stages ------------------------------------------------------------------------------


@app.task(bind=True, base=StageTask, name="vod.probe", stage="probe")
def probe_task(self: StageTask, job: dict) -> Ctx:
    """Fetch the source if it is remote, probe it; the media description travels on."""
    spec = JobSpec.model_validate(job)
    with running(self, spec.job_id, "probe"):
        result = idem.completed(spec.job_id, "probe")
        if result is None:
            local = fetch_source(spec.source, _source_dir(spec))
            result = {"media": probe(local).model_dump(mode="json")}
            idem.mark_done(spec.job_id, "probe", result)
    return {"job": job, **result}


@app.task(bind=True, base=StageTask, name="vod.plan", stage="plan")
def plan_task(self: StageTask, ctx: Ctx) -> Ctx:
    """Plan the renditions and cut the encode into parts; subtitles are checked here, early."""
    spec = _spec(ctx)
    with running(self, spec.job_id, "plan"):
        media = MediaInfo.model_validate(ctx["media"])
        plan = make_plan(media, spec.device_classes, segment_seconds=spec.segment_seconds)
        load_texts(_subtitles(spec), media.duration)
        parts = plan_parts(plan, spec.chunk_seconds)
    return {**ctx, "plan": plan.model_dump(mode="json"), "parts": parts}


@app.task(bind=True, base=StageTask, name="vod.fan_out", stage="encode")
def fan_out_task(self: StageTask, ctx: Ctx) -> Any:
    """Replace itself with chord(group(encode per part), package); the plan set the group size."""
    spec = _spec(ctx)
    parts = ctx["parts"]
    set_stage(spec.job_id, "encode", state="running", started=time.time(), parts=len(parts))
    _job_running(spec.job_id)
    slim = {k: ctx[k] for k in ("job", "media", "plan")}
    header = group(encode_task.s(slim, part) for part in parts)
    return self.replace(chord(header, package_task.s({**slim, "parts": parts})))


@app.task(bind=True, base=EncodeTask, name="vod.encode")
def encode_task(self: StageTask, ctx: Ctx, part: dict) -> dict:
    """Encode one part into the job's work dir; returns rendition name -> file path."""
    spec = _spec(ctx)
    step = f"encode:{part['name']}"
    with running(self, spec.job_id, step):
        result = idem.completed(spec.job_id, step)
        if result is None:
            local = fetch_source(spec.source, _source_dir(spec))
            plan = Plan.model_validate(ctx["plan"]).model_copy(update={"source": str(local)})
            files = encode_part(
                plan,
                part,
                idem.job_dir(spec.job_id) / "encode",
                media=MediaInfo.model_validate(ctx["media"]),
                preset=spec.preset,
                progress=_Reporter(spec.job_id, step),
            )
            result = {"part": part, "files": {k: str(v) for k, v in files.items()}}
            shared = work_location(spec.origin, spec.job_id)
            if shared:  # other machines' package step can fetch them
                result["urls"] = share_files(files, shared)
            idem.mark_done(spec.job_id, step, result)
    _encode_rollup(spec.job_id)
    return result


@app.task(bind=True, base=StageTask, name="vod.package", stage="package")
def package_task(self: StageTask, results: list[dict], ctx: Ctx) -> Ctx:
    """Package the encoded files (encrypting when the spec asks) into a validated title."""
    spec = _spec(ctx)
    set_stage(spec.job_id, "encode", state="done", progress=1.0, finished=time.time())
    with running(self, spec.job_id, "package"):
        result = idem.completed(spec.job_id, "package")
        if result is None:
            result = _package(spec, ctx, results)
            idem.mark_done(spec.job_id, "package", result)
    return {"job": ctx["job"], **result}


def _subtitles(spec: JobSpec) -> list[tuple[Path, str]]:
    """Sidecar subtitles as local files (downloaded once per job when they are on S3)."""
    base = idem.job_dir(spec.job_id) / "subtitles"
    return [(fetch_source(s.path, base / str(i)), s.language) for i, s in enumerate(spec.subtitles)]


def _package(spec: JobSpec, ctx: Ctx, results: list[dict]) -> dict:
    cache = idem.job_dir(spec.job_id) / "encode"
    outputs = gather_outputs(
        [(r["part"], local_files(r["files"], r.get("urls"), cache)) for r in results]
    )
    media = MediaInfo.model_validate(ctx["media"])
    texts = load_texts(_subtitles(spec), media.duration)
    protection = spec.drm.protection() if spec.drm else None
    final = idem.job_dir(spec.job_id) / "title"
    with idem.replace_dir(final) as staged:
        summary = assemble_title(
            Plan.model_validate(ctx["plan"]),
            media,
            outputs,
            staged,
            spec.title_id,
            texts=texts,
            protection=protection,
            progress=_Reporter(spec.job_id, "package").stage,
        )
    summary.update(hls=str(final / "master.m3u8"), dash=str(final / "manifest.mpd"))
    return {"title_dir": str(final), "summary": summary}


@app.task(bind=True, base=StageTask, name="vod.publish", stage="publish")
def publish_task(self: StageTask, ctx: Ctx) -> Ctx:
    """Put the title on the origin (directory or S3); publishing again gives the same title."""
    spec = _spec(ctx)
    with running(self, spec.job_id, "publish"):
        result = idem.completed(spec.job_id, "publish")
        if result is None:
            location = deliver_title(Path(ctx["title_dir"]), spec.origin, spec.title_id)
            result = {"location": location}
            idem.mark_done(spec.job_id, "publish", result)
    summary = {**ctx["summary"], **_published_paths(result["location"]), **result}
    return {"job": ctx["job"], "summary": summary}


def _published_paths(location: str) -> dict[str, str]:
    base = location.rstrip("/")
    return {"hls": f"{base}/master.m3u8", "dash": f"{base}/manifest.mpd"}


@app.task(bind=True, base=StageTask, name="vod.catalogue", stage="catalogue")
def catalogue_task(self: StageTask, ctx: Ctx) -> Ctx:
    """Tell the catalogue what was published (database when configured, else a JSON file)."""
    spec = _spec(ctx)
    with running(self, spec.job_id, "catalogue"):
        outcome = _record(spec.title_id, ctx["summary"])
    return {**ctx, "catalogue": outcome}


def _record(title_id: str, summary: dict) -> str:
    url = os.environ.get("VOD_DATABASE_URL")
    if url:
        from catalogue.db import session_scope, setup
        from catalogue.store import record_presentation

        base = os.environ.get("VOD_PUBLIC_BASE_URL", "")
        with session_scope(setup(url)) as session:
            return record_presentation(session, title_id, summary, base)
    folder = Path(os.environ.get("VOD_CATALOGUE_DIR") or idem.work_root() / "catalogue")
    idem.write_json(folder / f"{title_id}.json", summary)
    return str(folder / f"{title_id}.json")


@app.task(bind=True, base=StageTask, name="vod.finalize", stage="finalize")
def finalize_task(self: StageTask, ctx: Ctx) -> dict:
    """Mark the job done with its summary and drop its intermediates."""
    spec = _spec(ctx)
    with running(self, spec.job_id, "finalize"):
        summary = {**ctx["summary"], "job_id": spec.job_id}
        set_job(spec.job_id, state="done", summary=summary, finished=time.time(), error="")
        if not os.environ.get("VOD_KEEP_WORK"):
            idem.remove_job_dir(spec.job_id)
            shared = work_location(spec.origin, spec.job_id)
            if shared:
                drop_shared(shared)
    return summary


STAGE_TASKS = {
    "probe": probe_task,
    "plan": plan_task,
    "encode": encode_task,
    "package": package_task,
    "publish": publish_task,
    "catalogue": catalogue_task,
    "finalize": finalize_task,
}
assert set(STAGE_TASKS) == set(STAGES)
