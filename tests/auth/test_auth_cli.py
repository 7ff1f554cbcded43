"""The development issuer through the real `vod` command line, and the API's start-up rules:
`vod auth init` writes a private key only its owner can read and a JWKS the API accepts, `vod
auth token` mints tokens the API honours (through `--token` and VOD_API_TOKEN on the commands
that call it), and `vod catalogue serve` refuses to start without authentication unless
`--no-auth` on loopback."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import jwt
import pytest
from click.testing import CliRunner

from tests.support.common import VOD, run_vod
from tests.support.subscriber_db import SAMPLE
from vod.cli import main


def _env(**over: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOD_")}
    return {**env, **over}


def vod(*args: str, **env: str) -> SimpleNamespace:
    """`vod ARGS` in-process (click's runner: the same command, no interpreter start-up), with
    only the VOD_* variables given."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("VOD_")}
    result = CliRunner().invoke(main, list(args), env={**clean, **env})
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def test_init_writes_a_private_key_and_a_jwks(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    made = vod("auth", "init", "--dir", str(keys))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE((keys / "private.pem").stat().st_mode) == 0o600
    assert f"VOD_AUTH_JWKS={keys / 'jwks.json'}" in made.stdout
    again = vod("auth", "init", "--dir", str(keys))  # keeps the key
    assert again.returncode == 0 and "kept" in again.stdout
    pem = (keys / "private.pem").read_bytes()
    replaced = vod("auth", "init", "--dir", str(keys), "--force")
    assert replaced.returncode == 0 and (keys / "private.pem").read_bytes() != pem
    default = vod("auth", "init", "--print-jwks-path", VOD_AUTH_DIR=str(tmp_path / "d"))
    assert default.stdout.strip() == str(tmp_path / "d" / "jwks.json")


def test_token_claims_follow_rfc_9068(tmp_path: Path) -> None:
    env = {"VOD_AUTH_DIR": str(tmp_path), "VOD_AUTH_ISSUER": "https://idp.test"}
    assert vod("auth", "init", **env).returncode == 0
    out = vod("auth", "token", "--role", "subscriber", "--customer", "c-42", "--ttl", "120",
              **env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
    assert claims["iss"] == "https://idp.test" and claims["aud"] == "vod-api"
    assert claims["sub"] == "c-42" and claims["roles"] == ["subscriber"]
    assert claims["exp"] - claims["iat"] == 120 and claims["jti"] and claims["client_id"]
    missing = vod("auth", "token", "--role", "subscriber", **env)
    assert missing.returncode == 1 and "--customer" in missing.stderr
    assert "Traceback" not in missing.stderr
    absurd = vod("auth", "token", "--role", "operator", "--ttl", "99999999", **env)
    assert absurd.returncode == 2 and "ttl" in absurd.stderr.lower()
    no_key = vod("auth", "token", "--role", "operator", VOD_AUTH_DIR=str(tmp_path / "x"))
    assert no_key.returncode == 1 and "vod auth init" in no_key.stderr


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # starts `vod catalogue serve` processes
def test_serve_refuses_to_start_without_auth(tmp_path: Path) -> None:
    env = _env(VOD_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    proc = run_vod("catalogue", "serve", "--port", str(_port()), env=env, timeout=60)
    assert proc.returncode == 1 and "VOD_AUTH_JWKS" in proc.stderr, proc.stderr
    wide = run_vod("catalogue", "serve", "--no-auth", "--host", "0.0.0.0", env=env, timeout=60)
    assert wide.returncode == 2 and "loopback" in wide.stderr
    assert "token-secret" not in run_vod("catalogue", "serve", "--help", env=env).stdout


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`vod catalogue serve` with the development issuer, the sample rights imported."""
    db = f"sqlite:///{tmp_path / 'api.db'}"
    env = _env(VOD_AUTH_DIR=str(tmp_path / "auth"), VOD_DATABASE_URL=db,
               VOD_REDIS_PREFIX=f"cli-{tmp_path.name[-8:]}:")  # fmt: skip
    env["VOD_AUTH_JWKS"] = run_vod("auth", "init", "--print-jwks-path", env=env).stdout.strip()
    assert run_vod("catalogue", "import", str(SAMPLE), env=env).returncode == 0
    port = _port()
    server = subprocess.Popen(
        [*VOD, "catalogue", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        yield base, env
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.slow  # a real API process and seven `vod` processes
def test_cli_commands_carry_the_token(api: tuple[str, dict[str, str]]) -> None:
    base, env = api
    activate = ["activate", "--customer", "ann", "--territory", "GB", "--api", base]
    anonymous = run_vod(*activate, env=env)
    assert anonymous.returncode == 1 and "HTTP 401" in anonymous.stderr
    assert "VOD_API_TOKEN" in anonymous.stderr and "Traceback" not in anonymous.stderr

    sub = run_vod("auth", "token", "--role", "subscriber", "--customer", "ann", env=env)
    ok = run_vod(*activate, env={**env, "VOD_API_TOKEN": sub.stdout.strip()})
    assert ok.returncode == 0, ok.stderr
    other = run_vod("activate", "--customer", "bea", "--territory", "GB", "--api", base,
                    "--token", sub.stdout.strip(), env=env)  # fmt: skip
    assert other.returncode == 1 and "HTTP 403" in other.stderr

    op = run_vod("auth", "token", "--role", "operator", env=env).stdout.strip()
    orders = run_vod("orders", "--customer", "ann", "--api", base, env={**env, "VOD_API_TOKEN": op})
    assert orders.returncode == 0 and "completed" in orders.stdout, orders.stderr
    alarms = run_vod("qoe", "alarms", "--api", base, "--token", sub.stdout.strip(), env=env)
    assert alarms.returncode == 1 and "operator" in alarms.stderr
    # Without --api the CLI calls VOD_API_URL; it no longer runs in-process on ./catalogue.db.
    implied = run_vod("orders", "--customer", "ann", env={**env, "VOD_API_URL": base,
                                                          "VOD_API_TOKEN": op})  # fmt: skip
    assert implied.returncode == 0 and "completed" in implied.stdout, implied.stderr
