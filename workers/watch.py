"""`vod watch s3://BUCKET/PREFIX`: new objects in the ingest bucket become jobs.

Each scan does two things:

1. **Finish**: for every job this bucket's watchers submitted (`vod:watch:pending:<bucket>`, a
   Redis hash job id -> entry), look at the job's state. Done: the source (and its sidecar)
   moves to `archive/`, the sidecar's rights are imported into the catalogue when
   VOD_DATABASE_URL is set. Failed: it moves to `quarantine/` beside `<name>.error.json`
   (cause, stage, time, job id). A job its watcher recorded but never enqueued (it died in
   between), or whose record Redis lost, is submitted again once `claims.ENQUEUE_GRACE` has
   passed since the claim: submit is idempotent by id. Watchers poll job states rather than
   hooking the task chain, so the tasks stay unaware of buckets; one `SET NX` lock per job
   makes sure a single watcher finishes (or resubmits) each job.
2. **Discover**: list the prefix; for each source version nobody claimed yet, read its
   sidecar and build the job, then claim it (`workers.claims.claim`: the claim, the pending
   entry and the job record appear in one Redis transaction) and enqueue the job. A source
   that cannot become a job (invalid sidecar or title id) is claimed alone and goes straight
   to quarantine with stage 'sidecar'. Keys that are unsafe as names are reported once, never
   processed.

One line per event goes to stdout: `<event> s3://bucket/key [job=<id>] [detail]`, events
being submitted, resubmitted, archived, quarantined, rejected (unsafe key, reported once),
gone (the claimed version was deleted or overwritten while its job ran: nothing to move; a
newer version is a new job) and error (retried on the next scan).

Limits: a watcher killed between writing the claim object and its Redis transaction (a few
milliseconds), or between claiming a source with an invalid sidecar and quarantining it,
leaves that source version claimed and untouched; deleting its `claims/...` object and
`vod:claim:<bucket>/<key>/<etag>` Redis key releases it. Sidecar subtitles are passed to the
job as `s3://` URLs; the workers fetch them (plan/package).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from core.errors import PipelineError
from pipeline.storage.s3 import parse_s3_url, s3_client, s3_url
from workers import claims
from workers import ingest_bucket as ib
from workers.jobs import STAGES, JobInfo, JobSpec, client, get_job

PENDING_PREFIX = "vod:watch:pending:"
FINISH_LOCK_SECONDS = 600


@dataclass(frozen=True)
class Event:
    kind: str  # submitted, resubmitted, archived, quarantined, rejected, gone, error
    url: str
    job_id: str | None = None
    detail: str = ""

    def line(self) -> str:
        parts = [self.kind, self.url if self.url.isprintable() else repr(self.url)]
        if self.job_id:
            parts.append(f"job={self.job_id}")
        if self.detail:
            parts.append(self.detail)
        return " ".join(parts)


def pending_key(bucket: str) -> str:
    return f"{PENDING_PREFIX}{bucket}"


def _default_submit(spec: JobSpec) -> str:
    """Enqueue the job its claim recorded; a job recorded before (done: archived by the next
    scan; failed: run again) goes through `workers.canvas.submit`."""
    from workers.canvas import build_canvas, submit

    if claims.awaiting_enqueue(client(), spec.job_id):
        build_canvas(spec).apply_async()
        return "queued"
    return submit(spec)


class Watcher:
    """Scans one `s3://bucket/prefix`; `scan()` is one pass (finish, then discover)."""

    def __init__(
        self,
        url: str,
        origin: str,
        *,
        device_classes: list[str] | None = None,
        min_age: float = 0.0,
        name: str | None = None,
        s3: Any = None,
        redis: Any = None,
        submit: Callable[[JobSpec], str] | None = None,
        echo: Callable[[str], None] | None = None,
    ):
        self.bucket, self.prefix = parse_s3_url(url)
        self.origin = origin
        self.device_classes = device_classes or ["web"]
        self.min_age = min_age
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.s3 = s3 or s3_client()
        self.redis = redis or client()
        self.submit = submit or _default_submit
        self.echo = echo or (lambda line: click.echo(line))

    # -- one pass ----------------------------------------------------------------------------
    def scan(self) -> list[Event]:
        events = self.finish() + self.discover()
        for event in events:
            self.echo(event.line())
        return events

    def discover(self) -> list[Event]:
        events: list[Event] = []
        listing = ib.list_candidates(self.s3, self.bucket, self.prefix, min_age=self.min_age)
        for bad in listing.rejected:
            if claims.reject_once(self.redis, self.bucket, bad):
                events.append(Event("rejected", s3_url(self.bucket, bad.key), None, bad.reason))
        for cand in listing.candidates:
            if claims.is_claimed(self.redis, self.bucket, cand):
                continue
            event = self._take(cand)
            if event is not None:
                events.append(event)
        return events

    def _claim(self, cand: ib.Candidate, job: claims.JobClaim | None = None) -> bool:
        return claims.claim(self.redis, self.s3, self.bucket, self.prefix, cand, self.name, job)

    def _take(self, cand: ib.Candidate) -> Event | None:
        """Build the job of an unclaimed source, then claim it with its job; None when
        another watcher claimed it first."""
        url = s3_url(self.bucket, cand.key)
        companions = [ib.sidecar_key(cand.key)]  # moved along when present, even if invalid
        try:
            sidecar, skey = ib.read_sidecar(self.s3, self.bucket, cand.key)
            where = s3_url(self.bucket, skey) if skey else url
            spec = ib.build_spec(
                self.bucket,
                cand,
                sidecar,
                origin=self.origin,
                device_classes=self.device_classes,
                where=where,
            )
            if sidecar:
                subtitles = ib.check_subtitles(self.s3, self.bucket, sidecar, where)
                # they travel with their source, when they live under the watched prefix
                companions += [k for k in subtitles if self._watched(k) and k not in companions]
            rights = ib.rights_document(sidecar, spec.title_id) if sidecar else None
            if rights is not None:
                ib.check_rights(rights, where)
        except ib.IngestError as exc:
            if not self._claim(cand):
                return None
            return self._quarantine(cand.key, cand.etag, exc.one_line(), exc.stage, None,
                                    companions)  # fmt: skip
        entry = {
            "key": cand.key,
            "etag": cand.etag,
            "prefix": self.prefix,
            "companions": companions,
            "spec": spec.model_dump(mode="json"),
            "rights": rights.decode() if rights else None,
            "watcher": self.name,
            "claimed": time.time(),
        }
        if not self._claim(cand, claims.JobClaim(pending_key(self.bucket), spec, entry)):
            return None
        return self._submit(spec, url, "submitted")

    def _watched(self, key: str) -> bool:
        return not self.prefix or key.startswith(f"{self.prefix}/")

    def _submit(self, spec: JobSpec, url: str, kind: str) -> Event:
        try:
            outcome = self.submit(spec)
        except Exception as exc:  # not enqueued: a scan after claims.ENQUEUE_GRACE resubmits
            return Event("error", url, spec.job_id, f"submit: {type(exc).__name__}: {exc}")
        claims.mark_enqueued(self.redis, spec.job_id)
        return Event(kind, url, spec.job_id, f"title={spec.title_id} {outcome}")

    def finish(self) -> list[Event]:
        events: list[Event] = []
        for job_id, raw in self.redis.hgetall(pending_key(self.bucket)).items():
            entry = json.loads(raw)
            if entry.get("prefix", "") != self.prefix:
                continue  # another watcher's prefix in the same bucket
            job = get_job(job_id)
            ended = job is not None and job.state in ("done", "failed")
            claimed = float(entry.get("claimed") or 0)
            if not ended and not claims.stalled(self.redis, job_id, claimed):
                continue  # under way (or just claimed: its watcher is enqueueing it)
            lock = f"{PENDING_PREFIX}lock:{job_id}"
            if not self.redis.set(lock, self.name, nx=True, ex=FINISH_LOCK_SECONDS):
                continue
            try:
                if self.redis.hget(pending_key(self.bucket), job_id) is None:
                    continue  # another watcher finished it between our read and our lock
                if job is not None and ended:
                    events.append(self._finish_one(job, entry))
                elif claims.stalled(self.redis, job_id, claimed):  # still, now that we lock
                    url = s3_url(self.bucket, entry["key"])
                    spec = JobSpec.model_validate(entry["spec"])
                    events.append(self._submit(spec, url, "resubmitted"))
            finally:
                self.redis.delete(lock)
        return events

    def _finish_one(self, job: JobInfo, entry: dict) -> Event:
        key, etag, companions = entry["key"], entry["etag"], entry.get("companions", [])
        url = s3_url(self.bucket, key)
        if job.state == "done":
            try:
                dest = ib.archive(self.s3, self.bucket, self.prefix, key, etag, companions)
            except ib.SourceGone as exc:
                self._done(key, etag, job.job_id)
                return Event("gone", url, job.job_id, exc.cause)
            except PipelineError as exc:
                return Event("error", url, job.job_id, exc.one_line())
            self._done(key, etag, job.job_id)
            detail = f"-> {s3_url(self.bucket, dest)}"
            if entry.get("rights"):
                detail += " " + _import_rights(entry["rights"].encode(), url)
            if job.summary and job.summary.get("hls"):
                detail += f" hls={job.summary['hls']}"
            return Event("archived", url, job.job_id, detail)
        stage = failed_stage(job)
        cause = job.error or "job failed"
        if url not in cause:
            cause = f"{url}: {cause}"
        return self._quarantine(key, etag, cause, stage, job.job_id, companions)

    def _quarantine(
        self,
        key: str,
        etag: str,
        cause: str,
        stage: str,
        job_id: str | None,
        companions: list[str],
    ) -> Event:
        url = s3_url(self.bucket, key)
        record = ib.error_record(cause, stage, job_id, key)
        try:
            dest = ib.quarantine(self.s3, self.bucket, self.prefix, key, etag, record, companions)
        except ib.SourceGone as exc:
            if job_id:
                self._done(key, etag, job_id)
            return Event("gone", url, job_id, f"{exc.cause}; failure was: [{stage}] {cause}")
        except PipelineError as exc:
            return Event("error", url, job_id, exc.one_line())
        if job_id:
            self._done(key, etag, job_id)
        else:
            claims.drop_claim_object(self.s3, self.bucket, self.prefix, key, etag)
        return Event(
            "quarantined", url, job_id, f"-> {s3_url(self.bucket, dest)} [{stage}] {cause}"
        )

    def _done(self, key: str, etag: str, job_id: str) -> None:
        claims.drop_claim_object(self.s3, self.bucket, self.prefix, key, etag)
        self.redis.hdel(pending_key(self.bucket), job_id)

    # -- the loop ---------------------------------------------------------------------------
    def run(self, interval: float, once: bool = False) -> None:
        while True:
            try:
                self.scan()
            except Exception as exc:  # a dead S3 or Redis must not end the watcher
                if once:
                    raise
                self.echo(Event("error", s3_url(self.bucket, self.prefix), None, str(exc)).line())
            if once:
                return
            time.sleep(interval)

    def pending(self) -> dict[str, dict]:
        raw = self.redis.hgetall(pending_key(self.bucket))
        return {k: json.loads(v) for k, v in raw.items()}


def failed_stage(job: JobInfo) -> str:
    """The first stage recorded as failed (the one whose error the job carries)."""
    for stage in STAGES:
        if job.stages[stage].state == "failed":
            return stage
    return "job"


def _import_rights(data: bytes, where: str) -> str:
    """Import the sidecar's windows when a catalogue database is configured."""
    from catalogue.record import record_rights
    from core.settings import settings

    url = settings().database_url
    if not url:
        return "rights=not-imported(no VOD_DATABASE_URL)"
    try:
        result = ib.check_rights(data, where)
        counts = record_rights(result.windows, url)
    except Exception as exc:
        return f"rights=failed({type(exc).__name__}: {exc})"
    return f"rights=imported({counts})"


@click.command("watch")
@click.argument("url", metavar="s3://BUCKET/PREFIX")
@click.option(
    "--origin",
    envvar="VOD_ORIGIN",
    required=True,
    help="Where titles are published (s3://bucket/prefix or a directory); default $VOD_ORIGIN.",
)
@click.option("--interval", type=float, default=10.0, show_default=True, help="Seconds per scan.")
@click.option("--once", is_flag=True, help="One scan, then exit (tests, cron).")
@click.option(
    "--device-class",
    "device_classes",
    default="web",
    show_default=True,
    help="Device classes for sources whose sidecar names none (comma-separated).",
)
@click.option(
    "--min-age",
    type=float,
    default=5.0,
    show_default=True,
    help="Leave objects younger than this many seconds (their sidecar may be on its way).",
)
def watch_cmd(
    url: str, origin: str, interval: float, once: bool, device_classes: str, min_age: float
) -> None:
    """Turn new objects in an ingest bucket into jobs; archive or quarantine them after."""
    try:
        watcher = Watcher(
            url,
            origin,
            device_classes=[c.strip() for c in device_classes.split(",") if c.strip()],
            min_age=min_age,
        )
    except PipelineError as exc:
        raise click.UsageError(exc.one_line()) from None
    if not once:
        click.echo(f"watching {url} -> {origin} every {interval:g} s", err=True)
    try:
        watcher.run(interval, once=once)
    except KeyboardInterrupt:
        sys.exit(130)
