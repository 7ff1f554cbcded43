"""Benchmark: one title through real Celery workers, 1 worker vs 2, per-rung vs chunked encodes.

    python bench/scale.py [--source PATH] [--duration 24] [--size 1280x720]
                          [--device-class web] [--chunk-seconds 6] [--repeat 1]

Each worker is a real `python -m vod.commands.workers worker` process with one pool process (a
"machine slot"); FFmpeg inside it uses every core it can get, as in production. Workers are
started and ready before the clock starts: the figure is submit -> job done (probe, plan,
encodes, package + validate, publish, catalogue, finalize). The in-process `pipeline.workflow.title`
(one FFmpeg decode for all rungs) is timed too, as the baseline. Uses the Redis on
127.0.0.1:6379 when it answers, else starts a private redis-server. Prints a table and one
JSON line with the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_url(scratch: Path) -> Iterator[str]:
    """The machine's Redis, or a private one on a free port for the run."""
    if _ping(6379):
        yield "redis://127.0.0.1:6379"
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(scratch),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not _ping(port):
            if proc.poll() is not None:
                raise SystemExit("redis-server did not start (apt-get install redis-server)")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


class Workers:
    """N real worker processes serving both queues, stopped (whole process group) on exit."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs, self.procs = env, logs, []  # type: ignore[var-annotated]

    def start(self, count: int) -> None:
        for _ in range(count):
            log = self.logs / f"w{len(self.procs)}.log"
            name = f"{self.env['VOD_QUEUE_PREFIX']}w{len(self.procs)}@{socket.gethostname()}"
            argv = [
                sys.executable,
                "-m",
                "vod.commands.workers",
                "worker",
                "--concurrency",
                "1",
                "--name",
                name,
                "--loglevel",
                "INFO",
            ]
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    argv,
                    cwd=ROOT,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.procs.append((proc, log))
        for proc, log in self.procs:
            self._wait_ready(proc, log)

    def _wait_ready(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker did not start:\n{log.read_text()}")
            text = log.read_text(errors="replace")
            if " ready." in text:
                return
            time.sleep(0.1)

    def stop(self) -> None:
        for proc, _ in self.procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


def run_job(
    source: Path, origin: Path, classes: list[str], chunk_seconds: float | None
) -> tuple[float, dict[str, float]]:
    """Submit one job and wait for it: wall seconds from submit to done, seconds per stage."""
    from vod.commands.workers import make_spec
    from workers.canvas import submit
    from workers.jobs import get_job

    spec = make_spec(
        str(source),
        title_id=f"b-{uuid.uuid4().hex[:8]}",
        origin=str(origin),
        device_classes=classes,
        chunk_seconds=chunk_seconds,
    )
    start = time.perf_counter()
    submit(spec, force=True)
    while True:
        job = get_job(spec.job_id)
        if job is not None and job.state in ("done", "failed"):
            break
        time.sleep(0.05)
    took = time.perf_counter() - start
    if job.state != "done":
        raise SystemExit(f"job failed: {job.error}")
    stages = {
        name: info.finished - info.started
        for name, info in job.stages.items()
        if info.started and info.finished and name in ("encode", "package")
    }
    return took, stages


def in_process(source: Path, origin: Path, classes: list[str]) -> float:
    from pipeline.workflow.title import ingest

    start = time.perf_counter()
    ingest(source, f"b-{uuid.uuid4().hex[:8]}", origin, device_classes=classes)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=None)
    parser.add_argument("--duration", type=float, default=24.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--device-class", default="web")
    parser.add_argument("--chunk-seconds", type=float, default=6.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (best kept)")
    args = parser.parse_args(argv)
    classes = [c.strip() for c in args.device_class.split(",") if c.strip()]

    scratch = Path(tempfile.mkdtemp(prefix="vod-scale-"))
    try:
        source = args.source
        if source is None:
            from fixtures.generate import generate

            width, height = (int(v) for v in args.size.split("x"))
            source = generate(
                "basic", scratch / "media", width=width, height=height, duration=args.duration
            )
        with redis_url(scratch) as base:
            db = random.randint(8, 15)
            env = {
                "VOD_BROKER_URL": f"{base}/{db}",
                "VOD_RESULT_BACKEND": f"{base}/{db}",
                "VOD_QUEUE_PREFIX": f"bench{uuid.uuid4().hex[:6]}-",
                "VOD_WORK_DIR": str(scratch / "work"),
                "VOD_CATALOGUE_DIR": str(scratch / "catalogue"),
            }
            os.environ.update(env)
            from workers.app import app, configure

            configure(app)
            results = measure(source, scratch, classes, args, {**os.environ, **env})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(results, source, args)
    return 0


def measure(
    source: Path, scratch: Path, classes: list[str], args: argparse.Namespace, env: dict
) -> dict[str, float]:
    results: dict[str, float] = {}
    origin = scratch / "origin"
    results["in-process ingest"] = min(
        in_process(source, origin, classes) for _ in range(args.repeat)
    )
    for count in (1, 2):
        logs = scratch / f"logs{count}"
        logs.mkdir()
        workers = Workers(env, logs)
        try:
            workers.start(count)
            for chunk in (None, args.chunk_seconds):
                label = f"{count} worker{'s' if count > 1 else ''}, " + (
                    f"chunks of {chunk:g} s" if chunk else "per-rung"
                )
                took, stages = min(
                    run_job(source, origin, classes, chunk) for _ in range(args.repeat)
                )
                results[label] = took
                detail = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
                print(f"{label:<32} {took:7.2f} s ({detail})", file=sys.stderr)
        finally:
            workers.stop()
    return results


def report(results: dict[str, float], source: Path, args: argparse.Namespace) -> None:
    chunk = f"chunks of {args.chunk_seconds:g} s"
    one, two = results["1 worker, per-rung"], results["2 workers, per-rung"]
    one_c, two_c = results[f"1 worker, {chunk}"], results[f"2 workers, {chunk}"]
    ratios = {
        "2w/1w per-rung": two / one,
        "2w/1w chunked": two_c / one_c,
        "chunked/per-rung 1w": one_c / one,
        "chunked/per-rung 2w": two_c / two,
        "best distributed/in-process": min(results.values()) / results["in-process ingest"],
    }
    print(
        f"\nsource: {source.name} ({args.size}, {args.duration:g} s), classes "
        f"{args.device_class}, {os.cpu_count()} cores"
    )
    print(f"{'scenario':<32} {'wall s':>8}")
    for label, seconds in results.items():
        print(f"{label:<32} {seconds:8.2f}")
    print(f"\n{'ratio':<32} {'x':>8}")
    for label, value in ratios.items():
        print(f"{label:<32} {value:8.2f}")
    print(
        json.dumps(
            {
                "bench": "scale",
                "wall_s": {k: round(v, 3) for k, v in results.items()},
                "ratios": {k: round(v, 3) for k, v in ratios.items()},
                "cores": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
