"""The console's QoE view in headless Chromium: a chart per KPI whose points are the API's
per-minute values, and the alarm a rebuffering burst raised, with its affected services, shown
raised and then cleared."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

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
from tests.support.player_harness import CHROMIUM
from tests.support.requirements import requires

pytestmark = [
    pytest.mark.browser,
    requires(Path(CHROMIUM).exists(), CHROMIUM, "run scripts/setup.sh"),
]
KPIS = [
    "video_start_time_ms",
    "exits_before_video_start_ratio",
    "rebuffering_ratio",
    "playback_failures",
    "average_bitrate_kbps",
]


@pytest.fixture(scope="module")
def env(sqlite_env: PlaybackEnv) -> PlaybackEnv:  # noqa: F811
    return sqlite_env


@pytest.fixture(scope="module")
def page(chromium_page: Any, operator_headers: dict[str, str]) -> Any:  # noqa: F811
    """The shared page, signed in as an operator for this tab (what the form's token field or
    a `#token=` link does)."""
    token = operator_headers["Authorization"].removeprefix("Bearer ")
    chromium_page.add_init_script(f"sessionStorage.setItem('vod-console-token', {token!r})")
    return chromium_page


def load(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready]", timeout=15_000)
    assert page.get_attribute("body", "data-ready") == "1", page.inner_text("#message")


def points(page: Any) -> dict[tuple[str, int], float]:
    dots = page.eval_on_selector_all(
        "circle[data-kpi]",
        "els => els.map(e => [e.dataset.kpi, +e.dataset.window, +e.dataset.value])",
    )
    return {(k, w): v for k, w, v in dots}


def test_console_charts_kpis_and_shows_alarm_lifecycle(env: PlaybackEnv, page: Any) -> None:
    m0 = window_of(int(time.time() * 1000)) - WINDOW_MS
    for _, sid in new_sessions(env, 2):
        report_cmcd(env, stalled_minute(sid, m0))
    url = f"{env.api}/console?qoe=1&titleId=sample&deviceClass=desktop"
    load(page, url)
    api = env.http.get(
        env.api + "/qoe/v1/kpi", params={"titleId": "sample", "deviceClass": "desktop"}
    ).json()
    [w] = api["windows"]
    shown = points(page)
    assert page.eval_on_selector_all(".chart", "els => els.map(e => e.dataset.kpi)") == KPIS
    for kpi in KPIS:
        assert shown[(kpi, w["window"])] == pytest.approx(w["kpis"][kpi]), kpi
    assert "sample | desktop | cdn-eu-west" in page.inner_text("#qoe-legend")
    rows = page.eval_on_selector_all("tr[data-alarm]", "els => els.map(e => e.dataset.state)")
    assert rows == ["raised"]
    text = page.inner_text("tr[data-alarm]")
    assert "rebuffering ratio" in text and "cdn-access" in text and "vod-streaming" in text

    for _, sid in new_sessions(env, 1):
        report_cmcd(env, clean_minute(sid, m0 + WINDOW_MS))
    load(page, url)
    assert page.eval_on_selector_all("tr[data-alarm]", "els => els.map(e => e.dataset.state)") == [
        "cleared"
    ]
    shown = points(page)
    assert shown[("rebuffering_ratio", m0 + WINDOW_MS)] == 0.0
    assert shown[("rebuffering_ratio", m0)] > 0.5
