"""Celery workers on a real Redis: eager jobs, real worker processes, a worker killed mid-encode,
bad input naming the source (also an s3:// one), and no content key anywhere in the broker or
job state. The harness (fixtures, spec and CLI helpers) is `tests.support.workers`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support import redis_scan
from tests.support.common import ROOT, MediaFactory
from tests.support.workers import (
    VISIBILITY_TIMEOUT,
    WorkerPool,
    assert_one_segment_set,
    make_job_spec,
    submit_cli,
    title_files,
    wait_job,
)

pytestmark = pytest.mark.slow


# -- eager (in-process) --------------------------------------------------------------------------


def test_eager_job_produces_valid_title(
    eager: None, media_factory: MediaFactory, tmp_path: Path, vod_env: dict
) -> None:
    from pipeline.validate.title import validate
    from workers.canvas import submit
    from workers.idempotency import work_root
    from workers.jobs import STAGES, get_job

    spec = make_job_spec(media_factory("short"), tmp_path / "origin")
    assert submit(spec) == "queued"
    job = get_job(spec.job_id)
    assert job is not None and job.state == "done", job
    assert all(job.stages[s].state == "done" for s in STAGES)
    assert set(job.parts) == {"v234p145", "v360p365", "audio"}
    title_dir = tmp_path / "origin" / spec.title_id
    assert validate(title_dir).ok
    assert_one_segment_set(title_dir, job.summary)
    assert job.summary["hls"] == str(title_dir / "master.m3u8")
    catalogued = json.loads(
        (Path(vod_env["VOD_CATALOGUE_DIR"]) / f"{spec.title_id}.json").read_text()
    )
    assert catalogued["title_id"] == spec.title_id
    assert not (work_root() / spec.job_id).exists()  # intermediates dropped
    before = {f: (title_dir / f).read_bytes() for f in title_files(title_dir)}

    assert submit(spec) == "already-done"  # not re-run without --force
    assert get_job(spec.job_id).stages["probe"].attempts == 1
    assert submit(spec, force=True) == "queued"
    assert get_job(spec.job_id).stages["probe"].attempts == 1  # a fresh run
    assert title_files(title_dir) == sorted(before)  # same title, nothing duplicated
    assert_one_segment_set(title_dir, get_job(spec.job_id).summary)
    assert not (tmp_path / "origin" / ".staging").exists()


def test_eager_chunked_job(eager: None, media_factory: MediaFactory, tmp_path: Path) -> None:
    from pipeline.validate.title import validate
    from workers.canvas import submit
    from workers.jobs import get_job

    spec = make_job_spec(media_factory("basic"), tmp_path / "origin", segment_seconds=2.0,
                 chunk_seconds=4.0)  # fmt: skip
    assert submit(spec) == "queued"
    job = get_job(spec.job_id)
    assert job.state == "done", job.error
    # two 4 s chunks of every rung; thumbnails decode on their own when the rungs are chunked
    assert set(job.parts) == {"c00000", "c00001", "thumbnails", "audio"}
    title_dir = tmp_path / "origin" / spec.title_id
    assert validate(title_dir).ok
    assert_one_segment_set(title_dir, job.summary)
    media = [r for r in job.summary["renditions"] if r["kind"] != "image"]
    assert {r["segments"] for r in media} == {4}
    thumbs = [r for r in job.summary["renditions"] if r["kind"] == "image"]
    assert [(r["id"], r["tile_layout"], r["segments"]) for r in thumbs] == [
        ("thumbs320x180", "5x1", 1)  # 8 s at one per 2 s and the last picture held: 5, one row
    ]


def test_eager_job_from_and_to_s3(
    eager: None,
    media_factory: MediaFactory,
    s3_endpoint: str,
    vod_env: dict,
    tmp_path: Path,
) -> None:
    from pipeline.storage.s3 import ensure_bucket, public_url, s3_client, upload_file
    from pipeline.storage.s3_publish import list_keys
    from pipeline.validate.title import validate
    from workers.canvas import submit
    from workers.idempotency import completed
    from workers.jobs import get_job

    ingest, origin = f"ingest-{uuid.uuid4().hex[:8]}", f"origin-{uuid.uuid4().hex[:8]}"
    ensure_bucket(ingest)
    ensure_bucket(origin, public_read=True)
    ensure_bucket(f"{origin}-work", cors=False)  # the default private work area
    upload_file(media_factory("short"), f"s3://{ingest}/in/short.mp4")
    vtt = tmp_path / "short.en.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHello\n", encoding="utf-8")
    upload_file(vtt, f"s3://{ingest}/in/short.en.vtt")
    # Sidecar subtitles come from the bucket too, like the watcher's sidecar names them.
    subs = [{"path": f"s3://{ingest}/in/short.en.vtt", "language": "en"}]
    spec = make_job_spec(f"s3://{ingest}/in/short.mp4", f"s3://{origin}/titles", subtitles=subs)  # type: ignore[arg-type]
    assert spec.job_id == make_job_spec(f"s3://{ingest}/in/short.mp4", f"s3://{origin}/titles",
                                title_id=spec.title_id, subtitles=subs).job_id  # fmt: skip
    assert submit(spec) == "queued"
    job = get_job(spec.job_id)
    assert job.state == "done", job.error
    base = f"titles/{spec.title_id}"
    assert job.summary["hls"] == f"s3://{origin}/{base}/master.m3u8"
    keys = list_keys(s3_client(), origin, "")
    assert f"{base}/master.m3u8" in keys and f"{base}/manifest.mpd" in keys
    assert f"{base}/subs/en.vtt" in keys
    shared = completed(spec.job_id, "encode:v360p365")["urls"]  # parts went via S3 ...
    assert shared == {"v360p365": f"s3://{origin}-work/{spec.job_id}/encode/v360p365.mp4"}
    assert list_keys(s3_client(), f"{origin}-work", "") == set()  # ... and were cleaned up
    assert keys == {k for k in keys if k.startswith(f"{base}/")}  # the origin: the title only
    assert validate(public_url(s3_endpoint, origin, f"{base}/master.m3u8")).ok


def test_bad_s3_source_names_the_object_not_the_work_copy(
    vod_env: dict, media_factory: MediaFactory, s3_endpoint: str, tmp_path: Path
) -> None:
    from pipeline.storage.s3 import ensure_bucket, upload_file
    from workers.jobs import create_job, get_job
    from workers.tasks import probe_task

    ingest = f"ingest-{uuid.uuid4().hex[:8]}"
    ensure_bucket(ingest)
    source = f"s3://{ingest}/in/x.mp4"
    upload_file(media_factory("zero_byte"), source)
    spec = make_job_spec(source, tmp_path / "origin")
    create_job(spec)
    result = probe_task.apply(args=[spec.model_dump(mode="json")], throw=False)  # as a worker
    assert result.failed() and result.result.path == source
    job = get_job(spec.job_id)
    assert job.state == "failed" and job.stages["probe"].state == "failed"
    exact = f"[probe] {source}: file is empty (0 bytes)"  # the object, not the work copy
    assert (job.error, job.stages["probe"].error) == (exact, exact)


def test_publishing_twice_gives_the_same_title(media_factory: MediaFactory, tmp_path: Path) -> None:
    from pipeline.storage.publish import check_destination, publish_title
    from pipeline.workflow.title import ingest

    packaged = ingest(media_factory("short"), "t", tmp_path / "work", device_classes=["mobile"])
    origin = tmp_path / "origin"
    destination = check_destination(str(origin), "again")
    first = publish_title(packaged.title_dir, destination).location
    files = {f: (Path(first) / f).read_bytes() for f in title_files(Path(first))}
    assert (packaged.title_dir / "master.m3u8").is_file()  # the built title is left intact
    second = publish_title(packaged.title_dir, destination).location
    assert first == second
    assert {f: (Path(second) / f).read_bytes() for f in title_files(Path(second))} == files
    assert sorted(p.name for p in origin.iterdir()) == ["again"]  # no staging left behind


def test_drm_job_on_real_workers_keeps_keys_out_of_broker_and_results(
    workers: WorkerPool, media_factory: MediaFactory, tmp_path: Path, vod_env: dict
) -> None:
    """Content keys never travel through Redis: not in a queued task message (bodies decoded),
    not in any command written while the job ran, not in any result or job key after it."""
    import redis

    from drm.keystore import LocalKeyStore
    from pipeline.validate.title import validate
    from pipeline.workflow.protection import DrmOptions
    from workers.canvas import submit

    store = tmp_path / "keys"
    spec = make_job_spec(
        media_factory("short"),
        tmp_path / "origin",
        drm=DrmOptions(systems="clearkey", scheme="cenc", key_store=str(store)),
    )
    url, prefix = vod_env["VOD_BROKER_URL"], vod_env["VOD_QUEUE_PREFIX"]
    db = redis.Redis.from_url(url)
    with redis_scan.monitor(url) as traffic:
        assert submit(spec) == "queued"
        queued = [m for q in ("encode", "io") for m in db.lrange(prefix + q, 0, -1)]
        workers.start("keeper")
        job = wait_job(spec.job_id, 180)
    assert job.state == "done", (job.error, workers.log("keeper"))
    title_dir = tmp_path / "origin" / spec.title_id
    assert validate(title_dir).ok and b"encv" in (title_dir / "v360p365" / "init.mp4").read_bytes()
    keys = LocalKeyStore(store).keys_for(spec.title_id, ["SD", "AUDIO"])
    secrets = [k.key for k in keys.values()]
    assert len(set(secrets)) == 2 and all(len(k) == 16 for k in secrets)
    # The scans see what they claim to: the queued probe message's decoded body names the job,
    # every stage's message was pushed while monitored, the results were stored, and the
    # package step's KIDs (allowed) are visible where a key would have travelled with them.
    bodies = [b for m in queued for b in redis_scan.with_bodies(m)[1:]]
    assert queued and any(spec.job_id.encode() in b for b in bodies)
    pushed = [c[-1] for c in traffic.named("LPUSH", "RPUSH") if c[1].startswith(prefix.encode())]
    assert len(pushed) >= 6, traffic.named("LPUSH", "RPUSH")
    written = [a for c in traffic.commands for a in c[1:]]
    stored = redis_scan.stored_values(db)
    results = [k for k in stored if k.startswith(b"celery-task-meta-")]
    assert len(results) >= 6, sorted(stored)
    kid = job.summary["drm"]["kids"]["SD"].encode()
    assert any(kid in b for blob in written for b in redis_scan.with_bodies(blob))
    for blobs in (queued, pushed, written, [v for vs in stored.values() for v in vs]):
        assert redis_scan.leaks(blobs, secrets) == []


# -- real worker processes -------------------------------------------------------------------------


def test_two_workers_complete_a_job(
    workers: WorkerPool, media_factory: MediaFactory, tmp_path: Path, vod_env: dict
) -> None:
    from pipeline.validate.title import validate
    from workers.jobs import STAGES

    source = media_factory("basic")
    nodes = {workers.start("a"), workers.start("b")}
    job_id = submit_cli(vod_env, source, tmp_path / "origin")
    seen: set = set()
    job = wait_job(job_id, 180, seen)
    assert job.state == "done", (job.error, workers.log("a"), workers.log("b"))
    assert ("encode", "running") in seen  # progress was visible while it ran
    for stage in STAGES:
        info = job.stages[stage]
        assert info.state == "done" and info.finished >= info.started, stage
    ran_on = {p.worker.rsplit(":", 1)[0] for p in job.parts.values()}
    assert ran_on == nodes, job.parts  # the encodes were shared by both workers
    title_dir = tmp_path / "origin" / job.spec.title_id
    assert validate(title_dir).ok
    assert_one_segment_set(title_dir, job.summary)
    proc = subprocess.run(
        [sys.executable, "-m", "vod.commands.workers", "jobs", job_id, "--json"],
        cwd=ROOT,
        env={**os.environ, **vod_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(proc.stdout)["stages"]["package"]["state"] == "done"


def test_worker_killed_mid_encode_job_still_completes_once(
    workers: WorkerPool, media_factory: MediaFactory, tmp_path: Path, vod_env: dict
) -> None:
    from pipeline.validate.title import validate
    from workers.jobs import get_job

    source = media_factory("basic")
    workers.start("doomed")
    # A slow preset keeps each encode running for seconds, so the kill lands mid-encode.
    job_id = submit_cli(vod_env, source, tmp_path / "origin", "--preset", "veryslow")
    deadline = time.monotonic() + 120
    while True:
        job = get_job(job_id)
        running = [name for name, p in job.parts.items() if p.state == "running"]
        if running:
            break
        assert job.state not in ("done", "failed") and time.monotonic() < deadline, job
        time.sleep(0.05)
    killed_part = running[0]
    workers.kill("doomed")
    assert get_job(job_id).parts[killed_part].state == "running"  # nobody finished it

    workers.start("rescuer")
    job = wait_job(job_id, 60 + 3 * VISIBILITY_TIMEOUT)
    assert job.state == "done", (job.error, workers.log("rescuer"))
    assert job.parts[killed_part].attempts >= 2  # it was delivered again
    assert "rescuer" in job.parts[killed_part].worker
    title_dir = tmp_path / "origin" / job.spec.title_id
    assert validate(title_dir).ok
    assert_one_segment_set(title_dir, job.summary)
    media = [r for r in job.summary["renditions"] if r["kind"] != "image"]
    assert {r["segments"] for r in media} == {2}  # 8 s at 6 s segments
    assert not (tmp_path / "origin" / ".staging").exists()


def test_bad_input_fails_once_naming_the_file(
    workers: WorkerPool, media_factory: MediaFactory, tmp_path: Path, vod_env: dict
) -> None:
    empty = media_factory("zero_byte")
    workers.start("judge")
    job_id = submit_cli(vod_env, empty, tmp_path / "origin")
    job = wait_job(job_id, 60)
    assert job.state == "failed"
    exact = f"[probe] {empty}: file is empty (0 bytes)"  # one line, as the worker raised it
    assert (job.error, job.stages["probe"].error) == (exact, exact)
    assert job.stages["probe"].state == "failed"
    assert all(job.stages[s].state == "pending" for s in ("plan", "encode", "package", "publish"))
    time.sleep(3)  # a retry, had there been one, would have started by now
    from workers.jobs import get_job

    assert get_job(job_id).stages["probe"].attempts == 1
    log = workers.log("judge")
    assert "Retry in" not in log and "Unpickleable" not in log
    assert not (tmp_path / "origin").exists()  # nothing was published
