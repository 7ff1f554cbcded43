"""A Redis for tests: the machine's 127.0.0.1:6379 when it answers PING, else a private one.

The private server is a `redis-server` subprocess on a free port that keeps nothing on disk;
it is stopped when the session ends. Without `redis-server` at all the tests fail with the fix
(scripts/setup.sh installs Debian's `redis-server`).

    from tests.support.redis_server import redis_service  # noqa: F401  (a session fixture)
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 6379
START_TIMEOUT = 10.0


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis answers PING at host:port (raw RESP, no client library needed)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((DEFAULT_HOST, 0))
        return sock.getsockname()[1]


def start_private(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail(
            "no Redis on 127.0.0.1:6379 and no redis-server binary: "
            "run scripts/setup.sh (apt-get install redis-server)"
        )
    port = free_port()
    argv = [
        exe,
        "--port",
        str(port),
        "--bind",
        DEFAULT_HOST,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        str(workdir),
    ]
    log = (workdir / "redis.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while not ping(DEFAULT_HOST, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"redis-server did not start: {(workdir / 'redis.log').read_text()}")
        time.sleep(0.05)
    return proc, port


@pytest.fixture(scope="session")
def redis_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`redis://host:port` (no db number) of a Redis that answers for the whole session."""
    if ping(DEFAULT_HOST, DEFAULT_PORT):
        yield f"redis://{DEFAULT_HOST}:{DEFAULT_PORT}"
        return
    proc, port = start_private(tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://{DEFAULT_HOST}:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
