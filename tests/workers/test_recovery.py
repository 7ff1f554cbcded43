"""Leases: a worker SIGKILLed mid-encode is noticed within a lease period, its part re-queued.

The visibility timeout is an hour here, so only the lease can bring the part back in time:
`vod jobs` shows the job "recovering" (not "running") once the lease lapses, and a new
worker's monitor puts the dead worker's message back on the queue at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.common import ROOT, MediaFactory
from tests.support.workers import WorkerPool, assert_one_segment_set, submit_cli, wait_job

LEASE_SECONDS = 6


# -- what readers see ---------------------------------------------------------------------------


def test_a_lapsed_lease_reads_as_recovering() -> None:
    from workers.lease import job_state, step_state

    running = {"state": "running", "lease_until": "100.0"}
    assert step_state(running, now=99.0) == "running"
    assert step_state(running, now=101.0) == "recovering"
    assert step_state({"state": "done", "lease_until": "100.0"}, now=101.0) == "done"
    assert step_state({"state": "running"}, now=1e12) == "running"  # no lease (fan-out)
    assert job_state("running", ["done", "recovering"]) == "recovering"
    assert job_state("failed", ["recovering"]) == "failed"
    assert job_state("running", ["done", "running"]) == "running"


def test_only_the_dead_attempts_own_delivery_is_restored() -> None:
    from workers.recovery import attempt_delivery

    def message(task_id: str) -> str:
        return json.dumps([{"headers": {"id": task_id}, "body": "..."}, "encode", "encode"])

    unacked = [("t1", message("other"), 10.0), ("t2", message("mine"), 50.0)]
    assert attempt_delivery(unacked, "mine", leased=60.0) == "t2"
    assert attempt_delivery(unacked, "mine", leased=20.0) is None  # delivered after: a live one
    assert attempt_delivery([("t3", "not json", 1.0)], "mine", leased=60.0) is None


def test_lease_is_renewed_released_and_never_stolen_back(vod_env: dict) -> None:
    from workers.jobs import client, job_key
    from workers.lease import LEASES, Lease, lease_key, member

    r = client()
    job_id, step = f"j{uuid.uuid4().hex[:24]}", "encode:v1"

    def lease(holder: str) -> Lease:
        return Lease(r, job_key(job_id), job_id, step, task_id="t", seconds=3, holder=holder)

    first = lease("a").hold()
    assert r.get(lease_key(job_id, step)) == first.token
    assert r.sismember(LEASES, member(job_id, step))
    assert r.hget(job_key(job_id), f"{step}.task") == "t"
    time.sleep(3.5)  # longer than the lease: only renewal keeps it
    assert r.get(lease_key(job_id, step)) == first.token
    second = lease("b")
    second.take()  # a later attempt takes the step over
    assert not first.renew()
    first.release()  # not its lease any more: leaves the new holder alone
    assert r.get(lease_key(job_id, step)) == second.token
    second.release()
    assert not r.exists(lease_key(job_id, step))
    assert not r.sismember(LEASES, member(job_id, step))
    r.delete(job_key(job_id))


def test_a_lapsed_lease_is_marked_recovering_by_one_monitor(vod_env: dict) -> None:
    from workers.app import app
    from workers.jobs import client, get_job, job_key
    from workers.lease import LEASES, lease_key, member
    from workers.recovery import recover, stale_leases

    r = client()
    dead, alive = (f"j{uuid.uuid4().hex[:24]}" for _ in range(2))
    for job_id in (dead, alive):
        attempt = {"state": "running", "task": "t-gone", "leased": time.time(), "worker": "w:1"}
        r.hset(job_key(job_id), mapping={f"probe.{k}": v for k, v in attempt.items()})
        r.sadd(LEASES, member(job_id, "probe"))
    r.set(lease_key(alive, "probe"), "w:1:x", ex=30)
    assert (dead, "probe") in stale_leases(r) and (alive, "probe") not in stale_leases(r)
    outcome = recover(app, r, dead, "probe", seconds=3)
    assert outcome is not None and not outcome.requeued  # no such message in the broker
    assert get_job(dead).stages["probe"].state == "recovering"
    assert "w:1 stopped" in get_job(dead).stages["probe"].error
    assert not r.sismember(LEASES, member(dead, "probe"))
    assert recover(app, r, dead, "probe", seconds=3) is None  # one monitor per lapse
    assert recover(app, r, alive, "probe", seconds=3) is None  # its lease is held
    assert get_job(alive).stages["probe"].state == "running"
    r.delete(job_key(dead), job_key(alive), lease_key(alive, "probe"))
    r.srem(LEASES, member(alive, "probe"))


def _first_running_part(job_id: str, timeout: float = 120) -> str:
    from workers.jobs import get_job

    deadline = time.monotonic() + timeout
    while True:
        job = get_job(job_id)
        running = [name for name, p in job.parts.items() if p.state == "running"]
        if running:
            return running[0]
        assert job.state not in ("done", "failed") and time.monotonic() < deadline, job
        time.sleep(0.05)


def _jobs_json(env: dict, job_id: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "vod.cli", "jobs", job_id, "--json"]
    proc = subprocess.run(
        argv, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_worker_killed_mid_encode_is_recovered_by_its_lease(
    vod_env: dict,
    media_factory: MediaFactory,
    tmp_path: Path,
) -> None:
    from pipeline.validate.title import validate

    env = {**vod_env, "VOD_VISIBILITY_TIMEOUT": "3600", "VOD_LEASE_SECONDS": str(LEASE_SECONDS)}
    workers = WorkerPool(env, tmp_path)
    try:
        workers.start("doomed")
        # A slow preset keeps each encode running for seconds, so the kill lands mid-encode.
        slow = ("--preset", "veryslow")
        job_id = submit_cli(env, media_factory("basic"), tmp_path / "origin", *slow)
        part = _first_running_part(job_id)
        workers.kill("doomed")
        killed = time.monotonic()

        while (shown := _jobs_json(env, job_id))["state"] != "recovering":
            assert shown["state"] == "running", shown
            assert time.monotonic() - killed < LEASE_SECONDS + 10, shown  # not 70 minutes
            time.sleep(0.5)
        assert shown["parts"][part]["state"] == "recovering"

        workers.start("rescuer")
        job = wait_job(job_id, 150)
        assert job.state == "done", (job.error, workers.log("rescuer"))
        assert time.monotonic() - killed < 180  # long before the hour of visibility timeout
        assert job.parts[part].attempts >= 2 and "rescuer" in job.parts[part].worker
        assert "lapsed" in workers.log("rescuer")  # its monitor re-queued the part
        title_dir = tmp_path / "origin" / job.spec.title_id
        assert validate(title_dir).ok
        assert_one_segment_set(title_dir, job.summary)
    finally:
        workers.stop_all()
