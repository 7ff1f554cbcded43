"""Task leases: a running task keeps proving that its worker is alive.

While a stage task (or one encode part) runs, it holds `vod:lease:<job>:<step>` in the
job-state Redis: a key with a time to live of VOD_LEASE_SECONDS (60), renewed every third of
that by a thread of the process running the task, and deleted when the task ends. The job's
hash also gets `<step>.task` (the Celery task id, to find its message again), `<step>.leased`
(when this attempt took the lease) and `<step>.lease_until` (for readers); `vod:leases` lists
the leases held, as "<job id> <step>".

So a listed lease whose key is gone belongs to a process that died (or hung) mid-task:
`workers.recovery` re-queues its message within about a lease period, long before the
broker's visibility timeout (hard time limit + 5 min). Readers need not wait for that:
`step_state` and `job_state` show such a step, and its job, as "recovering" as soon as the
lease has lapsed. Redis's clock decides expiry; `lease_until` is only for display.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

LEASE_PREFIX = "vod:lease:"
LEASES = "vod:leases"
RECOVERING = "recovering"

# Renew only a lease we still hold, or one that lapsed and nobody took since.
_RENEW = """
local holder = redis.call('get', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('hset', KEYS[2], ARGV[3], ARGV[4])
return 1
"""
# Let go of a lease only while holding it: a later attempt may have taken the step over.
_RELEASE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('del', KEYS[1])
redis.call('srem', KEYS[2], ARGV[2])
redis.call('hdel', KEYS[3], ARGV[3])
return 1
"""


def lease_key(job_id: str, step: str) -> str:
    return f"{LEASE_PREFIX}{job_id}:{step}"


def member(job_id: str, step: str) -> str:
    """The entry of a lease in `vod:leases` (job ids and step names hold no spaces)."""
    return f"{job_id} {step}"


def parse_member(value: str) -> tuple[str, str]:
    job_id, _, step = value.partition(" ")
    return job_id, step


# -- what readers show ----------------------------------------------------------------------------


def lapsed(attrs: Mapping[str, str], now: float) -> bool:
    """True when a running step's lease ran out: its worker stopped renewing it."""
    try:
        until = float(attrs.get("lease_until") or "")
    except ValueError:
        return False
    return attrs.get("state") == "running" and until < now


def step_state(attrs: Mapping[str, str], now: float) -> str:
    """A step's state as readers should see it: "running" with a lapsed lease is recovering."""
    state = attrs.get("state", "pending")
    return RECOVERING if lapsed(attrs, now) else state


def job_state(stored: str, step_states: Iterable[str]) -> str:
    """A job under way with any step recovering is recovering, not "running"."""
    if stored in ("queued", "running") and RECOVERING in step_states:
        return RECOVERING
    return stored


# -- holding one ---------------------------------------------------------------------------------


class Lease:
    """The lease of one attempt at one step; `hold()` starts renewing it, `release()` ends it."""

    def __init__(
        self,
        r: Any,
        job_hash: str,
        job_id: str,
        step: str,
        *,
        task_id: str,
        seconds: float,
        holder: str,
    ):
        self.r, self.job_hash, self.job_id, self.step = r, job_hash, job_id, step
        self.task_id = task_id
        self.seconds = max(int(seconds), 1)
        self.token = f"{holder}:{uuid.uuid4().hex[:8]}"
        self.key = lease_key(job_id, step)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self) -> None:
        """Hold the step's lease now (a lapsed one of an earlier attempt is taken over)."""
        now = time.time()
        with self.r.pipeline() as pipe:
            pipe.set(self.key, self.token, ex=self.seconds)
            pipe.sadd(LEASES, member(self.job_id, self.step))
            pipe.hset(
                self.job_hash,
                mapping={
                    f"{self.step}.task": self.task_id,
                    f"{self.step}.leased": str(now),
                    f"{self.step}.lease_until": str(now + self.seconds),
                },
            )
            pipe.execute()

    def renew(self) -> bool:
        """Extend the lease; False when another attempt holds the step now."""
        until = str(time.time() + self.seconds)
        keys = [self.key, self.job_hash]
        args = [self.token, self.seconds, f"{self.step}.lease_until", until]
        return bool(self.r.eval(_RENEW, len(keys), *keys, *args))

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        keys = [self.key, LEASES, self.job_hash]
        args = [self.token, member(self.job_id, self.step), f"{self.step}.lease_until"]
        self.r.eval(_RELEASE, len(keys), *keys, *args)

    def hold(self) -> Lease:
        """Take the lease and renew it every third of its period from a daemon thread."""
        self.take()
        self._thread = threading.Thread(
            target=self._renew_until_released, name=f"lease {self.key}", daemon=True
        )
        self._thread.start()
        return self

    def _renew_until_released(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                if not self.renew():
                    log.warning(
                        "lease %s was taken over; this attempt no longer holds it", self.key
                    )
                    return
            except Exception as exc:  # Redis away for a moment: try again next period
                log.warning("cannot renew lease %s: %s", self.key, exc)
