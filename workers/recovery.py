"""Re-queue the work of dead workers: the other half of `workers.lease`.

A lease still listed in `vod:leases` whose key has expired belongs to an attempt whose
process stopped renewing it: the worker died (SIGKILL, lost machine) or hung. Its task
message is still unacknowledged in the broker (`task_acks_late`), where the Redis transport
would give it back only after the visibility timeout. `recover_stale` gives it back now:

1. one monitor per lapsed lease wins `vod:job:<id>:recover:<step>` (SET NX, one lease period);
2. in one Lua script, and only while the lease is still lapsed, it marks the step
   "recovering" and unlists the lease, so the attempt that follows starts on a clean slate;
3. it finds the dead attempt's message among the broker's unacknowledged ones (the same task
   id, delivered no later than the attempt took its lease: a newer delivery of the same task
   is a live worker's) and puts it back at the head of its queue with kombu's own restore
   (one transaction: the message leaves `unacked` exactly once). The next free worker runs it
   again; every step is idempotent (`workers.idempotency`) and a chord counts a part once, so
   a second run is harmless.

Monitors run in every worker (`workers.supervision`), every third of a lease period, so a dead
worker's step is running again within about 80 s of its death with the default 60 s lease.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from celery import Celery

from core.settings import settings
from workers.cleanup import sweep_work_dir
from workers.jobs import client, job_key
from workers.lease import LEASES, lease_key, member, parse_member

log = logging.getLogger(__name__)
DELIVERY_TOLERANCE = 1.0  # seconds between a delivery and its task taking the lease
_ATTEMPT = ("task", "leased", "worker")  # what the lapsed attempt recorded in the job hash

# Only while the lease is still lapsed: mark the step recovering (unless it had ended, or the
# job record is gone) and unlist the lease, in the job hash's `<step>.<attr>` layout.
_MARK_RECOVERING = """
if redis.call('exists', KEYS[1]) == 1 then return 0 end
local state = redis.call('hget', KEYS[2], ARGV[1] .. '.state')
if state and state ~= 'done' and state ~= 'failed' then
  redis.call('hset', KEYS[2], ARGV[1] .. '.state', 'recovering', ARGV[1] .. '.error', ARGV[3],
             'job.updated', ARGV[4])
end
redis.call('hdel', KEYS[2], ARGV[1] .. '.lease_until')
redis.call('srem', KEYS[3], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class Recovered:
    job_id: str
    step: str
    requeued: bool  # False: the message was not unacknowledged any more (already re-queued)
    worker: str = ""


def attempt_delivery(
    unacked: Iterable[tuple[str, str, float]], task_id: str, leased: float
) -> str | None:
    """The delivery tag of the dead attempt's message among (tag, message, delivered at).

    Only a delivery made before the attempt took its lease is that attempt's own; a later
    one of the same task is already someone else's."""
    for tag, raw, delivered in unacked:
        try:
            payload = json.loads(raw)[0]
        except (ValueError, IndexError, TypeError):
            continue
        headers = payload.get("headers") or {}
        if headers.get("id") == task_id and delivered <= leased + DELIVERY_TOLERANCE:
            return tag
    return None


def restore_delivery(app: Celery, task_id: str, leased: float) -> bool:
    """Put the unacknowledged message of `task_id` back on its queue (to be taken next)."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        if not hasattr(channel, "unacked_key"):
            return False  # not the Redis transport: the visibility timeout has to do
        r = channel.client
        index = dict(r.zrange(channel.unacked_index_key, 0, -1, withscores=True))
        entries = (
            (tag, raw, index.get(tag, float("inf")))
            for tag, raw in r.hscan_iter(channel.unacked_key)
        )
        tag = attempt_delivery(entries, task_id, leased)
        if tag is None:
            return False
        channel.qos.restore_by_tag(tag, leftmost=False)
        return True


def stale_leases(r: Any) -> list[tuple[str, str]]:
    """(job id, step) of every listed lease whose key has expired."""
    members = sorted(r.smembers(LEASES))
    if not members:
        return []
    with r.pipeline(transaction=False) as pipe:
        for value in members:
            pipe.exists(lease_key(*parse_member(value)))
        alive = pipe.execute()
    return [parse_member(value) for value, held in zip(members, alive, strict=True) if not held]


def recover(app: Celery, r: Any, job_id: str, step: str, seconds: float) -> Recovered | None:
    """Re-queue one lapsed step; None when another monitor has it, or a worker took it over.

    The step is marked recovering (and its lease unlisted) before its message goes back on
    the queue: once it is there, a worker may take it at once and must find a clean slate."""
    lock = f"{job_key(job_id)}:recover:{step}"
    if not r.set(lock, "1", nx=True, ex=max(int(seconds), 1)):
        return None
    task_id, leased, worker = r.hmget(job_key(job_id), [f"{step}.{a}" for a in _ATTEMPT])
    keys = [lease_key(job_id, step), job_key(job_id), LEASES]
    args = [step, member(job_id, step), f"worker {worker} stopped; re-queued", time.time()]
    if not r.eval(_MARK_RECOVERING, len(keys), *keys, *args):
        return None  # renewed or taken over since we looked
    requeued = bool(task_id) and restore_delivery(app, task_id, float(leased or 0))
    outcome = "re-queued" if requeued else "not unacknowledged any more (already re-queued?)"
    log.warning("lease of %s %s lapsed (worker %s): %s", job_id, step, worker, outcome)
    return Recovered(job_id, step, requeued, worker or "")


def recover_stale(app: Celery) -> list[Recovered]:
    """One monitor pass: re-queue every step whose lease lapsed."""
    seconds = settings().lease_seconds
    r = client()
    found = []
    for job_id, step in stale_leases(r):
        outcome = recover(app, r, job_id, step, seconds)
        if outcome is not None:
            found.append(outcome)
    return found


def wait_interval() -> float:
    """How often monitors look: a third of a lease period (at least a second)."""
    return max(settings().lease_seconds / 3, 1.0)


def monitor_pass(app: Celery) -> None:
    """Recovery, then the work-dir sweep; never raises (Redis or S3 may be away a moment)."""
    for name, run in (("recovery", lambda: recover_stale(app)), ("sweep", sweep_work_dir)):
        try:
            run()
        except Exception as exc:
            log.warning("monitor %s pass failed: %s", name, exc)
