"""HLS BANDWIDTH / AVERAGE-BANDWIDTH against the measured media (RFC 8216bis 4.4.6.2: the video
plus the heaviest rendition of its AUDIO group), with exact rule codes and messages. The
expected numbers are measured here from file sizes and the packager's durations, not taken
from the validator's own statistics."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import m3u8

from pipeline.media.presentation import Track
from pipeline.validate.hls import pct
from pipeline.validate.title import validate
from tests.support.requirements import requires
from tests.support.validate_titles import edit

pytestmark = requires(shutil.which("ffmpeg"), "FFmpeg", "run scripts/setup.sh (apt package ffmpeg)")


def _measured(title: Path, t: Track) -> tuple[int, int]:
    """(peak, average) bit rate of a packaged track from its segment files."""
    sizes = [os.path.getsize(title / s.uri) for s in t.segments]
    secs = [s.duration / t.timescale for s in t.segments]
    peak = round(max(n * 8 / d for n, d in zip(sizes, secs, strict=True)))
    return peak, round(sum(sizes) * 8 / sum(secs))


def _variant_line(master: Path, video: str) -> str:
    lines = master.read_text().splitlines()
    return next(lines[i - 1] for i, ln in enumerate(lines) if ln == f"{video}.m3u8")


def _attr(line: str, name: str) -> int:
    m = re.search(rf"(?<![-A-Z]){name}=(\d+)", line)
    assert m is not None, line
    return int(m.group(1))


def _set(master: Path, video: str, **attrs: int) -> None:
    line = _variant_line(master, video)
    new = line
    for name, value in attrs.items():
        attr = name.replace("_", "-")
        new = new.replace(f",{attr}={_attr(line, attr)},", f",{attr}={value},", 1)
        new = new.replace(f":{attr}={_attr(line, attr)},", f":{attr}={value},", 1)
    edit(master, line, new)


def _copy(src: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "title"
    shutil.copytree(src, dest)
    return dest


def test_wrong_average_bandwidth_is_reported_with_its_rule(
    good: tuple[Path, list[Track]], tmp_path: Path
) -> None:
    src, tracks = good
    v180, aud = (next(t for t in tracks if t.id == i) for i in ("v180", "aud"))
    avg = _measured(src, v180)[1] + _measured(src, aud)[1]
    title = _copy(src, tmp_path)
    wrong = avg * 3 // 2
    _set(title / "master.m3u8", "v180", AVERAGE_BANDWIDTH=wrong)
    report = validate(title, decode=False)
    assert [(v.code, v.where, v.message) for v in report.violations] == [
        (
            "hls.average_bandwidth",
            "master.m3u8",
            f"variant v180.m3u8: AVERAGE-BANDWIDTH={wrong}, measured average {avg} b/s "
            f"({pct(wrong, avg)})",
        )
    ], report.format_text()
    assert pct(wrong, avg) == "+50.0%"


def test_missing_average_bandwidth_is_reported(
    good: tuple[Path, list[Track]], tmp_path: Path
) -> None:
    title = _copy(good[0], tmp_path)
    line = _variant_line(title / "master.m3u8", "v144")
    edit(title / "master.m3u8", line, re.sub(r",AVERAGE-BANDWIDTH=\d+", "", line))
    report = validate(title, decode=False)
    assert [(v.code, v.where, v.message) for v in report.violations] == [
        ("hls.average_bandwidth", "master.m3u8", "variant v144.m3u8 has no AVERAGE-BANDWIDTH")
    ], report.format_text()


def test_uneven_audio_group_counts_the_heaviest_rendition(
    uneven: tuple[Path, list[Track]],
) -> None:
    """Renditions of ~128, ~256 and ~48 kb/s: the writer adds the heaviest to every variant,
    and the validator agrees (counting the first, last or lightest instead is > 10 % off)."""
    title, tracks = uneven
    by_id = {t.id: t for t in tracks}
    rates = {tid: _measured(title, by_id[tid]) for tid in ("aud", "aud_hi", "aud_lo")}
    assert rates["aud_hi"][1] > 1.8 * rates["aud"][1] > 3 * rates["aud_lo"][1]
    master = m3u8.loads((title / "master.m3u8").read_text())
    assert [m.uri for m in master.media if m.type == "AUDIO"] == [
        "aud.m3u8", "aud_hi.m3u8", "aud_lo.m3u8",
    ]  # fmt: skip
    assert {m.group_id for m in master.media if m.type == "AUDIO"} == {"aac"}
    for v in master.playlists:
        video = by_id[v.uri.removesuffix(".m3u8")]
        assert v.stream_info.bandwidth == video.bandwidth + by_id["aud_hi"].bandwidth
        assert v.stream_info.average_bandwidth == (
            video.average_bandwidth + by_id["aud_hi"].average_bandwidth
        )
    report = validate(title, decode=False)
    assert report.violations == [], report.format_text()


def test_variant_counting_the_lightest_rendition_is_reported(
    uneven: tuple[Path, list[Track]], tmp_path: Path
) -> None:
    src, tracks = uneven
    by_id = {t.id: t for t in tracks}
    title = _copy(src, tmp_path)
    peak, avg = _measured(src, by_id["v180"])
    hi_peak, hi_avg = _measured(src, by_id["aud_hi"])
    lo_peak, lo_avg = _measured(src, by_id["aud_lo"])
    light = {"BANDWIDTH": peak + lo_peak, "AVERAGE_BANDWIDTH": avg + lo_avg}
    _set(title / "master.m3u8", "v180", **light)
    report = validate(title, decode=False)
    want_peak, want_avg = peak + hi_peak, avg + hi_avg
    assert [(v.code, v.where, v.message) for v in report.violations] == [
        (
            "hls.bandwidth",
            "master.m3u8",
            f"variant v180.m3u8: BANDWIDTH={light['BANDWIDTH']}, measured peak {want_peak} b/s "
            f"({pct(light['BANDWIDTH'], want_peak)})",
        ),
        (
            "hls.average_bandwidth",
            "master.m3u8",
            f"variant v180.m3u8: AVERAGE-BANDWIDTH={light['AVERAGE_BANDWIDTH']}, measured "
            f"average {want_avg} b/s ({pct(light['AVERAGE_BANDWIDTH'], want_avg)})",
        ),
    ], report.format_text()
