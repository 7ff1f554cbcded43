"""Celery test harness: a private Redis db and queue names per session, eager mode, real
worker processes, and helpers to make job specs, submit through the CLI and wait for jobs.

Each session uses its own Redis db and queue names (VOD_QUEUE_PREFIX) so parallel sessions on
one Redis never take each other's tasks. Workers are real `python -m vod.commands.workers worker`
processes (each in its own process group, so a SIGKILL takes its pool and FFmpeg with it).
The fixtures (`vod_env`, `eager`, `workers`) are registered as a plugin in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
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

from tests.support.common import ROOT

VISIBILITY_TIMEOUT = 20  # seconds before a dead worker's task is handed out again
WORKER_START_TIMEOUT = 60


@pytest.fixture(scope="session")
def vod_env(redis_service: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
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


def make_job_spec(source: Path | str, origin: Path | str, **options: Any) -> Any:
    from vod.commands.workers import make_spec

    options.setdefault("device_classes", ["mobile"])
    title = options.pop("title_id", f"t-{uuid.uuid4().hex[:8]}")
    return make_spec(str(source), title_id=title, origin=str(origin), **options)


def title_files(title_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(title_dir)) for p in title_dir.rglob("*") if p.is_file())


def assert_one_segment_set(title_dir: Path, summary: dict) -> None:
    """Exactly init.mp4 + 1..N.m4s per rendition (N from the summary; thumbnails: 1..N.jpg),
    the manifests and the thumbnail storyboard, nothing else."""
    for rendition in summary["renditions"]:
        folder = title_dir / rendition["id"]
        count = rendition["segments"]
        if rendition["kind"] == "image":
            expected = [f"{i}.jpg" for i in range(1, count + 1)]
        else:
            expected = ["init.mp4"] + [f"{i}.m4s" for i in range(1, count + 1)]
        assert sorted(p.name for p in folder.iterdir()) == sorted(expected), folder
    names = {p.name for p in title_dir.iterdir()}
    expected_names = {r["id"] for r in summary["renditions"]} | manifest_names(title_dir)
    if any(r["kind"] == "image" for r in summary["renditions"]):
        expected_names.add("thumbnails.vtt")
    if "quality" in summary:
        expected_names.add("quality.json")
    assert names == expected_names


def manifest_names(title_dir: Path) -> set[str]:
    return {p.name for p in title_dir.iterdir() if p.suffix in (".m3u8", ".mpd")}


def submit_cli(env: dict, source: Path, origin: Path, *extra: str) -> str:
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


def wait_job(job_id: str, timeout: float, seen: set | None = None) -> Any:
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
