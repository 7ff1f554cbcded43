"""Celery workers on a real Redis: eager jobs, real worker processes, a worker killed mid-encode,
bad input, and no content key anywhere in the broker or job state.

Each session uses its own Redis db and queue names (VOD_QUEUE_PREFIX) so parallel sessions on
one Redis never take each other's tasks. Workers are real `python -m vod.commands.workers worker`
processes (each in its own process group, so a SIGKILL takes its pool and FFmpeg with it).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.common import ROOT, MediaFactory

pytestmark = pytest.mark.slow
VISIBILITY_TIMEOUT = 20  # seconds before a dead worker's task is handed out again
WORKER_START_TIMEOUT = 60


@pytest.fixture(scope="session")
def vod_env(redis_service: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # noqa: F811
    """Environment shared by this process and the worker processes, applied to the app."""
    db = random.randint(8, 15)
    env = {
        "VOD_BROKER_URL": f"{redis_service}/{db}",
        "VOD_RESULT_BACKEND": f"{redis_service}/{db}",
        "VOD_QUEUE_PREFIX": f"t{uuid.uuid4().hex[:8]}-",
        "VOD_WORK_DIR": str(tmp_path_factory.mktemp("work")),
        "VOD_CATALOGUE_DIR": str(tmp_path_factory.mktemp("catalogue")),
        "VOD_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "VOD_SOFT_TIME_LIMIT": "120",
        "VOD_TIME_LIMIT": "150",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("VOD_DATABASE_URL", raising=False)
        mp.delenv("VOD_KEEP_WORK", raising=False)
        from workers.app import app, configure

        configure(app)
        yield env
        _drop_queues(env)


def _drop_queues(env: dict) -> None:
    """Remove this session's queues and their kombu bindings from the shared Redis."""
    r = redis.Redis.from_url(env["VOD_BROKER_URL"])
    prefix = env["VOD_QUEUE_PREFIX"]
    keys = [prefix + kind for kind in ("encode", "io")]
    for pattern in (f"_kombu.binding.{prefix}*", f"_kombu.binding_permanent.{prefix}*"):
        keys += list(r.scan_iter(match=pattern))
    r.delete(*keys)


@pytest.fixture
def eager(vod_env: dict) -> Iterator[None]:
    from workers.app import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False
        app.conf.task_eager_propagates = False
        _drop_pending_results(app)


def _drop_pending_results(app: Any) -> None:
    """Freezing a chord subscribes to its parts' results; unsubscribe now, while Redis is
    reachable, rather than from __del__ at interpreter exit (which prints a traceback)."""
    backend = app.backend
    pending = getattr(getattr(backend, "_pending_results", None), "concrete", {})
    for waiters in list(pending.values()):
        for result in list(waiters.values()):
            backend.remove_pending_result(result)
    gc.collect()


class WorkerPool:
    """Real worker processes; every one is stopped (its whole process group) at teardown."""

    def __init__(self, env: dict, logs: Path):
        self.env = {**os.environ, **env}
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, queues: str = "encode,io", concurrency: int = 1) -> str:
        node = f"{self.env['VOD_QUEUE_PREFIX']}{name}@{socket.gethostname()}"
        log = self.logs / f"{name}.log"
        argv = [
            sys.executable,
            "-m",
            "vod.commands.workers",
            "worker",
            "--queues",
            queues,
            "--concurrency",
            str(concurrency),
            "--name",
            node,
            "--loglevel",
            "INFO",
        ]
        with log.open("wb") as out:
            self.procs[name] = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while " ready." not in log.read_text(errors="replace"):
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {name} did not start:\n{log.read_text()}")
            time.sleep(0.1)
        return node

    def kill(self, name: str) -> None:
        """SIGKILL the worker and everything it started, like a machine dying."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            _signal_group(proc, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


@pytest.fixture
def workers(vod_env: dict, tmp_path: Path) -> Iterator[WorkerPool]:
    pool = WorkerPool(vod_env, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()


def _spec(source: Path | str, origin: Path | str, **options: Any) -> Any:
    from vod.commands.workers import make_spec

    options.setdefault("device_classes", ["mobile"])
    title = options.pop("title_id", f"t-{uuid.uuid4().hex[:8]}")
    return make_spec(str(source), title_id=title, origin=str(origin), **options)


def _title_files(title_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(title_dir)) for p in title_dir.rglob("*") if p.is_file())


def _assert_one_segment_set(title_dir: Path, summary: dict) -> None:
    """Exactly init.mp4 + 1..N.m4s per rendition (N from the summary), nothing else."""
    for rendition in summary["renditions"]:
        folder = title_dir / rendition["id"]
        expected = ["init.mp4"] + [f"{i}.m4s" for i in range(1, rendition["segments"] + 1)]
        assert sorted(p.name for p in folder.iterdir()) == sorted(expected), folder
    names = {p.name for p in title_dir.iterdir()}
    assert names == {r["id"] for r in summary["renditions"]} | _manifest_names(title_dir)


def _manifest_names(title_dir: Path) -> set[str]:
    return {p.name for p in title_dir.iterdir() if p.suffix in (".m3u8", ".mpd")}


# -- pure parts --------------------------------------------------------------------------------


def test_settings_from_env() -> None:
    from workers.app import settings

    conf = settings(
        {
            "VOD_BROKER_URL": "redis://h:1/2",
            "VOD_QUEUE_PREFIX": "x-",
            "VOD_SOFT_TIME_LIMIT": "10",
            "VOD_VISIBILITY_TIMEOUT": "30",
        }
    )
    assert conf["broker_url"] == "redis://h:1/2"
    assert conf["result_backend"] == "redis://127.0.0.1:6379/1"
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["accept_content"] == ["json"] and conf["task_serializer"] == "json"
    assert conf["task_soft_time_limit"] == 10 and conf["task_time_limit"] > 10
    assert conf["broker_transport_options"]["visibility_timeout"] == 30
    assert conf["task_routes"]["vod.encode"]["queue"] == "x-encode"
    assert conf["task_routes"]["vod.*"]["queue"] == "x-io"
    default = settings({})
    assert default["broker_transport_options"]["visibility_timeout"] > default["task_time_limit"]


def test_job_ids_are_stable() -> None:
    from workers.jobs import job_id_for

    a = job_id_for("ingest", "films/a.mov", '"abc"')
    assert a == job_id_for("ingest", "films/a.mov", "abc")
    assert a != job_id_for("ingest", "films/a.mov", "abd")
    assert a != job_id_for("ingest", "films/a.mov", "abc", salt="other options")


def test_submit_refuses_a_bad_title_id_before_queueing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from vod.commands.workers import submit_cmd

    args = [str(tmp_path / "a.mp4"), "--title-id", "../escape", "--origin", str(tmp_path)]
    result = CliRunner().invoke(submit_cmd, args)
    assert result.exit_code == 2 and "invalid title id" in result.output


def test_only_transient_faults_retry() -> None:
    from core.errors import ProbeError
    from workers.tasks import is_transient

    assert not is_transient(ProbeError("/x.mp4", "file is empty"))
    assert not is_transient(FileNotFoundError(errno.ENOENT, "gone"))
    assert not is_transient(ValueError("bug"))
    assert is_transient(OSError(errno.EAGAIN, "try again"))
    assert is_transient(ConnectionResetError())
    assert is_transient(redis.exceptions.ConnectionError("down"))


def test_s3_faults_retry_only_when_transient() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    from core.errors import PipelineError
    from workers.tasks import is_transient

    def client_error(status: int, code: str) -> ClientError:
        response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return ClientError(response, "PutObject")  # type: ignore[arg-type]

    def wrapped(cause: Exception) -> PipelineError:
        try:  # as pipeline.storage.s3 does: `raise PipelineError(...) from None`
            try:
                raise cause
            except Exception:
                raise PipelineError("s3://b/k", "cannot upload") from None
        except PipelineError as e:
            return e

    assert is_transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert is_transient(client_error(503, "SlowDown"))
    assert not is_transient(client_error(403, "AccessDenied"))
    assert is_transient(wrapped(client_error(500, "InternalError")))
    assert not is_transient(wrapped(client_error(404, "NoSuchBucket")))


# -- eager (in-process) --------------------------------------------------------------------------


def test_eager_job_produces_valid_title(
    eager: None, media_factory: MediaFactory, tmp_path: Path, vod_env: dict
) -> None:
    from pipeline.validate.title import validate
    from workers.canvas import submit
    from workers.idempotency import work_root
    from workers.jobs import STAGES, get_job

    spec = _spec(media_factory("short"), tmp_path / "origin")
    assert submit(spec) == "queued"
    job = get_job(spec.job_id)
    assert job is not None and job.state == "done", job
    assert all(job.stages[s].state == "done" for s in STAGES)
    assert set(job.parts) == {"v234p145", "v360p365", "audio"}
    title_dir = tmp_path / "origin" / spec.title_id
    assert validate(title_dir).ok
    _assert_one_segment_set(title_dir, job.summary)
    assert job.summary["hls"] == str(title_dir / "master.m3u8")
    catalogued = json.loads(
        (Path(vod_env["VOD_CATALOGUE_DIR"]) / f"{spec.title_id}.json").read_text()
    )
    assert catalogued["title_id"] == spec.title_id
    assert not (work_root() / spec.job_id).exists()  # intermediates dropped
    before = {f: (title_dir / f).read_bytes() for f in _title_files(title_dir)}

    assert submit(spec) == "already-done"  # not re-run without --force
    assert get_job(spec.job_id).stages["probe"].attempts == 1
    assert submit(spec, force=True) == "queued"
    assert get_job(spec.job_id).stages["probe"].attempts == 1  # a fresh run
    assert _title_files(title_dir) == sorted(before)  # same title, nothing duplicated
    _assert_one_segment_set(title_dir, get_job(spec.job_id).summary)
    assert not (tmp_path / "origin" / ".staging").exists()


def test_transient_fault_is_retried(
    vod_env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workers.tasks
    from workers.jobs import create_job, get_job

    calls: list[str] = []

    def flaky(title_id: str, summary: dict) -> str:
        calls.append(title_id)
        if len(calls) == 1:
            raise ConnectionResetError(errno.ECONNRESET, "catalogue went away")
        return "recorded"

    monkeypatch.setattr(workers.tasks, "_record", flaky)
    monkeypatch.setattr(workers.tasks.catalogue_task, "retry_backoff", False)
    spec = _spec(tmp_path / "a.mp4", tmp_path / "origin")
    create_job(spec)
    ctx = {"job": spec.model_dump(mode="json"), "summary": {"title_id": spec.title_id}}
    workers.tasks.catalogue_task.apply(args=[ctx])  # eagerly, retries included
    job = get_job(spec.job_id)
    assert len(calls) == 2  # retried once, then succeeded
    assert job.stages["catalogue"].attempts == 2 and job.stages["catalogue"].state == "done"


def test_eager_chunked_job(eager: None, media_factory: MediaFactory, tmp_path: Path) -> None:
    from pipeline.validate.title import validate
    from workers.canvas import submit
    from workers.jobs import get_job

    spec = _spec(media_factory("basic"), tmp_path / "origin", segment_seconds=2.0,
                 chunk_seconds=4.0)  # fmt: skip
    assert submit(spec) == "queued"
    job = get_job(spec.job_id)
    assert job.state == "done", job.error
    assert set(job.parts) == {"c00000", "c00001", "audio"}  # two 4 s chunks of every rung
    title_dir = tmp_path / "origin" / spec.title_id
    assert validate(title_dir).ok
    _assert_one_segment_set(title_dir, job.summary)
    assert {r["segments"] for r in job.summary["renditions"]} == {4}


def test_eager_job_from_and_to_s3(
    eager: None,
    media_factory: MediaFactory,
    s3_endpoint: str,  # noqa: F811
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
    upload_file(media_factory("short"), f"s3://{ingest}/in/short.mp4")
    vtt = tmp_path / "short.en.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHello\n", encoding="utf-8")
    upload_file(vtt, f"s3://{ingest}/in/short.en.vtt")
    # Sidecar subtitles come from the bucket too, like the watcher's sidecar names them.
    subs = [{"path": f"s3://{ingest}/in/short.en.vtt", "language": "en"}]
    spec = _spec(f"s3://{ingest}/in/short.mp4", f"s3://{origin}/titles", subtitles=subs)  # type: ignore[arg-type]
    assert spec.job_id == _spec(f"s3://{ingest}/in/short.mp4", f"s3://{origin}/titles",
                                title_id=spec.title_id, subtitles=subs).job_id  # fmt: skip
    assert submit(spec) == "queued"
    job = get_job(spec.job_id)
    assert job.state == "done", job.error
    base = f"titles/{spec.title_id}"
    assert job.summary["hls"] == f"s3://{origin}/{base}/master.m3u8"
    keys = list_keys(s3_client(), origin, "")
    assert f"{base}/master.m3u8" in keys and f"{base}/manifest.mpd" in keys
    assert f"{base}/subs/en.vtt" in keys
    shared = completed(spec.job_id, "encode:v360p365")["urls"]  # parts went via S3 work/...
    assert shared == {"v360p365": f"s3://{origin}/work/{spec.job_id}/encode/v360p365.mp4"}
    assert not [k for k in keys if k.startswith("work/")]  # ... and were cleaned up
    assert validate(public_url(s3_endpoint, origin, f"{base}/master.m3u8")).ok


def test_publishing_twice_gives_the_same_title(media_factory: MediaFactory, tmp_path: Path) -> None:
    from pipeline.storage.transfer import deliver_title
    from pipeline.workflow.title import ingest

    packaged = ingest(media_factory("short"), "t", tmp_path / "work", device_classes=["mobile"])
    origin = tmp_path / "origin"
    first = deliver_title(packaged.title_dir, str(origin), "again")
    files = {f: (Path(first) / f).read_bytes() for f in _title_files(Path(first))}
    second = deliver_title(packaged.title_dir, str(origin), "again")
    assert first == second
    assert {f: (Path(second) / f).read_bytes() for f in _title_files(Path(second))} == files
    assert sorted(p.name for p in origin.iterdir()) == ["again"]  # no staging left behind


def test_eager_drm_job_keeps_keys_out_of_redis(
    eager: None, media_factory: MediaFactory, tmp_path: Path, vod_env: dict
) -> None:
    from drm.keystore import LocalKeyStore
    from pipeline.validate.title import validate
    from workers.canvas import submit
    from workers.idempotency import done_key
    from workers.jobs import DrmOptions, client, get_job, job_key

    store = tmp_path / "keys"
    spec = _spec(
        media_factory("short"),
        tmp_path / "origin",
        drm=DrmOptions(systems="clearkey", scheme="cenc", key_store=str(store)),
    )
    assert submit(spec) == "queued"
    job = get_job(spec.job_id)
    assert job.state == "done", job.error
    title_dir = tmp_path / "origin" / spec.title_id
    assert validate(title_dir).ok
    assert b"encv" in (title_dir / "v360p365" / "init.mp4").read_bytes()
    keys = LocalKeyStore(store).keys_for(spec.title_id, ["SD", "AUDIO"])
    assert job.summary["drm"]["kids"].keys() == {"SD", "AUDIO"}
    stored = json.dumps(client().hgetall(job_key(spec.job_id)))
    stored += json.dumps(client().hgetall(done_key(spec.job_id)))
    for key in keys.values():
        assert key.key.hex() not in stored.lower()  # KIDs may appear; content keys never


# -- real worker processes -------------------------------------------------------------------------


def _submit_cli(env: dict, source: Path, origin: Path, *extra: str) -> str:
    title = f"t-{uuid.uuid4().hex[:8]}"
    argv = [
        sys.executable,
        "-m",
        "vod.commands.workers",
        "submit",
        str(source),
        "--title-id",
        title,
        "--origin",
        str(origin),
        "--device-class",
        "mobile",
        "--json",
        *extra,
    ]
    proc = subprocess.run(
        argv, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["submitted"] == "queued"
    return out["job_id"]


def _wait(job_id: str, timeout: float, seen: set | None = None) -> Any:
    from workers.jobs import get_job

    deadline = time.monotonic() + timeout
    while True:
        job = get_job(job_id)
        if seen is not None and job is not None:
            seen.update((name, s.state) for name, s in job.stages.items())
        if job is not None and job.state in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job.state if job else None}: {job}"
        time.sleep(0.1)


def test_two_workers_complete_a_job(
    workers: WorkerPool, media_factory: MediaFactory, tmp_path: Path, vod_env: dict
) -> None:
    from pipeline.validate.title import validate
    from workers.jobs import STAGES

    source = media_factory("basic")
    nodes = {workers.start("a"), workers.start("b")}
    job_id = _submit_cli(vod_env, source, tmp_path / "origin")
    seen: set = set()
    job = _wait(job_id, 180, seen)
    assert job.state == "done", (job.error, workers.log("a"), workers.log("b"))
    assert ("encode", "running") in seen  # progress was visible while it ran
    for stage in STAGES:
        info = job.stages[stage]
        assert info.state == "done" and info.finished >= info.started, stage
    ran_on = {p.worker.rsplit(":", 1)[0] for p in job.parts.values()}
    assert ran_on == nodes, job.parts  # the encodes were shared by both workers
    title_dir = tmp_path / "origin" / job.spec.title_id
    assert validate(title_dir).ok
    _assert_one_segment_set(title_dir, job.summary)
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
    job_id = _submit_cli(vod_env, source, tmp_path / "origin", "--preset", "veryslow")
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
    job = _wait(job_id, 60 + 3 * VISIBILITY_TIMEOUT)
    assert job.state == "done", (job.error, workers.log("rescuer"))
    assert job.parts[killed_part].attempts >= 2  # it was delivered again
    assert "rescuer" in job.parts[killed_part].worker
    title_dir = tmp_path / "origin" / job.spec.title_id
    assert validate(title_dir).ok
    _assert_one_segment_set(title_dir, job.summary)
    assert {r["segments"] for r in job.summary["renditions"]} == {2}  # 8 s at 6 s segments
    assert not (tmp_path / "origin" / ".staging").exists()


def test_bad_input_fails_once_naming_the_file(
    workers: WorkerPool, media_factory: MediaFactory, tmp_path: Path, vod_env: dict
) -> None:
    empty = media_factory("zero_byte")
    workers.start("judge")
    job_id = _submit_cli(vod_env, empty, tmp_path / "origin")
    job = _wait(job_id, 60)
    assert job.state == "failed"
    assert str(empty) in job.error
    assert job.stages["probe"].state == "failed" and str(empty) in job.stages["probe"].error
    assert all(job.stages[s].state == "pending" for s in ("plan", "encode", "package", "publish"))
    time.sleep(3)  # a retry, had there been one, would have started by now
    from workers.jobs import get_job

    assert get_job(job_id).stages["probe"].attempts == 1
    assert "Retry in" not in workers.log("judge")
    assert not (tmp_path / "origin").exists()  # nothing was published
