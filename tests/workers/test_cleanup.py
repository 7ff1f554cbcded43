"""A failed job leaves nothing behind: neither its source copy nor its encodes, local or S3.

A real worker process runs the jobs, against moto_server buckets: the source comes from an
ingest bucket, so the worker keeps a copy under `VOD_WORK_DIR/<job>/source/`, and the origin
is on S3, so encoded parts are shared in its private work bucket, `s3://<origin>-work/<job>/`.
A step that is being retried keeps its parts; they go only once the job has failed for good.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.support.common import MediaFactory
from tests.support.workers import WorkerPool, make_job_spec, wait_job


@pytest.fixture
def janitor(workers: WorkerPool) -> WorkerPool:
    workers.start("janitor")
    return workers


@pytest.fixture
def buckets(s3_endpoint: str) -> dict[str, Any]:
    from pipeline.storage.s3 import ensure_bucket, s3_client

    tag = uuid.uuid4().hex[:8]
    client = s3_client(s3_endpoint)
    names = {"ingest": f"ingest-{tag}", "origin": f"origin-{tag}", "work": f"origin-{tag}-work"}
    for name in names.values():
        ensure_bucket(name, client=client, public_read=name == names["origin"])
    return {**names, "client": client}


def _work_keys(buckets: dict[str, Any], job_id: str) -> list[str]:
    from pipeline.storage.s3_publish import list_keys

    return sorted(list_keys(buckets["client"], buckets["work"], f"{job_id}/"))


def _run_failing(spec: Any, buckets: dict[str, Any]) -> Any:
    """Run the job to its failure; wait for its last task's clean-up (just after it)."""
    from workers.canvas import submit
    from workers.idempotency import work_root

    assert submit(spec) == "queued"
    job = wait_job(spec.job_id, 120)
    assert job.state == "failed", job
    deadline = time.monotonic() + 10
    while (work_root() / spec.job_id).exists() or _work_keys(buckets, spec.job_id):
        assert time.monotonic() < deadline, sorted((work_root() / spec.job_id).rglob("*"))
        time.sleep(0.1)
    return job


@pytest.mark.slow
def test_a_job_failing_at_probe_leaves_no_source_copy(
    janitor: WorkerPool, buckets: dict[str, Any], media_factory: MediaFactory
) -> None:
    from pipeline.storage.s3 import upload_file
    from workers.idempotency import work_root

    source = f"s3://{buckets['ingest']}/in/empty.mp4"
    upload_file(media_factory("zero_byte"), source)
    spec = make_job_spec(source, f"s3://{buckets['origin']}/titles")
    job = _run_failing(spec, buckets)
    assert job.stages["probe"].state == "failed"
    assert not (work_root() / spec.job_id).exists()  # the downloaded copy went with it
    assert _work_keys(buckets, spec.job_id) == []
    assert buckets["client"].head_object(Bucket=buckets["ingest"], Key="in/empty.mp4")  # kept


@pytest.mark.slow
def test_a_job_failing_after_encode_leaves_no_encodes(
    janitor: WorkerPool, buckets: dict[str, Any], media_factory: MediaFactory
) -> None:
    from pipeline.storage.s3 import upload_file
    from pipeline.workflow.protection import DrmOptions
    from workers.idempotency import completed_steps, work_root

    source = f"s3://{buckets['ingest']}/in/short.mp4"
    upload_file(media_factory("short"), source)
    broken_store = DrmOptions(systems="clearkey", key_store="/dev/null/keys.sqlite")
    spec = make_job_spec(source, f"s3://{buckets['origin']}/titles", drm=broken_store)
    job = _run_failing(spec, buckets)
    assert job.stages["package"].state == "failed", job.error  # the encodes had finished
    shared = [r["urls"] for r in completed_steps(spec.job_id, "encode:").values()]
    assert shared and all(shared)  # they went through the shared S3 work area ...
    assert all(u.startswith(f"s3://{buckets['work']}/") for r in shared for u in r.values())
    assert _work_keys(buckets, spec.job_id) == []  # ... and are gone from it
    assert not (work_root() / spec.job_id).exists()
    assert _keys(buckets, "origin") == []  # clear parts never went near the public origin


@pytest.mark.slow
def test_a_retried_step_keeps_its_parts_until_the_job_fails_for_good(
    workers: WorkerPool, buckets: dict[str, Any], media_factory: MediaFactory
) -> None:
    """The key server is down: the package step is retried (VOD_MAX_RETRIES=1) on the parts
    the encodes shared, which stay while it retries, and go once its last attempt failed."""
    from pipeline.storage.s3 import upload_file
    from pipeline.workflow.protection import DrmOptions
    from tests.support.s3_server import free_port
    from workers.canvas import submit
    from workers.idempotency import work_root
    from workers.jobs import get_job

    workers.env["VOD_MAX_RETRIES"] = "1"
    workers.start("retrier")
    source = f"s3://{buckets['ingest']}/in/short.mp4"
    upload_file(media_factory("short"), source)
    down = DrmOptions(systems="clearkey", key_server=f"http://127.0.0.1:{free_port()}/speke")
    spec = make_job_spec(source, f"s3://{buckets['origin']}/titles", drm=down)
    assert submit(spec) == "queued"
    while_retrying: list[str] = []
    deadline = time.monotonic() + 120
    while (job := get_job(spec.job_id)) is None or job.state not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        if not while_retrying and job.stages["package"].attempts >= 2:  # the retry runs
            keys = _work_keys(buckets, spec.job_id)
            if get_job(spec.job_id).state == "running":  # still, after the listing
                while_retrying = keys or ["<none>"]
        time.sleep(0.05)
    assert job.state == "failed" and job.stages["package"].attempts == 2, job
    assert "no answer" in job.error, job.error  # the retry got as far as the key server
    assert while_retrying and all(k.startswith(f"{spec.job_id}/encode/") for k in while_retrying)
    deadline = time.monotonic() + 10
    while (work_root() / spec.job_id).exists() or _work_keys(buckets, spec.job_id):
        assert time.monotonic() < deadline, _work_keys(buckets, spec.job_id)
        time.sleep(0.1)
    assert _keys(buckets, "origin") == []


def _keys(buckets: dict[str, Any], which: str) -> list[str]:
    from pipeline.storage.s3_publish import list_keys

    return sorted(list_keys(buckets["client"], buckets[which], ""))


def test_the_sweep_removes_folders_of_ended_jobs_only(vod_env: dict) -> None:
    from workers.cleanup import sweep_work_dir
    from workers.idempotency import job_dir, work_root
    from workers.jobs import client, job_key

    ids = {state: f"j{uuid.uuid4().hex[:24]}" for state in ("failed", "done", "running", "gone")}
    for state, job_id in ids.items():
        (job_dir(job_id) / "source").mkdir()
        if state != "gone":  # a record of another deployment, or one Redis lost: kept
            client().hset(job_key(job_id), "job.state", state)
    (work_root() / "catalogue").mkdir(exist_ok=True)  # not a job's folder: never touched
    removed = sweep_work_dir()
    assert sorted(removed) == sorted([ids["failed"], ids["done"]])
    assert (work_root() / ids["running"]).is_dir() and (work_root() / ids["gone"]).is_dir()
    assert (work_root() / "catalogue").is_dir()
    client().delete(*(job_key(job_id) for job_id in ids.values()))
