"""Corrupted manifests, one rule at a time: HLS and DASH attributes that disagree with the
measured media, timelines, rung alignment and audio/video duration."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from pipeline.media.presentation import Track
from pipeline.validate.title import validate
from tests.support.requirements import requires
from tests.support.validate_titles import build_title, codes, edit, set_timeline

pytestmark = requires(shutil.which("ffmpeg"), "FFmpeg", "run scripts/setup.sh (apt package ffmpeg)")


def test_missing_media_playlist(title: Path) -> None:
    (title / "v144.m3u8").unlink()
    report = validate(title / "master.m3u8", decode=False)
    assert [(v.code, v.where) for v in report.violations] == [("file.missing", "v144.m3u8")]


def test_bandwidth_doubled(title: Path) -> None:
    master = title / "master.m3u8"
    text = master.read_text()
    line = next(ln for ln in text.splitlines() if "v180" not in ln and "RESOLUTION=320x180" in ln)
    bw = int(re.search(r"(?<![-A-Z])BANDWIDTH=(\d+)", line).group(1))
    edit(master, line, line.replace(f"BANDWIDTH={bw},", f"BANDWIDTH={bw * 2},", 1))
    report = validate(title, decode=False)
    assert codes(report) == {"hls.bandwidth"}, report.format_text()
    (v,) = report.violations
    assert v.where == "master.m3u8" and "v180.m3u8" in v.message and "+100.0%" in v.message


def test_dash_bandwidth_halved(title: Path, good: tuple[Path, list[Track]]) -> None:
    v180 = next(t for t in good[1] if t.id == "v180")
    edit(
        title / "manifest.mpd",
        f'bandwidth="{v180.bandwidth}"',
        f'bandwidth="{v180.bandwidth // 2}"',
    )
    assert codes(validate(title, decode=False)) == {"dash.bandwidth"}


def test_wrong_codecs(title: Path, good: tuple[Path, list[Track]]) -> None:
    real = next(t for t in good[1] if t.id == "v180").codecs
    edit(title / "master.m3u8", f'CODECS="{real},', 'CODECS="avc1.640028,')
    edit(title / "manifest.mpd", f'codecs="{real}"', 'codecs="avc1.640028"')
    report = validate(title, decode=False)
    assert codes(report) == {"hls.codecs", "dash.codecs"}, report.format_text()
    assert all(real in v.message for v in report.violations)


def test_missing_audio_codec_in_variant(title: Path) -> None:
    edit(title / "master.m3u8", ',mp4a.40.2"', '"', count=-1)
    report = validate(title, decode=False)
    assert codes(report) == {"hls.codecs"}
    assert len(report.violations) == 2  # both variants


def test_extinf_off_by_one_second(title: Path) -> None:
    edit(title / "v180.m3u8", "#EXTINF:6.000000,", "#EXTINF:5.000000,")
    report = validate(title, decode=False)
    extinf = [v for v in report.violations if v.code == "hls.extinf"]
    assert [v.where for v in extinf] == ["v180.m3u8"]
    assert "-1.000 s" in extinf[0].message
    # the MPD still says 6 s: HLS and DASH disagree
    assert codes(report) == {"hls.extinf", "align.hls_dash"}


def test_dash_timeline_and_timescale(title: Path, good: tuple[Path, list[Track]]) -> None:
    mpd = title / "manifest.mpd"
    aud = next(t for t in good[1] if t.id == "aud")
    d = [s.duration for s in aud.segments]
    set_timeline(mpd, "aud", f'<S t="0" d="{d[0] - 4800}"/><S d="{d[1]}"/><S d="{d[2]}"/>')
    report = validate(title, decode=False)
    assert codes(report) == {
        "dash.timeline_duration",  # segment 1 is 0.1 s short
        "dash.timeline_time",  # so segments 2 and 3 start 0.1 s early
        "align.hls_dash",
    }, report.format_text()
    edit(mpd, 'timescale="90000" initialization="v144', 'timescale="1000" initialization="v144')
    assert "dash.timescale" in codes(validate(title, decode=False))


def test_dash_start_number_off_by_one(title: Path) -> None:
    edit(
        title / "manifest.mpd",
        'media="v180/$Number$.m4s" startNumber="1"',
        'media="v180/$Number$.m4s" startNumber="0"',
    )
    report = validate(title, decode=False)
    assert "dash.start_number" in codes(report), report.format_text()
    assert ("file.missing", "v180/0.m4s") in {(v.code, v.where) for v in report.violations}


def test_iframe_byte_range_wrong(title: Path) -> None:
    pl = title / "v180_iframes.m3u8"
    m = re.search(r"#EXT-X-BYTERANGE:(\d+)@(\d+)", pl.read_text())
    n, o = int(m.group(1)), int(m.group(2))
    edit(pl, m.group(0), f"#EXT-X-BYTERANGE:{n - 100}@{o}")
    report = validate(title, decode=False)
    assert codes(report) == {"hls.iframe_range"}


def test_misaligned_rungs(sources: Path, tmp_path: Path) -> None:
    title = tmp_path / "misaligned"
    build_title(sources, title, low_rung_seconds=4.0)  # v144 cut at 4, 8, 12 s; v180 at 6, 12
    report = validate(title, decode=False)
    assert "align.rungs" in codes(report), report.format_text()
    assert codes(report) <= {"align.rungs"}


def test_av_duration_mismatch(title: Path, good: tuple[Path, list[Track]]) -> None:
    # drop the audio's last two segments from both manifests: 6 s of audio, 13 s of video
    aud = next(t for t in good[1] if t.id == "aud")
    playlist = title / "aud.m3u8"
    lines = playlist.read_text().splitlines()
    cut = lines.index("aud/2.m4s") - 1
    playlist.write_text("\n".join(lines[:cut] + ["#EXT-X-ENDLIST", ""]))
    set_timeline(title / "manifest.mpd", "aud", f'<S t="0" d="{aud.segments[0].duration}"/>')
    report = validate(title, decode=False)
    av = [v for v in report.violations if v.code == "av.duration"]
    first = aud.segments[0].duration / aud.timescale
    assert len(av) == 1 and f"{first:.3f} s" in av[0].message and "13.000 s" in av[0].message
    assert codes(report) == {"av.duration"}, report.format_text()


def test_hls_rules_on_playlists(title: Path) -> None:
    edit(title / "master.m3u8", "#EXT-X-INDEPENDENT-SEGMENTS\n", "")
    edit(title / "master.m3u8", ",FRAME-RATE=30.000", "")
    edit(title / "v144.m3u8", "#EXT-X-VERSION:7", "#EXT-X-VERSION:3")
    edit(title / "v144.m3u8", "#EXT-X-ENDLIST\n", "")
    edit(title / "v144.m3u8", "#EXT-X-PLAYLIST-TYPE:VOD\n", "")
    aud = title / "aud.m3u8"
    aud.write_text(re.sub(r"#EXT-X-TARGETDURATION:\d+", "#EXT-X-TARGETDURATION:5", aud.read_text()))
    report = validate(title / "master.m3u8", decode=False)
    assert codes(report) == {
        "hls.independent_segments",
        "hls.variant_attrs",
        "hls.version",
        "hls.endlist",
        "hls.playlist_type",
        "hls.target_duration",
    }, report.format_text()
