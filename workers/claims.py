"""Claiming one version of a source in the ingest bucket: one watcher takes it, with its job.

A claim is taken in two steps, each atomic:

1. the claim object `claims/<name>.<etag>.claim`, written with `If-None-Match: *` (an S3
   conditional write, honoured by AWS, MinIO and moto): it keeps apart watchers that do not
   share a Redis. A store that refuses conditional writes (501 NotImplemented) leaves step 2
   as the only guard;
2. one Redis transaction (WATCH/MULTI) that sets `vod:claim:<bucket>/<key>/<etag>` only if
   nobody holds it and, in the same EXEC, writes the watcher's pending entry and the job
   record (state queued, `job.watcher` set; a job recorded before, e.g. the same bytes
   uploaded again, is left as it is).

So another watcher sharing the Redis sees either nothing (and loses step 1 or 2 if it tries)
or the claim together with its pending entry and job: never a claimed file without its job,
which it would have "resubmitted". The claiming watcher then enqueues the job and stamps
`job.enqueued`; a job still unenqueued ENQUEUE_GRACE seconds after its claim belongs to a
watcher that died in between, and the next scan of any watcher enqueues it (`stalled`).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from workers.ingest_bucket import Candidate, Rejected, claim_object_key
from workers.jobs import JobSpec, job_key, record_new_job

CLAIM_PREFIX = "vod:claim:"
CLAIM_TTL = 90 * 24 * 3600  # a claim outlives any job; the source is gone long before
ENQUEUE_GRACE = 60.0  # seconds a claiming watcher has to enqueue the job it recorded

# Stamp a job as enqueued only while its record exists (never create a stub record).
_MARK_ENQUEUED = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('hset', KEYS[1], 'job.enqueued', ARGV[1])
return 1
"""


@dataclass(frozen=True)
class JobClaim:
    """What appears together with a claim: the pending entry and the job's record."""

    pending_key: str  # the watchers' hash of pending jobs for this bucket
    spec: JobSpec
    entry: dict[str, Any]


def claim_redis_key(bucket: str, key: str, etag: str) -> str:
    return f"{CLAIM_PREFIX}{bucket}/{key}/{etag.strip(chr(34))}"


def is_claimed(r: Any, bucket: str, cand: Candidate) -> bool:
    """A cheap look before reading a candidate's sidecar; `claim` decides."""
    return bool(r.exists(claim_redis_key(bucket, cand.key, cand.etag)))


def claim(
    r: Any,
    client: Any,
    bucket: str,
    prefix: str,
    cand: Candidate,
    watcher: str,
    job: JobClaim | None = None,
) -> bool:
    """True for exactly one caller per (bucket, key, etag), however many watchers race; the
    winner's `job` (pending entry + job record) is written in the same Redis transaction."""
    key = claim_redis_key(bucket, cand.key, cand.etag)
    if r.exists(key):
        return False
    wrote = _write_claim_object(client, bucket, prefix, cand, watcher)
    if wrote is None:
        return False  # another deployment's watcher holds it
    # Losing in Redis means another watcher of ours holds the claim: the object stands for that
    # claim, so it stays. (Deleting it here would delete the winner's object whenever the
    # store's If-None-Match lets two writers through, as moto_server does under load.)
    return _take_in_redis(r, key, watcher, job)


def _write_claim_object(
    client: Any, bucket: str, prefix: str, cand: Candidate, watcher: str
) -> bool | None:
    """True: written; False: the store cannot write conditionally; None: someone has it."""
    from botocore.exceptions import ClientError

    body = json.dumps({"watcher": watcher, "key": cand.key, "etag": cand.etag, "time": time.time()})
    try:
        client.put_object(
            Bucket=bucket,
            Key=claim_object_key(prefix, cand.key, cand.etag),
            Body=body.encode(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = exc.response.get("Error", {}).get("Code")
        if status == 412 or code in ("PreconditionFailed", "ConditionalRequestConflict"):
            return None
        if status != 501 and code != "NotImplemented":
            raise
        return False
    return True


def _take_in_redis(r: Any, key: str, watcher: str, job: JobClaim | None) -> bool:
    """SET the claim key if free and, in the same transaction, write `job`."""
    record = job_key(job.spec.job_id) if job else None

    def take(pipe: Any) -> bool:
        if pipe.exists(key):
            return False
        fresh = record is not None and not pipe.exists(record)
        pipe.multi()
        pipe.set(key, watcher, ex=CLAIM_TTL)
        if job is not None:
            pipe.hset(job.pending_key, job.spec.job_id, json.dumps(job.entry))
            if fresh:
                record_new_job(pipe, job.spec, watcher=watcher)
        return True

    watched = [key, record] if record else [key]
    return bool(r.transaction(take, *watched, value_from_callable=True))


def mark_enqueued(r: Any, job_id: str) -> None:
    r.eval(_MARK_ENQUEUED, 1, job_key(job_id), str(time.time()))


def awaiting_enqueue(r: Any, job_id: str) -> bool:
    """True for a job recorded by a claim and not enqueued yet."""
    state, watcher, enqueued = r.hmget(job_key(job_id), "job.state", "job.watcher", "job.enqueued")
    return state == "queued" and bool(watcher) and not enqueued


def stalled(r: Any, job_id: str, claimed: float, now: float | None = None) -> bool:
    """True when a pending job needs submitting again: its watcher died between the claim and
    the enqueue (or Redis lost the record), and the grace for that enqueue is over."""
    now = time.time() if now is None else now
    if now - claimed < ENQUEUE_GRACE:
        return False  # its watcher may be enqueueing it right now
    return not r.exists(job_key(job_id)) or awaiting_enqueue(r, job_id)


def drop_claim_object(client: Any, bucket: str, prefix: str, key: str, etag: str) -> None:
    """The claim object is bookkeeping, not a source: removed once the source moved on."""
    client.delete_object(Bucket=bucket, Key=claim_object_key(prefix, key, etag))


def reject_once(r: Any, bucket: str, rejected: Rejected) -> bool:
    """True the first time a refused object version is seen (report it once, not per scan)."""
    digest = hashlib.sha256(f"{bucket}\0{rejected.key}\0{rejected.etag}".encode()).hexdigest()
    return bool(r.set(f"vod:watch:rejected:{digest[:32]}", "1", nx=True, ex=CLAIM_TTL))
