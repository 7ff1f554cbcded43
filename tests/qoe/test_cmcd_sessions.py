"""CMCD counts only for live playback sessions (issue 12): a report whose `sid` names no session,
a released one or an expired one is answered 204 like any other but reaches no KPI and no
alarm; it is counted in the KPI response's `rejected`. A live session's identical reports do
raise the alarm, so the refusal is about the session, not the data."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_lib
from fastapi.testclient import TestClient

from api.app import create_app
from playback.sessions import PlaybackSession, SessionStore
from qoe.kpi import WINDOW_MS, window_of
from tests.support.playback_env import stalled_minute

CMCD = "/qoe/v1/cmcd"
KPI = "/qoe/v1/kpi"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"


@pytest.fixture
def qoe_app(
    tmp_path: Path, redis_service: str, monkeypatch: pytest.MonkeyPatch,
    operator_headers: dict[str, str],
) -> Iterator[tuple[TestClient, SessionStore]]:  # fmt: skip
    """The app on a fresh SQLite file and its own Redis prefix (no playback secret: the
    sessions are written straight into the store the collector reads)."""
    prefix = f"vodtest-cmcd-{uuid.uuid4().hex[:8]}:"
    monkeypatch.setenv("VOD_REDIS_PREFIX", prefix)
    monkeypatch.delenv("VOD_TOKEN_SECRET", raising=False)
    redis = redis_lib.Redis.from_url(redis_service)
    app = create_app(f"sqlite:///{tmp_path / 'qoe.db'}", redis=redis)
    try:
        with TestClient(app, headers=operator_headers) as client:
            yield client, SessionStore(redis, prefix)
    finally:
        app.state.engine.dispose()
        for key in redis.scan_iter(match=f"{prefix}*"):
            redis.delete(key)


def record(sid: str, *, released: bool = False, expires_in: float = 600) -> PlaybackSession:
    now = datetime.now(UTC)
    return PlaybackSession(
        id=sid, customer=f"cust-{sid}", device_id="laptop", device_class="desktop",
        security_level="SW_SECURE_CRYPTO", title_id="sample", territory="GB", tier="standard",
        cdn="cdn-eu-west", origin="cdn-eu-west", license_type="SVOD", max_height=1080,
        renditions=["v1"], stream_limit=3, created_at=now,
        expires_at=now + timedelta(seconds=expires_in), released=released,
    )  # fmt: skip


def post(client: TestClient, lines: list[str]) -> None:
    body = "\n".join(lines).encode() + b"\n"
    resp = client.post(CMCD, content=body, headers={"Content-Type": "application/cmcd"})
    assert resp.status_code == 204, resp.text


def kpi(client: TestClient) -> dict:
    resp = client.get(KPI, params={"minutes": 10})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_forged_released_and_expired_sessions_reach_no_kpi_and_no_alarm(
    qoe_app: tuple[TestClient, SessionStore],
) -> None:
    client, sessions = qoe_app
    sessions.put(record("released", released=True), 600)
    sessions.put(record("expired", expires_in=-1), 600)  # the record outlives its session
    m0 = window_of(int(time.time() * 1000)) - WINDOW_MS
    assert kpi(client)["rejected"] == 0

    # The attack from the issue: one forged body of heavy rebuffering, cid naming a real title.
    forged = [line.replace('sid="x"', 'sid="x",cid="sample"') for line in stalled_minute("x", m0)]
    post(client, forged)
    post(client, stalled_minute("released", m0) + stalled_minute("expired", m0))
    post(client, ["e=ps,sta=r"])  # no session id at all
    assert client.get(ALARMS).json() == []
    found = kpi(client)
    assert found["windows"] == [] and found["rejected"] == 5 + 10 + 1

    # The same reports from a live session count, and raise the alarm.
    sessions.put(record("live"), 600)
    post(client, stalled_minute("live", m0))
    found = kpi(client)
    [window] = found["windows"]
    assert window["titleId"] == "sample" and window["kpis"]["sessions"] == 1
    assert found["rejected"] == 16
    [alarm] = client.get(ALARMS).json()
    assert alarm["crossedThresholdInformation"]["indicatorName"] == "rebuffering_ratio"
