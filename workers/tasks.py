"""The Celery driver of the title workflow: one task per step of `pipeline.workflow.steps`.

The tasks call the same step functions as `vod ingest` (check destination, probe, plan,
package, publish, record); only the encode differs, fanned out per rung or chunk. Every task
takes and returns JSON-ready dicts (the job spec, the probe result, the plan, file paths, the
title summary); none carries a content key, which the package task fetches from the key store
or key server named in the spec. Each task records its stage in the job's Redis hash
(`workers.jobs`) and is safe to run twice (`workers.idempotency`). Errors about the worker's
local copy of a source name the source the user gave (e.g. its s3:// URL).

Retries follow the error categories of `core.errors`: a `Transient` error (and a raw network,
Redis, S3 5xx or EAGAIN fault, turned into `TransientError`) is retried with exponential
backoff and jitter; any other `VodError` (bad input, not found, refused...) fails the job at
once, unless it merely wraps one of those faults (see `is_transient`).
"""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from celery import Task, chord, group

from core.errors import Transient, VodError
from core.settings import settings
from pipeline.encode.parts import encode_part, gather_outputs, plan_parts
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan
from pipeline.media.quality import LadderAnalysis, QualityReport
from pipeline.storage.transfer import fetch_source, local_files, share_files
from pipeline.storage.work_area import check_work_area, work_location
from pipeline.workflow.protection import protection_for
from pipeline.workflow.result import ladder_summary, packaged_summary, title_summary
from pipeline.workflow.spec import CatalogueTarget
from pipeline.workflow.steps import (
    check_destination,
    load_keys,
    load_texts,
    measure_quality,
    named_after,
    package_title,
    plan_title,
    probe_source,
    publish_title,
    record_title,
)
from workers import idempotency as idem
from workers.app import app
from workers.cleanup import discard_intermediates
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


class TransientError(Transient):
    """A raw fault worth retrying, as a project error (the fault is chained as its cause)."""


def is_transient(exc: BaseException) -> bool:
    """True for faults that a later attempt can get past; never for bad input.

    A `Transient` error is (e.g. `drm.keyexchange.speke.KeyServerUnavailable`); any other
    VodError is not, unless it only wraps a transient fault: `pipeline.storage.s3` turns an S3
    5xx or a dropped connection into a PipelineError naming the object (the fault is kept as
    its cause or context).
    """
    if isinstance(exc, Transient):
        return True
    if isinstance(exc, VodError):
        inner = exc.__cause__ or exc.__context__
        return inner is not None and not isinstance(inner, VodError) and is_transient(inner)
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
    """One line for the job record: a VodError already names the file (or object) and stage."""
    if isinstance(exc, VodError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def retry_transient() -> Iterator[None]:
    """Re-raise transient faults as a `Transient` error so that only they are auto-retried."""
    try:
        yield
    except Exception as exc:
        if is_transient(exc) and not isinstance(exc, Transient):
            raise _as_transient(exc) from exc
        raise


def _as_transient(exc: Exception) -> TransientError:
    if isinstance(exc, VodError):
        return TransientError(exc.path, exc.cause, stage=exc.stage, detail=exc.detail)
    return TransientError(None, f"{type(exc).__name__}: {exc}")


class StageTask(Task):
    """Base of every stage task: at-least-once, backoff on transient faults, state in Redis."""

    stage = ""
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (Transient,)
    max_retries = settings().max_retries
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
    """Check the origin and the private work area first (before any download or encode), fetch
    the source if it is remote, probe it; the media description travels on."""
    spec = JobSpec.model_validate(job)
    with running(self, spec.job_id, "probe"):
        result = idem.completed(spec.job_id, "probe")
        if result is None:
            check_destination(spec.origin, spec.title_id)
            check_work_area(spec.origin, idem.work_root())
            local = fetch_source(spec.source, _source_dir(spec))
            media = probe_source(local, source=spec.source)
            result = {"media": media.model_dump(mode="json")}
            idem.mark_done(spec.job_id, "probe", result)
    return {"job": job, **result}


@app.task(bind=True, base=StageTask, name="vod.plan", stage="plan")
def plan_task(self: StageTask, ctx: Ctx) -> Ctx:
    """Plan the renditions and cut the encode into parts; subtitles are checked here, early.
    A per-title ladder first fans its trial encodes out (`workers.per_title_tasks`)."""
    spec = _spec(ctx)
    if spec.ladder == "per-title":
        from workers.per_title_tasks import analysis_chord, trial_items

        with running(self, spec.job_id, "plan"):
            items = trial_items(spec, MediaInfo.model_validate(ctx["media"]))
        return self.replace(analysis_chord(ctx, items))
    with running(self, spec.job_id, "plan"):
        media = MediaInfo.model_validate(ctx["media"])
        plan = plan_title(media, spec)
        _texts(spec, plan.duration, [])  # refuse unusable subtitles before any encoding
        parts = plan_parts(plan, spec.chunk_seconds)
    return {**ctx, "plan": plan.model_dump(mode="json"), "parts": parts}


@app.task(bind=True, base=StageTask, name="vod.fan_out", stage="encode")
def fan_out_task(self: StageTask, ctx: Ctx) -> Any:
    """Replace itself with chord(group(encode per part), package); the plan set the group size."""
    spec = _spec(ctx)
    parts = ctx["parts"]
    set_stage(spec.job_id, "encode", state="running", started=time.time(), parts=len(parts))
    _job_running(spec.job_id)
    slim = {k: ctx[k] for k in ("job", "media", "plan", "analyses") if k in ctx}
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
            with named_after(spec.source, local):
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


def _texts(spec: JobSpec, duration: float, warnings: list[str]) -> list[tuple[str, str]]:
    """Sidecar subtitles as (WebVTT, language), downloaded once per job when they are on S3;
    errors name the subtitle file as submitted."""
    base = idem.job_dir(spec.job_id) / "subtitles"
    texts: list[tuple[str, str]] = []
    for i, sub in enumerate(spec.subtitles):
        local = fetch_source(sub.path, base / str(i))
        with named_after(sub.path, local):
            texts += load_texts([(local, sub.language)], duration, warnings=warnings)
    return texts


def _package(spec: JobSpec, ctx: Ctx, results: list[dict]) -> dict:
    """The package step on the gathered encodes; returns the title folder and what packaging
    produced (renditions, KIDs), for the publish step's summary."""
    cache = idem.job_dir(spec.job_id) / "encode"
    outputs = gather_outputs(
        [(r["part"], local_files(r["files"], r.get("urls"), cache)) for r in results]
    )
    plan = Plan.model_validate(ctx["plan"])
    warnings = list(plan.warnings)  # tracks fitted to the picture, guessed channel maps
    texts = _texts(spec, plan.duration, warnings)
    protection = protection_for(spec.drm) if spec.drm else None
    load_keys(protection, spec.title_id, plan)
    final = idem.job_dir(spec.job_id) / "title"
    with idem.replace_dir(final) as staged:
        quality = _quality(spec, ctx, plan, outputs, staged)
        presentation = package_title(
            plan,
            outputs,
            staged,
            spec.title_id,
            texts=texts,
            protection=protection,
            report=_Reporter(spec.job_id, "package").stage,
            validate_output=spec.validate_output,
        )
    packaged = packaged_summary(presentation, protection)
    if warnings:
        packaged["warnings"] = warnings
    analyses = {c: LadderAnalysis.model_validate(a) for c, a in ctx.get("analyses", {}).items()}
    packaged["ladder"] = ladder_summary(spec.ladder, analyses)
    if quality is not None:
        packaged["quality"] = quality.model_dump(mode="json")
    return {"title_dir": str(final), "packaged": packaged}


def _quality(
    spec: JobSpec, ctx: Ctx, plan: Plan, outputs: dict, build: Path
) -> QualityReport | None:
    """The VMAF report of the encodes (chunks read in order), when the job asks for one."""
    if not spec.wants_quality:
        return None
    local = fetch_source(spec.source, _source_dir(spec))
    media = MediaInfo.model_validate(ctx["media"])
    with named_after(spec.source, local):
        return measure_quality(
            plan.model_copy(update={"source": str(local)}), outputs, media, spec, build
        )


@app.task(bind=True, base=StageTask, name="vod.publish", stage="publish")
def publish_task(self: StageTask, ctx: Ctx) -> Ctx:
    """Put the title on the origin (directory or S3) and make the job's summary, once;
    publishing again gives the same title."""
    spec = _spec(ctx)
    with running(self, spec.job_id, "publish"):
        result = idem.completed(spec.job_id, "publish")
        if result is None:
            destination = check_destination(spec.origin, spec.title_id)
            published = publish_title(Path(ctx["title_dir"]), destination)
            summary = title_summary(spec.title_id, published, ctx["packaged"], {})
            summary.update(location=published.location, job_id=spec.job_id)
            result = {"summary": summary}
            idem.mark_done(spec.job_id, "publish", result)
    return {"job": ctx["job"], "summary": result["summary"]}


@app.task(bind=True, base=StageTask, name="vod.catalogue", stage="catalogue")
def catalogue_task(self: StageTask, ctx: Ctx) -> Ctx:
    """Tell the catalogue what was published (database when configured, else a JSON file)."""
    spec = _spec(ctx)
    with running(self, spec.job_id, "catalogue"):
        outcome = record_title(ctx["summary"], catalogue_target())
    return {**ctx, "catalogue": outcome}


def catalogue_target() -> CatalogueTarget:
    """This worker's catalogue: VOD_DATABASE_URL, else JSON files in VOD_CATALOGUE_DIR (default
    <work dir>/catalogue); manifest URLs under VOD_PUBLIC_BASE_URL."""
    conf = settings()
    return CatalogueTarget(
        database_url=conf.database_url,
        base_url=conf.public_base_url,
        folder=conf.catalogue_dir or idem.work_root() / "catalogue",
    )


@app.task(bind=True, base=StageTask, name="vod.finalize", stage="finalize")
def finalize_task(self: StageTask, ctx: Ctx) -> dict:
    """Drop the job's intermediates, then mark it done with its summary: "done" is written
    last, so whoever sees a done job sees every stage done too."""
    spec = _spec(ctx)
    summary = ctx["summary"]
    with running(self, spec.job_id, "finalize"):
        discard_intermediates(spec.job_id, spec.origin)
    set_job(spec.job_id, state="done", summary=summary, finished=time.time(), error="")
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
