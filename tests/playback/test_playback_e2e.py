"""The whole playback loop in headless Chromium, on PostgreSQL: an activated Standard-tier
subscriber plays the encrypted sample through CDN-signed URLs and the session's licence proxy,
with shaka-player reporting CMCD; the player sees only the renditions the session allows, the
reports become KPIs, bad tokens get 403 and a fourth concurrent stream is refused."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest

from playback.tokens import PATH_PREFIX, sign_token, split_path_token
from tests.support.playback_env import GATEWAY_SECRET, PlaybackEnv, start_env
from tests.support.player_harness import PlayerSession
from tests.support.postgres import admin_sql

pytestmark = [pytest.mark.browser, pytest.mark.slow]
KPI = "/qoe/v1/kpi"


@pytest.fixture(scope="module")
def env(pg_admin_url: str, encrypted_origin: dict, redis_service: str) -> Iterator[PlaybackEnv]:  # noqa: F811
    name = f"vod_e2e_{uuid.uuid4().hex[:12]}"
    admin_sql(pg_admin_url, f'CREATE DATABASE "{name}"')
    try:
        url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
        with start_env(url, encrypted_origin, redis_service, heartbeat_ttl=6) as e:
            yield e
    finally:
        admin_sql(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for_kpis(env: PlaybackEnv, timeout: float = 20) -> dict:
    params = {"minutes": 10, "titleId": "sample", "deviceClass": "desktop", "cdn": "cdn-eu-west"}
    deadline = time.monotonic() + timeout
    while True:
        windows = env.http.get(env.api + KPI, params=params).json()["windows"]
        started = [w["kpis"] for w in windows if w["kpis"]["video_starts"]]
        if (started and sum(k["watch_ms"] for k in started)) or time.monotonic() > deadline:
            return {"windows": windows, "started": started}
        time.sleep(0.5)


def test_standard_subscriber_plays_through_session(
    env: PlaybackEnv, browser: PlayerSession
) -> None:  # noqa: F811
    customer = env.activate("standard")
    env.register(customer, "chromium", "ClearKey", "desktop", "clearkey")
    resp = env.session(customer, "chromium")
    assert resp.status_code == 201, resp.text
    s = resp.json()
    sid = s["sessionId"]
    page = {
        "cmcd": s["cmcd"]["url"],
        "sid": sid,
        "cid": s["cmcd"]["contentId"],
        "cmcdInterval": "2",
        "heartbeat": s["heartbeat"]["url"],
        "heartbeatEvery": str(s["heartbeat"]["intervalSeconds"]),
    }
    result = browser.play(
        s["manifests"]["dash"],
        "shaka",
        min_time=4.0,
        timeout=60,
        license_url=s["license"]["url"],
        page_params=page,
    )
    assert result.ok, result.describe()

    # What the player was offered: exactly the session's video renditions, none above its cap.
    summary = env.origin["summaries"]["sample"]
    heights = {r["id"]: r["height"] for r in summary["renditions"] if r["kind"] == "video"}
    seen = sorted(v["height"] for v in result.variants)
    assert seen == sorted(heights[r] for r in s["renditions"] if r in heights)
    assert max(seen) <= s["maxHeight"] <= 1080  # Standard: 1080p; ClearKey: the SD band
    assert max(heights.values()) == 720 and 720 not in seen  # the HD rungs were filtered out
    assert result.heartbeats >= 1  # the page kept its stream slot

    # CMCD reports arrived and became KPIs for (sample, desktop, cdn-eu-west).
    kpis = wait_for_kpis(env)
    assert kpis["started"], kpis
    k = kpis["started"][0]
    assert k["reports"] >= 2 and 0 < k["video_start_time_ms"] < 30_000
    assert k["watch_ms"] > 0 and k["average_bitrate_kbps"] > 0
    assert k["playback_failures"] == 0

    # Tampered and expired tokens on the session's own URLs get 403 at the gateway.
    url = s["manifests"]["dash"]
    token, rest = split_path_token(urlsplit(url).path)
    assert token is not None
    fields = dict(f.split("=", 1) for f in token.split("~"))
    tampered = token.replace(f"id={sid}", f"id={sid[:-1]}{'y' if sid[-1] == 'x' else 'x'}")
    expired = sign_token(
        GATEWAY_SECRET.encode(),
        fields["acl"],
        start=int(time.time()) - 900,
        lifetime=300,
        session_id=sid,
        data=fields["data"],
    )
    for bad, why in ((tampered, b"bad_signature"), (expired, b"expired")):
        got = env.http.get(f"{env.gateway}{PATH_PREFIX}{quote(bad, safe='')}{rest}")
        assert got.status_code == 403 and why in got.content, got.text

    # Standard allows three concurrent streams: keep the first alive, open two, refuse a fourth.
    assert env.http.post(s["heartbeat"]["url"]).status_code == 200
    for _ in range(2):
        assert env.session(customer, "chromium").status_code == 201
    fourth = env.session(customer, "chromium")
    assert fourth.status_code == 409 and fourth.json()["reason"] == "concurrent_stream_limit"


def test_licence_proxy_refuses_a_released_session_in_the_player(
    env: PlaybackEnv,
    browser: PlayerSession,  # noqa: F811
) -> None:
    customer = env.activate("standard")
    env.register(customer, "chromium", "ClearKey", "desktop", "clearkey")
    s = env.session(customer, "chromium").json()
    assert env.http.delete(s["release"]["url"]).status_code == 200
    result = browser.play(
        s["manifests"]["dash"], "shaka", min_time=2.0, timeout=20, license_url=s["license"]["url"]
    )
    assert not result.ok and result.reached_time < 2.0, result.describe()
