"""Shared by the HTTP benchmarks: an API server in a subprocess, a keep-alive client load on
127.0.0.1, latency statistics, and the CPU each side spent (they share the machine's cores).

The server verifies bearer tokens as in production: `start_server` makes a development issuer in
a temp folder, and every client here sends an operator token (`AUTH`); the rate limits are
lifted so the benchmark measures the work, not the limiter."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
Send = Callable[[httpx.Client, Any], httpx.Response]
AUTH: dict[str, str] = {}  # the operator's Authorization header, set by start_server


def _issuer() -> dict[str, str]:
    """A development issuer for this run: its JWKS for the server, a token for the clients."""
    sys.path.insert(0, str(ROOT))
    from auth import dev_issuer

    folder = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    jwks = dev_issuer.init(folder)
    token = dev_issuer.mint(folder, role="operator", issuer="vod-dev", audience="vod-api",
                            ttl=24 * 3600)  # fmt: skip
    AUTH["Authorization"] = f"Bearer {token}"
    return {"VOD_AUTH_JWKS": str(jwks), "VOD_AUTH_ISSUER": "vod-dev",
            "VOD_RATE_LIMIT_SESSIONS": "1000000", "VOD_RATE_LIMIT_LICENSES": "1000000"}  # fmt: skip


def stats(latencies: list[float], wall: float) -> dict[str, float]:
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "n": len(latencies),
        "per_s": len(latencies) / wall,
        "p50_ms": q[49] * 1e3,
        "p99_ms": q[98] * 1e3,
    }


def timed(fn: Callable[[Any], Any], items: list) -> tuple[list[float], list[Any], float]:
    lat, results = [], []
    start = time.perf_counter()
    for item in items:
        t = time.perf_counter()
        results.append(fn(item))
        lat.append(time.perf_counter() - t)
    return lat, results, time.perf_counter() - start


def over_http(
    base: str, send: Send, items: list, concurrency: int, expect: tuple[int, ...] = (200,)
) -> tuple[list[float], list[Any], float]:
    """Send `(index, item)` pairs with `concurrency` keep-alive clients; latencies and decoded
    bodies in index order, and the wall time. Any status outside `expect` aborts the run."""
    clients = [httpx.Client(base_url=base, timeout=30, headers=AUTH) for _ in range(concurrency)]
    chunks = [items[i::concurrency] for i in range(concurrency)]

    def worker(k: int) -> list[tuple[int, float, Any]]:
        out = []
        for idx, item in chunks[k]:
            t = time.perf_counter()
            r = send(clients[k], item)
            lat = time.perf_counter() - t
            if r.status_code not in expect:
                raise RuntimeError(
                    f"{r.request.method} {r.request.url} -> {r.status_code} {r.text[:300]}"
                )
            body = (
                r.json()
                if r.headers.get("content-type", "").startswith("application/json")
                else None
            )
            out.append((idx, lat, body))
        return out

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = [x for part in pool.map(worker, range(concurrency)) for x in part]
    wall = time.perf_counter() - start
    for c in clients:
        c.close()
    done.sort(key=lambda x: x[0])
    return [d[1] for d in done], [d[2] for d in done], wall


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the server and its worker processes, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: parent pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def http_phase(proc: subprocess.Popen, *args: Any, **kw: Any) -> tuple[dict[str, float], list]:
    """`over_http` plus the CPU each side spent per request."""
    server0, client0 = server_cpu(proc.pid), time.process_time()
    lat, bodies, wall = over_http(*args, **kw)
    out = stats(lat, wall)
    out["server_cpu_ms"] = (server_cpu(proc.pid) - server0) / len(lat) * 1e3
    out["client_cpu_ms"] = (time.process_time() - client0) / len(lat) * 1e3
    return out, bodies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    factory: str, env: Mapping[str, str], workers: int = 1
) -> tuple[subprocess.Popen, str]:
    """uvicorn `--factory` app on a free loopback port, once /health answers."""
    port = free_port()
    full_env = {**os.environ, **_issuer(), **env, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, env=full_env, cwd=ROOT)
    return proc, wait_healthy(proc, f"http://127.0.0.1:{port}")


def wait_healthy(proc: subprocess.Popen, base: str) -> str:
    """`base` once its /health answers; the process is stopped if it never does."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("the API did not start")
