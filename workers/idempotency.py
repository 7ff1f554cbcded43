"""At-least-once delivery made harmless: completion markers and write-temp-then-rename.

A task can run twice: its worker died after finishing but before the ack, the broker handed it
out again after the visibility timeout, or someone resubmitted the job. So every step

* first looks for its completion marker (`vod:job:<id>:done`, field = step) and, when present,
  returns the recorded result without doing the work again;
* writes its outputs into the job's own work dir, under a temp name renamed into place only
  when complete, so a half-finished attempt is invisible and a rerun replaces it whole;
* records its marker last, once its outputs are in place.

The work dir, `$VOD_WORK_DIR/<job_id>/` (default: under the system temp dir), is shared by the
workers of one machine; `workers.cleanup` removes it when the job has ended.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.settings import Settings, settings
from workers.jobs import client, job_key


def done_key(job_id: str) -> str:
    return f"{job_key(job_id)}:done"


def completed(job_id: str, step: str) -> Any | None:
    """The recorded result of a finished step, or None when it has not finished."""
    raw = client().hget(done_key(job_id), step)
    return json.loads(raw) if raw is not None else None


def completed_steps(job_id: str, prefix: str = "") -> dict[str, Any]:
    raw = client().hgetall(done_key(job_id))
    return {k: json.loads(v) for k, v in raw.items() if k.startswith(prefix)}


def mark_done(job_id: str, step: str, result: Any) -> None:
    """Record that `step` finished with `result` (JSON-serialisable, no secrets)."""
    client().hset(done_key(job_id), step, json.dumps(result))


def forget(job_id: str) -> None:
    """Drop every marker of a job (`submit --force`): its next run does all the work again."""
    client().delete(done_key(job_id))


def work_root() -> Path:
    """VOD_WORK_DIR: this machine's job folders (set but empty: the default)."""
    configured = settings().work_dir
    return configured if configured != Path() else Settings.model_fields["work_dir"].default


def job_dir(job_id: str) -> Path:
    """The job's scratch space; created on first use."""
    path = work_root() / job_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_job_dir(job_id: str) -> None:
    shutil.rmtree(work_root() / job_id, ignore_errors=True)


@contextmanager
def replace_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temp dir next to `final`; on success it atomically becomes `final`.

    An older `final` (from an attempt that died before recording its marker) is swapped out
    by rename and removed, so readers see either the old or the new folder, never a mix.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:10]}.tmp"
    tmp.mkdir()
    try:
        yield tmp
        old = None
        if final.exists():
            old = final.parent / f".{final.name}.{uuid.uuid4().hex[:10]}.old"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
