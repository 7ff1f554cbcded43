"""A PostgreSQL server for the test session: $VOD_TEST_PG (an admin URL, or `throwaway`),
else the one on 127.0.0.1:5432 (started through Debian's cluster tools when installed but
stopped), else a throwaway cluster initdb'd in /tmp on a free port."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalogue import db
from tests.support.requirements import require

try:
    import psycopg
except ImportError:  # reported by pg_admin_url through `require`
    psycopg = None  # type: ignore[assignment]

PG_HOST = "127.0.0.1"


def _pg_answers(port: int, host: str = PG_HOST) -> bool:
    try:
        with psycopg.connect(
            host=host, port=port, user="postgres", dbname="postgres", connect_timeout=3
        ):
            return True
    except psycopg.OperationalError:
        return False


def _wait_for(port: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _pg_answers(port):
            return True
        time.sleep(0.3)
    return False


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _start_debian_cluster() -> bool:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or not shutil.which("pg_ctlcluster"):
        return False
    cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]
    if subprocess.run(cmd, capture_output=True, timeout=60).returncode not in (0, 2):
        return False  # 2: already running
    return _wait_for(5432)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((PG_HOST, 0))
        return s.getsockname()[1]


def _throwaway_cluster() -> tuple[int, Path, Path]:
    """initdb a cluster in /tmp (reachable by the postgres user) and start it on a free port."""
    initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    require(
        initdbs,
        "PostgreSQL (none answers on 5432 and no initdb)",
        "run scripts/setup.sh (apt package `postgresql`) or set VOD_TEST_PG to an admin URL",
    )
    bindir = Path(initdbs[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="vod-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--no-sync"]),
        **run,
    )  # fmt: skip
    opts = f"-p {port} -k {base} -c listen_addresses={PG_HOST} -c fsync=off"
    subprocess.run(
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"),
                      "-w", "-o", opts, "start"]),
        **run,
    )  # fmt: skip
    if not _wait_for(port):
        pytest.fail(f"throwaway PostgreSQL did not start: {(base / 'log').read_text()[-2000:]}")
    return port, bindir, base


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A superuser URL on a PostgreSQL server, started for this session when none answers."""
    require(psycopg is not None, "python package psycopg", "pip install -e . (scripts/setup.sh)")
    mode = os.environ.get("VOD_TEST_PG", "auto")
    if mode.startswith("postgresql"):
        yield db.normalise_url(mode)
        return
    if mode != "throwaway" and (_pg_answers(5432) or _start_debian_cluster()):
        yield f"postgresql+psycopg://postgres@{PG_HOST}:5432/postgres"
        return
    port, bindir, base = _throwaway_cluster()
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{port}/postgres"
    finally:
        stop = [str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def admin_sql(url: str, sql: str) -> None:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql)
