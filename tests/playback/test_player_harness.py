"""The harness itself: FFmpeg-made fMP4 HLS and DASH must play, broken streams must fail.

Streams come from FFmpeg, not our packager, so a failure here points at the harness
(or the machine), never at pipeline code.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.player_harness import Player, PlayerSession, serve_directory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MIN_TIME = 3.0


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s 640x360 H.264 + AAC as fMP4 HLS (hls/) and DASH (dash/), plus broken copies."""
    if not shutil.which("ffmpeg"):
        pytest.fail("ffmpeg missing: run scripts/setup.sh")
    root = tmp_path_factory.mktemp("streams")
    clip = root / "clip.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24:duration=8",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-g", "48", "-keyint_min", "48", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "96k", "-shortest", str(clip),
    )  # fmt: skip
    (root / "hls").mkdir()
    _ffmpeg(
        "-i", str(clip), "-c", "copy", "-f", "hls", "-hls_segment_type", "fmp4",
        "-hls_playlist_type", "vod", "-hls_time", "2",
        "-hls_segment_filename", str(root / "hls" / "seg_%03d.m4s"),
        "-master_pl_name", "master.m3u8", str(root / "hls" / "media.m3u8"),
    )  # fmt: skip
    (root / "dash").mkdir()
    _ffmpeg(
        "-i", str(clip), "-map", "0", "-c", "copy", "-f", "dash", "-seg_duration", "2",
        "-use_template", "1", "-use_timeline", "1", str(root / "dash" / "manifest.mpd"),
    )  # fmt: skip
    _break_copy(root / "hls", root / "hls-broken", "media.m3u8", "seg_", "missing_")
    _break_copy(root / "dash", root / "dash-broken", "manifest.mpd", "chunk-", "missing-")
    return root


def _break_copy(src: Path, dst: Path, manifest: str, old: str, new: str) -> None:
    """Copy a stream whose manifest names media segments that do not exist."""
    shutil.copytree(src, dst)
    text = (dst / manifest).read_text()
    assert old in text, f"{manifest} does not reference {old!r}: cannot break it"
    (dst / manifest).write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("manifest", "player"),
    [
        ("hls/master.m3u8", "shaka"),
        ("dash/manifest.mpd", "shaka"),
        ("hls/master.m3u8", "hls.js"),
        ("dash/manifest.mpd", "dash.js"),
    ],
)
def test_ffmpeg_streams_play(
    streams: Path, browser: PlayerSession, manifest: str, player: Player
) -> None:
    with serve_directory(streams) as base:
        result = browser.play(f"{base}/{manifest}", player, min_time=MIN_TIME, timeout=20)
    assert result.ok, result.describe()
    assert result.reached_time >= MIN_TIME
    assert result.elapsed < 20, f"play took {result.elapsed:.1f}s"
    assert any(v.get("height") == 360 for v in result.variants), result.variants


@pytest.mark.parametrize(
    ("manifest", "player", "expected"),
    [
        ("hls-broken/master.m3u8", "shaka", "BAD_HTTP_STATUS"),
        ("dash-broken/manifest.mpd", "shaka", "BAD_HTTP_STATUS"),
        ("hls-broken/master.m3u8", "hls.js", "fragLoadError"),
        ("dash-broken/manifest.mpd", "dash.js", "missing-"),
    ],
)
def test_missing_segments_report_player_error(
    streams: Path, browser: PlayerSession, manifest: str, player: Player, expected: str
) -> None:
    with serve_directory(streams) as base:
        result = browser.play(f"{base}/{manifest}", player, min_time=MIN_TIME, timeout=20)
    assert not result.ok
    assert result.error is not None and expected in result.error, result.describe()
    assert not result.error.startswith("timeout"), "player should fail fast, not stall"
    assert result.reached_time < MIN_TIME


def test_missing_manifest_fails(streams: Path, browser: PlayerSession) -> None:
    with serve_directory(streams) as base:
        result = browser.play(f"{base}/nowhere/master.m3u8", "hls.js", timeout=20)
    assert result.error is not None and "manifestLoadError" in result.error, result.describe()


def test_wrong_manifest_type_for_player_is_an_error(streams: Path, browser: PlayerSession) -> None:
    with serve_directory(streams) as base:
        result = browser.play(f"{base}/dash/manifest.mpd", "hls.js", timeout=10)
    assert result.error is not None and "HLS only" in result.error, result.describe()
