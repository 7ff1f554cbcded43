"""A job's intermediates go when it ends, failed as well as done.

Every machine that worked on a job has `$VOD_WORK_DIR/<job>/` (the source copy in `source/`,
encoded parts in `encode/`, the packaged title), and when parts travel between machines
they also sit in the shared work area, `s3://<origin bucket>/work/<job>/encode/` by default
(`pipeline.storage.transfer.work_location`). The finalize task drops them for a finished job;
for a failed one, `discard_if_failed` runs after every attempt at a step of that job (so an
encode still running when another part failed cleans up after itself too), and each worker's
monitor sweeps its own machine's work dir for folders of jobs that have ended. VOD_KEEP_WORK
keeps everything (for a post-mortem). The source in the ingest bucket is never touched here:
the watcher moves it to `quarantine/`.
"""

from __future__ import annotations

import re

from core.errors import VodError
from core.settings import settings
from pipeline.storage.transfer import drop_shared, work_location
from workers.idempotency import remove_job_dir, work_root
from workers.jobs import client, get_job, job_key

JOB_DIR = re.compile(r"j[0-9a-f]{24}")  # `workers.jobs.job_id_for`
ENDED = ("done", "failed")


def discard_intermediates(job_id: str, origin: str | None) -> None:
    """Remove this machine's work folder of the job and its shared work area, if any."""
    if settings().keep_work:
        return
    remove_job_dir(job_id)
    try:
        shared = work_location(origin, job_id) if origin else None
    except VodError:  # an unusable origin (the job failed on it): nothing was shared there
        return
    if shared:
        drop_shared(shared)


def discard_if_failed(job_id: str) -> bool:
    """After an attempt at a step: drop the job's intermediates if the job has failed."""
    job = get_job(job_id)
    if job is None or job.state != "failed":
        return False
    discard_intermediates(job_id, job.spec.origin if job.spec else None)
    return True


def sweep_work_dir() -> list[str]:
    """Remove this machine's folders of jobs that have ended; returns their job ids."""
    root = work_root()
    if settings().keep_work or not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if JOB_DIR.fullmatch(p.name) and p.is_dir())
    if not names:
        return []
    with client().pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hget(job_key(name), "job.state")
        states = pipe.execute()
    ended = [name for name, state in zip(names, states, strict=True) if state in ENDED]
    for name in ended:
        remove_job_dir(name)
    return ended
