"""The CMCD endpoint and QoE assurance over real HTTP, on SQLite and PostgreSQL: every CMCD form
is attributed to its playback session's (title, device class, CDN); a synthetic burst of heavy
rebuffering raises a TMF642 alarm naming the services the dependency map links to it, and a
recovered minute clears it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest

from qoe.kpi import WINDOW_MS, window_of
from tests.support.playback_env import (  # noqa: F401
    PlaybackEnv,
    clean_minute,
    new_sessions,
    report_cmcd,
    stalled_minute,
    start_env,
)

CMCD = "/qoe/v1/cmcd"
KPI = "/qoe/v1/kpi"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
SERVICES = "/tmf-api/serviceInventory/v4/service"
DIMS = {"titleId": "sample", "deviceClass": "desktop", "cdn": "cdn-eu-west"}


@pytest.fixture(scope="module")
def start(database_url: str, encrypted_origin: dict, redis_service: str) -> Callable[..., Any]:  # noqa: F811
    return partial(start_env, database_url, encrypted_origin, redis_service, heartbeat_ttl=30)


@pytest.fixture
def env(start: Callable[..., Any]) -> Iterator[PlaybackEnv]:
    """A fresh environment (own Redis prefix) per test: windows and alarms start empty."""
    with start() as e:
        yield e


def window(env: PlaybackEnv, start_ms: int, dims: dict[str, str] = DIMS) -> dict[str, Any]:
    found = env.http.get(env.api + KPI, params={"minutes": 30, **dims}).json()["windows"]
    return next((w["kpis"] for w in found if w["window"] == start_ms), {})


def test_every_cmcd_form_reaches_the_sessions_window(env: PlaybackEnv) -> None:
    [(_, sid)] = new_sessions(env, 1)
    now = int(time.time() * 1000)
    w0 = window_of(now)
    t = max(now - 30_000, w0)  # inside this minute, in the past
    q = quote(f'sid="{sid}",sta=p,msd=640,br=(2000),ts={t}', safe="")
    assert env.http.get(f"{env.api}{CMCD}?CMCD={q}").status_code == 204
    hdr = {
        "CMCD-Session": f'sid="{sid}"',
        "CMCD-Status": f"sta=r,ts={t + 4_000}",
        "CMCD-Object": "br=2000",
    }
    assert env.http.post(env.api + CMCD, headers=hdr).status_code == 204
    report_cmcd(env, [f'e=ps,sid="{sid}",sta=p,ts={t + 5_000}', f'e=t,sid="{sid}",ts={t + 9_000}'])
    k = window(env, w0)
    assert k["reports"] == 4 and k["sessions"] == 1 and k["video_start_time_ms"] == 640
    assert k["watch_ms"] == 9_000 and k["rebuffering_ratio"] == round(1_000 / 9_000, 6)
    assert k["average_bitrate_kbps"] == 2000


def test_unknown_sessions_and_bad_reports(env: PlaybackEnv) -> None:
    report_cmcd(env, ['sid="not-ours",cid="sample",sta=p,msd=10'])  # 204, but no such session
    found = env.http.get(env.api + KPI, params={"minutes": 5, "titleId": "sample"}).json()
    assert found["windows"] == [] and found["rejected"] == 1
    for bad in (
        {"params": {"CMCD": "br=((("}},
        {"content": b"\xff\xfe"},
        {"headers": {"CMCD-Request": "mtp=,"}},
    ):
        resp = env.http.post(env.api + CMCD, **bad)
        assert resp.status_code == 400 and "CMCD" in resp.json()["detail"], resp.text


def test_release_before_first_frame_is_an_exit(env: PlaybackEnv) -> None:
    customer = env.activate("standard")
    env.register(customer, "laptop")
    s = env.session(customer, "laptop").json()
    report_cmcd(env, [f'e=ps,sid="{s["sessionId"]}",sta=s'])
    assert env.http.delete(s["release"]["url"]).status_code == 200
    k = window(env, window_of(int(time.time() * 1000)))
    assert k["exits_before_video_start"] == 1 and k["video_starts"] == 0


def test_rebuffering_burst_raises_an_alarm_that_recovery_clears(env: PlaybackEnv) -> None:
    bad = new_sessions(env, 3)
    now = int(time.time() * 1000)
    m0 = window_of(now) - WINDOW_MS  # the previous minute: the burst
    for _, sid in bad:  # 3 s playing, 26 s stalled, then quit
        report_cmcd(env, stalled_minute(sid, m0))
    k = window(env, m0)
    assert k["rebuffering_ratio"] > 0.8 and k["sessions"] == 3
    [alarm] = env.http.get(env.api + ALARMS, params={"state": "raised"}).json()
    assert alarm["crossedThresholdInformation"]["indicatorName"] == "rebuffering_ratio"
    assert alarm["alarmedObject"]["id"] == "title=sample;deviceClass=desktop;cdn=cdn-eu-west"
    assert alarm["perceivedSeverity"] == "major" and alarm["probableCause"] == "thresholdCrossed"
    assert float(alarm["crossedThresholdInformation"]["observedValue"]) == k["rebuffering_ratio"]
    # The affected services are the burst customers' CDN-dependent services, by inventory id.
    customers = sorted(c for c, _ in bad)
    assert alarm["extension"]["impactedCustomers"] == customers
    assert alarm["extension"]["dependentServiceCount"] >= 3
    named = {(s["customer"], s["name"]) for s in alarm["affectedService"]}
    for c in customers:
        assert {(c, "cdn-access"), (c, "vod-streaming"), (c, "qoe-monitoring")} <= named
        inventory = {
            s["id"]: s["name"]
            for s in env.http.get(
                env.api + SERVICES, params={"customer": c, "state": "active"}
            ).json()
        }
        for s in alarm["affectedService"]:
            if s["customer"] == c:
                assert inventory[s["id"]] == s["name"]
    # Another bad report in the same minute does not raise a second alarm.
    report_cmcd(env, [f'e=ps,sid="{bad[0][1]}",sta=r,ts={m0 + 40_000}'])
    assert len(env.http.get(env.api + ALARMS).json()) == 1
    # Recovery: the next minute plays cleanly.
    m1 = m0 + WINDOW_MS
    for _, sid in new_sessions(env, 2):
        report_cmcd(env, clean_minute(sid, m1))
    assert window(env, m1)["rebuffering_ratio"] == 0.0
    [cleared] = env.http.get(env.api + ALARMS, params={"state": "cleared"}).json()
    assert cleared["id"] == alarm["id"] and cleared["perceivedSeverity"] == "cleared"
    assert cleared["alarmClearedTime"] >= cleared["alarmRaisedTime"]
    assert env.http.get(env.api + ALARMS, params={"state": "raised"}).json() == []
    assert env.http.get(f"{env.api}{ALARMS}/{alarm['id']}").json()["state"] == "cleared"
    # A late report for the bad minute no longer overrides the newer verdict.
    report_cmcd(env, [f'e=ps,sid="{bad[1][1]}",sta=r,ts={m0 + 50_000}'])
    assert env.http.get(env.api + ALARMS, params={"state": "raised"}).json() == []
