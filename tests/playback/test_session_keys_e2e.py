"""HLS and DASH playback sessions play in headless Chromium (shaka-player) through the origin
gateway, with keys only from the session's licence proxy: HLS fetches raw keys from the key URIs
the gateway wrote into the session's playlists, DASH asks the session's licence URL. The
gateway itself serves no keys, and the page is given none."""

from __future__ import annotations

import pytest

from drm.signalling.clearkey import CLEARKEY_LICENSE_PATH
from tests.support.playback_env import PlaybackEnv
from tests.support.player_harness import PlayerSession

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def env(sqlite_env: PlaybackEnv) -> PlaybackEnv:  # noqa: F811
    return sqlite_env


@pytest.mark.parametrize("protocol", ["hls", "dash"])
def test_session_plays_with_keys_from_the_session_proxy_only(
    env: PlaybackEnv, browser: PlayerSession, protocol: str
) -> None:
    customer = env.activate("standard")
    env.register(customer, "chromium", "ClearKey", "desktop", "clearkey")
    resp = env.session(customer, "chromium")
    assert resp.status_code == 201, resp.text
    s = resp.json()
    assert env.http.get(env.gateway + CLEARKEY_LICENSE_PATH + "/" + "0" * 32).status_code == 404

    slots = f"{env.prefix}streams:{customer}"
    taken = env.redis.zscore(slots, s["sessionId"])
    licence = {"license_url": s["license"]["url"]} if protocol == "dash" else {}
    result = browser.play(s["manifests"][protocol], "shaka", min_time=3.0, timeout=60, **licence)
    assert result.ok, result.describe()

    # No heartbeat URL was given to the page: only licence or key requests renewed the slot.
    assert env.redis.zscore(slots, s["sessionId"]) > taken
    heights = sorted(v["height"] for v in result.variants)
    assert heights and max(heights) <= s["maxHeight"] < 720  # an SD session: no HD rung offered
