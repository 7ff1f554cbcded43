"""What we package plays in the real clients: shaka-player, hls.js and dash.js in Chromium."""

from __future__ import annotations

import pytest

from tests.support.player_harness import PlayerSession, serve_directory

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def origin_url(sample_title: dict):
    with serve_directory(sample_title["origin"]) as base:
        yield base


@pytest.mark.parametrize(
    "player,manifest",
    [
        ("shaka", "master.m3u8"),
        ("shaka", "manifest.mpd"),
        ("hls.js", "master.m3u8"),
        ("dash.js", "manifest.mpd"),
    ],
)
def test_clear_title_plays(
    player: str, manifest: str, origin_url: str, browser: PlayerSession
) -> None:
    result = browser.play(f"{origin_url}/sample/{manifest}", player, min_time=3.0)
    assert result.ok, result.describe()
    assert result.reached_time >= 3.0
    assert result.error is None
    # The player saw the ladder we packaged, not just one stream.
    assert len(result.variants) >= 4, result.variants
