"""`vod device register`, `vod play` and `vod qoe` against a running API, as a user runs them:
the watch URL `vod play` prints plays the session through the gateway, and refusals exit 1
with the reason."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from qoe.kpi import WINDOW_MS, window_of
from tests.support import auth
from tests.support.common import run_vod
from tests.support.playback_env import (  # noqa: F401
    PlaybackEnv,
    new_sessions,
    report_cmcd,
    stalled_minute,
    start_env,
)

# Eight `vod` subprocesses (about a second of start-up each) against the live API.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(sqlite_env: PlaybackEnv) -> PlaybackEnv:  # noqa: F811
    return sqlite_env


def vod(env: PlaybackEnv, *args: str) -> tuple[int, str, str]:
    token = auth.current().token(ttl=3600)  # the operator, as VOD_API_TOKEN
    proc = run_vod(*args, "--api", env.api, env={**os.environ, "VOD_API_TOKEN": token}, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_register_play_and_watch_url(env: PlaybackEnv) -> None:
    customer = env.activate("standard")
    rc, out, err = vod(env, "device", "register", "--customer", customer, "--device", "laptop")
    assert rc == 0, err
    assert f"laptop registered to {customer} (desktop, clearkey ClearKey)" in out
    rc, out, err = vod(
        env, "play", "--customer", customer, "--device", "laptop", "--title", "sample"
    )
    assert rc == 0, err
    assert "up to 576p" in out and "CDN cdn-eu-west via default (akamai)" in out
    watch = next(line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("watch:"))
    q = {k: v[0] for k, v in parse_qs(urlsplit(watch).query).items()}
    assert watch.startswith(env.gateway + "/?") and q["player"] == "shaka"
    assert q["licenseUrl"].startswith(f"{env.api}/playback/v1/sessions/{q['sid']}/license?auth=")
    assert q["cmcd"] == f"{env.api}/qoe/v1/cmcd" and q["cid"] == "sample"
    assert env.http.get(q["src"]).status_code == 200  # the signed manifest
    assert env.http.post(q["heartbeat"]).status_code == 200
    rc, out, err = vod(
        env, "play", "--customer", customer, "--device", "laptop", "--title", "sample", "--json"
    )
    assert rc == 0 and json.loads(out)["titleId"] == "sample"


def test_refusals_exit_non_zero_with_the_reason(env: PlaybackEnv) -> None:
    rc, _, err = vod(env, "play", "--customer", "nobody", "--device", "x", "--title", "sample")
    assert rc == 1 and "HTTP 403 no_active_subscription" in err
    customer = env.activate("basic")  # one device
    assert vod(env, "device", "register", "--customer", customer, "--device", "a")[0] == 0
    rc, _, err = vod(env, "device", "register", "--customer", customer, "--device", "b")
    assert rc == 1 and "device limit 1 reached" in err
    down = run_vod("qoe", "kpis", "--api", "http://127.0.0.1:9", env=dict(os.environ))
    assert down.returncode == 1 and "is `vod catalogue serve` running?" in down.stderr


def test_qoe_kpis_and_alarms(env: PlaybackEnv) -> None:
    m0 = window_of(int(time.time() * 1000)) - WINDOW_MS
    for _, sid in new_sessions(env, 1):
        report_cmcd(env, stalled_minute(sid, m0))
    rc, out, err = vod(env, "qoe", "kpis", "--title", "sample")
    assert rc == 0, err
    assert "sample / desktop / cdn-eu-west" in out and "86.7%" in out
    rc, out, err = vod(env, "qoe", "alarms", "--state", "raised")
    assert rc == 0, err
    assert "rebuffering ratio 86.7% above 3.0%" in out and "cdn-access#" in out
