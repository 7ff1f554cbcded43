"""A job's intermediates go when it ends, failed as well as done.

Every machine that worked on a job has `$VOD_WORK_DIR/<job>/` (the source copy in `source/`,
encoded parts in `encode/`, the packaged title), and when parts travel between machines
they also sit in the private shared work area, `<work area>/<job>/encode/`
(`pipeline.storage.work_area`: VOD_WORK_URL, by default the bucket `<origin bucket>-work`). The
finalize task drops them for a finished job; for a failed one (failed for good: a step that
will be retried keeps everything it needs), `discard_if_failed` runs after every attempt at a
step of that job (so an encode still running when another part failed cleans up after itself
too). The shared area goes first and the local folder last, so a folder left behind marks a
job whose shared area may not be gone yet: each worker's monitor sweeps its own machine's work
dir for folders of jobs that have ended and discards both again. VOD_KEEP_WORK keeps
everything (for a post-mortem). The source in the ingest bucket is never touched here: the
watcher moves it to `quarantine/`.
"""

from __future__ import annotations

import json
import logging
import re

from core.errors import VodError
from core.settings import settings
from pipeline.storage.work_area import drop_shared, work_location
from workers.idempotency import remove_job_dir, work_root
from workers.jobs import client, get_job, job_key

log = logging.getLogger(__name__)
JOB_DIR = re.compile(r"j[0-9a-f]{24}")  # `workers.jobs.job_id_for`
ENDED = ("done", "failed")


def discard_intermediates(job_id: str, origin: str | None) -> None:
    """Remove the job's shared work area, if any, then this machine's work folder of it."""
    if settings().keep_work:
        return
    try:
        shared = work_location(origin, job_id) if origin else None
    except VodError:  # an unusable work area (the job was refused on it): nothing shared there
        shared = None
    if shared:
        drop_shared(shared)  # raises on an S3 fault: the folder stays for the next sweep
    remove_job_dir(job_id)


def discard_if_failed(job_id: str) -> bool:
    """After an attempt at a step: drop the job's intermediates if the job has failed."""
    job = get_job(job_id)
    if job is None or job.state != "failed":
        return False
    discard_intermediates(job_id, job.spec.origin if job.spec else None)
    return True


def sweep_work_dir() -> list[str]:
    """Discard the intermediates of every job that has ended and still has a folder on this
    machine; returns their job ids."""
    root = work_root()
    if settings().keep_work or not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if JOB_DIR.fullmatch(p.name) and p.is_dir())
    if not names:
        return []
    with client().pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hmget(job_key(name), ["job.state", "job.spec"])
        records = pipe.execute()
    ended = []
    for name, (state, spec) in zip(names, records, strict=True):
        if state not in ENDED:
            continue
        try:
            discard_intermediates(name, _origin(spec))
        except Exception as exc:  # S3 away a moment: the folder stays, the next pass retries
            log.warning("cannot discard the intermediates of %s: %s", name, exc)
            continue
        ended.append(name)
    return ended


def _origin(spec: str | None) -> str | None:
    try:
        origin = json.loads(spec or "{}").get("origin")
    except (ValueError, AttributeError):
        return None
    return origin if isinstance(origin, str) else None
