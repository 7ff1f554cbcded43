"""Real-source titles play to their end in headless Chromium, and the player reports the
channel counts the bitstream has (shaka reads them from CHANNELS / AudioChannelConfiguration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.validate.title import validate
from pipeline.workflow.title import ingest
from tests.support.player_harness import PlayerSession, serve_directory

pytestmark = pytest.mark.slow

CASES = [
    ("dub_long", "mobile", {2}),  # a dub running 0.757 s past the picture, trimmed
    ("audio_short", "mobile", {2}),  # audio ending 1.5 s early, padded with silence
    ("ts_offset", "mobile", {2}),  # MPEG-TS with audio starting 1.4 s after the video
    ("mono_mxf", "web", {2, 6}),  # six mono tracks in MXF: AAC 5.1 + stereo
]


@pytest.fixture(scope="module")
def titles(media_factory, tmp_path_factory: pytest.TempPathFactory):
    """Each source ingested and validated once for both manifests: kind -> (origin, duration)."""
    made: dict[str, tuple[Path, float]] = {}

    def title(kind: str, device_class: str) -> tuple[Path, float]:
        if kind not in made:
            origin = tmp_path_factory.mktemp(f"{kind}-origin")
            result = ingest(media_factory(kind), kind, origin, device_classes=[device_class])
            report = validate(result.title_dir)
            assert report.ok, report.format_text()
            made[kind] = (origin, result.presentation.duration)
        return made[kind]

    return title


@pytest.mark.parametrize(("kind", "device_class", "channels"), CASES)
@pytest.mark.parametrize("manifest", ["master.m3u8", "manifest.mpd"])
def test_real_source_plays_to_the_end_with_its_channels(
    titles, browser: PlayerSession, kind: str, device_class: str, channels: set[int],
    manifest: str,
) -> None:  # fmt: skip
    origin, end = titles(kind, device_class)
    with serve_directory(origin) as base:
        played = browser.play(f"{base}/{kind}/{manifest}", "shaka", min_time=end - 0.6)
    assert played.ok, played.describe()
    assert {v["channels"] for v in played.variants} == channels
