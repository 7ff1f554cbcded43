"""A real S3 endpoint on loopback for tests: `moto_server` in a subprocess.

Usage (a session fixture; import it into a test module or conftest)::

    from tests.support.s3_server import s3_endpoint  # noqa: F401 (fixture)

    def test_upload(s3_endpoint: str) -> None:
        client = pipeline.storage.s3.s3_client(s3_endpoint)

or `with moto_server() as endpoint: ...` outside pytest. While it runs, dummy credentials and
VOD_S3_ENDPOINT_URL are set in os.environ (restored afterwards), so boto3 and subprocesses
started with `s3_env()` talk to it and never to AWS.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.requirements import require

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # no 1 s IMDS probe on a closed network
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
START_TIMEOUT = 30.0


def _moto_binary() -> str:
    local = Path(sys.executable).parent / "moto_server"
    found = str(local) if local.exists() else shutil.which("moto_server")
    require(found, "moto_server", "pip install 'moto[server]' (scripts/setup.sh)")
    assert found is not None
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}")
        try:
            # moto's own dashboard API answers once the server is up.
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is listening
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {url} within {START_TIMEOUT} s")


@contextmanager
def moto_server() -> Iterator[str]:
    """Start `moto_server -H 127.0.0.1 -p <free port>`, yield its endpoint URL, stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [_moto_binary(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Without this moto answers every request with CORS headers; S3 only does so for
        # buckets with a CORS configuration, which is what tests must exercise.
        env={**os.environ, **ENV, "MOTO_DISABLE_GLOBAL_CORS": "true"},
    )
    saved = {k: os.environ.get(k) for k in [*ENV, "VOD_S3_ENDPOINT_URL"]}
    try:
        _wait_ready(url, proc, time.monotonic() + START_TIMEOUT)
        os.environ.update(ENV)
        os.environ["VOD_S3_ENDPOINT_URL"] = url
        yield url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def s3_env(endpoint: str) -> dict[str, str]:
    """Environment for a subprocess (e.g. `vod ingest --origin s3://...`) using ENDPOINT."""
    return {**os.environ, **ENV, "VOD_S3_ENDPOINT_URL": endpoint}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """One moto_server for the whole session; tests keep apart by bucket name."""
    with moto_server() as url:
        yield url
