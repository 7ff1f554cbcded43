"""The job as a Celery canvas, and submitting it.

    chain(probe, plan, fan_out -> chord(group(encode per part), package), publish,
          catalogue, finalize)

How many encodes there are is only known once the plan exists, so `fan_out` runs after `plan`
and replaces itself with the chord; Celery appends the rest of the chain (publish, catalogue,
finalize) to the chord's body. A chord needs the result backend (Redis) to count its parts.
"""

from __future__ import annotations

from typing import Literal

import redis
from celery.canvas import Signature, chain

from workers import idempotency as idem
from workers.jobs import JobSpec, client, create_job, get_job, job_key
from workers.tasks import (
    catalogue_task,
    fan_out_task,
    finalize_task,
    plan_task,
    probe_task,
    publish_task,
)

SUBMIT_LOCK_SECONDS = 30
Submitted = Literal["queued", "already-done", "already-running"]


def build_canvas(job: JobSpec) -> Signature:
    """The whole job as one signature; only the JSON spec rides along, never a key."""
    return chain(
        probe_task.si(job.model_dump(mode="json")),
        plan_task.s(),
        fan_out_task.s(),
        publish_task.s(),
        catalogue_task.s(),
        finalize_task.s(),
    )


def submit(job: JobSpec, *, force: bool = False) -> Submitted:
    """Enqueue `job` unless it is already done or under way (`force` runs it again from
    scratch). A repeated submit of the same job id is therefore harmless."""
    r = client()
    lock = f"{job_key(job.job_id)}:submit"
    if not r.set(lock, "1", nx=True, ex=SUBMIT_LOCK_SECONDS):
        return "already-running"
    try:
        existing = get_job(job.job_id)
        if existing is not None and not force:
            if existing.state == "done":
                return "already-done"
            if existing.state in ("queued", "running", "recovering"):
                return "already-running"
        idem.forget(job.job_id)
        create_job(job)
        build_canvas(job).apply_async()
        return "queued"
    finally:
        _release(r, lock)


def _release(r: redis.Redis, lock: str) -> None:
    r.delete(lock)
