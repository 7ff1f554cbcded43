"""Claiming sources in the ingest bucket: two watchers racing over many files.

A claim, the watcher's pending entry and the job record appear together (one Redis
transaction), so a second watcher never sees a claimed file without its job and never
"resubmits" it. Real moto_server for S3, real Redis for claims and job records.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from typing import Any

FILES = 40
SCANS = 6


def _keys(client: Any, bucket: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def _bucket(s3_endpoint: str) -> tuple[str, Any]:
    from pipeline.storage.s3 import ensure_bucket, s3_client

    name = f"ingest-{uuid.uuid4().hex[:8]}"
    client = s3_client(s3_endpoint)
    ensure_bucket(name, client=client)
    return name, client


def _watcher(url: str, **kw: Any) -> Any:
    from workers.watch import Watcher

    kw.setdefault("echo", lambda line: None)
    return Watcher(url, "s3://nowhere-origin/titles", min_age=0, device_classes=["mobile"], **kw)


def test_two_watchers_racing_over_many_files_submit_each_once(
    s3_endpoint: str,
    vod_env: dict,
) -> None:
    from pipeline.storage.s3 import s3_client
    from workers.jobs import get_job

    ingest, client = _bucket(s3_endpoint)
    names = [f"in/f{i:02d}.mov" for i in range(FILES)]
    for name in names:
        client.put_object(Bucket=ingest, Key=name, Body=name.encode() * 10)
    submitted: list[tuple[str, str]] = []
    lock = threading.Lock()

    def slow_submit(who: str) -> Any:
        """Only counts: a slow broker widens the gap between claiming and enqueueing."""

        def submit(spec: Any) -> str:
            time.sleep(random.uniform(0.0, 0.02))
            with lock:
                submitted.append((who, spec.job_id))
            return "queued"

        return submit

    events: dict[str, list[Any]] = {"a": [], "b": []}
    watchers = {
        who: _watcher(f"s3://{ingest}/in", s3=s3_client(s3_endpoint), submit=slow_submit(who))
        for who in events
    }
    barrier = threading.Barrier(len(watchers))
    errors: list[BaseException] = []

    def run(who: str) -> None:
        try:
            barrier.wait()
            for _ in range(SCANS):  # finish + discover, over and over, while the other does too
                events[who] += watchers[who].scan()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(who,)) for who in watchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    kinds = [e.kind for evs in events.values() for e in evs]
    assert "resubmitted" not in kinds and "error" not in kinds, kinds
    job_ids = [job for _, job in submitted]
    assert len(job_ids) == len(set(job_ids)) == FILES, sorted(job_ids)
    assert {who for who, _ in submitted} == {"a", "b"}  # both took a share
    for job_id in job_ids:
        job = get_job(job_id)
        assert job is not None and job.state == "queued", job_id
    claims = [k for k in _keys(client, ingest) if k.startswith("in/claims/")]
    assert len(claims) == FILES
    assert len(watchers["a"].pending()) == FILES


def test_s3_claim_object_guards_watchers_without_a_shared_redis(
    s3_endpoint: str,
    vod_env: dict,
) -> None:
    from workers import claims
    from workers.ingest_bucket import Candidate
    from workers.jobs import client as redis_client

    ingest, client = _bucket(s3_endpoint)
    cand = Candidate("x.mov", "abc", 3)
    r = redis_client()
    assert claims.claim(r, client, ingest, "", cand, "one")
    assert not claims.claim(r, client, ingest, "", cand, "two")  # Redis says no
    r.delete(claims.claim_redis_key(ingest, "x.mov", "abc"))  # as if it had its own Redis
    assert not claims.claim(r, client, ingest, "", cand, "three")  # S3's conditional write: no


def test_a_job_its_watcher_never_enqueued_is_resubmitted_after_the_grace(
    s3_endpoint: str,
    vod_env: dict,
) -> None:
    from workers import claims
    from workers import ingest_bucket as ib
    from workers.jobs import client as redis_client
    from workers.jobs import get_job
    from workers.watch import pending_key

    ingest, client = _bucket(s3_endpoint)
    client.put_object(Bucket=ingest, Key="in/a.mov", Body=b"a")
    etag = client.head_object(Bucket=ingest, Key="in/a.mov")["ETag"].strip('"')
    cand = ib.Candidate("in/a.mov", etag, 1)
    spec = ib.build_spec(
        ingest, cand, None, origin="s3://o/t", device_classes=["mobile"], where="in/a.mov"
    )
    entry = {
        **{"key": cand.key, "etag": etag, "prefix": "in", "companions": [], "watcher": "dead"},
        **{"spec": spec.model_dump(mode="json"), "claimed": time.time()},
    }
    r = redis_client()
    job = claims.JobClaim(pending_key(ingest), spec, entry)
    assert claims.claim(r, client, ingest, "in", cand, "dead", job)  # ... and died right after
    assert get_job(spec.job_id).state == "queued"  # the record came with the claim
    submitted: list[str] = []
    watcher = _watcher(
        f"s3://{ingest}/in", s3=client, submit=lambda s: submitted.append(s.job_id) or "queued"
    )
    assert watcher.scan() == []  # within the grace its watcher may be enqueueing it
    entry["claimed"] = time.time() - claims.ENQUEUE_GRACE - 1
    r.hset(pending_key(ingest), spec.job_id, json.dumps(entry))
    assert [e.kind for e in watcher.scan()] == ["resubmitted"]
    assert submitted == [spec.job_id]
    assert watcher.scan() == []  # enqueued now: never again
    assert submitted == [spec.job_id]
