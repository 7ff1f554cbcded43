"""The title-level checks of the validator (pipeline/validate/title.py): which manifests a
target names, the measured statistics, media timing rules (tfdt continuity, sync samples,
IDR pictures), rung alignment, HLS against DASH, and the CLI. Titles are built in memory
(tests/support/validate_bytes); local targets use tmp_path files only."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.validate.title import _kind_by_name, _manifests, _sniff, validate
from tests.support.validate_bytes import (
    AUDIO_SIZE,
    IDR_SIZE,
    P_SIZE,
    ROOT,
    clean_title,
    found,
    fragment,
    init_segment,
    media_playlist,
    rates,
    run,
    video_segment,
)

MASTER, MPD = "master.m3u8", "manifest.mpd"


# -- targets ------------------------------------------------------------------------------------
def test_kind_by_name() -> None:
    assert _kind_by_name("a/master.m3u8") == "hls" and _kind_by_name("X.M3U8") == "hls"
    assert _kind_by_name("list.m3u") == "hls" and _kind_by_name("a.MPD") == "dash"
    assert _kind_by_name("a.mp4") is None and _kind_by_name("noext") is None


def test_sniff_by_content(tmp_path: Path) -> None:
    def sniff(data: bytes) -> str | None:
        p = tmp_path / "f"
        p.write_bytes(data)
        return _sniff(p)

    assert sniff(b"\xef\xbb\xbf \n#EXTM3U\n") == "hls"
    assert sniff(b'\t<?xml version="1.0"?><MPD/>') == "dash"
    assert sniff(b"<html>MP</html>") is None and sniff(b"MPD <") is None
    assert sniff(b"") is None
    assert _sniff(tmp_path / "missing") is None
    assert sniff(b" " * 600 + b"#EXTM3U") is None  # only the first 512 bytes are read


def test_manifests_of_url_targets() -> None:
    assert _manifests("https://h/t/") == (
        "https://h/t/",
        ["https://h/t/master.m3u8"],
        ["https://h/t/manifest.mpd"],
        True,
    )
    assert _manifests("https://h/t") == (
        "https://h/t/",
        ["https://h/t/master.m3u8"],
        ["https://h/t/manifest.mpd"],
        True,
    )
    assert _manifests("https://h/t/x.m3u8") == ("https://h/t/", ["https://h/t/x.m3u8"], [], False)
    assert _manifests("http://h/t/x.mpd") == ("http://h/t/", [], ["http://h/t/x.mpd"], False)


def test_manifests_of_local_targets(tmp_path: Path) -> None:
    root = tmp_path.as_uri() + "/"
    assert _manifests(str(tmp_path)) == (root, [root + MASTER], [root + MPD], True)
    assert _manifests(str(tmp_path / "nope")) == "no such file or directory"
    (tmp_path / "a.txt").write_text("hello")
    assert _manifests(str(tmp_path / "a.txt")) == (
        "not an HLS playlist or DASH MPD (by name and content)"
    )
    (tmp_path / "play.txt").write_text("#EXTM3U\n")
    assert _manifests(str(tmp_path / "play.txt")) == (root, [root + "play.txt"], [], False)
    (tmp_path / "x.mpd").write_text("whatever")
    assert _manifests(str(tmp_path / "x.mpd")) == (root, [], [root + "x.mpd"], False)


def test_invalid_targets(tmp_path: Path) -> None:
    r = validate(tmp_path / "nope")
    assert found(r) == [("target.invalid", str(tmp_path / "nope"), "no such file or directory")]
    assert r.target == str(tmp_path / "nope") and r.manifests == []
    r = validate(tmp_path, decode=False)
    assert found(r) == [("target.invalid", ".", "neither master.m3u8 nor manifest.mpd found")]


def test_directory_target_checks_the_manifests_it_has() -> None:
    t = clean_title()
    report = run(t.files, "")
    assert found(report) == [] and report.manifests == [MASTER, MPD]
    assert report.decoded is False and report.target == ROOT
    del t.files[MASTER]
    assert run(t.files, "").manifests == [MPD]
    t = clean_title()
    del t.files[MPD]
    assert run(t.files, "").manifests == [MASTER]
    assert found(run({}, "")) == [
        ("target.invalid", ROOT, "neither master.m3u8 nor manifest.mpd found")
    ]


def test_decode_flag_without_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    # VOD_FFMPEG=auto may name the imageio-ffmpeg wheel's binary by absolute path, which an
    # empty PATH does not hide: name the program so that no FFmpeg can be found.
    monkeypatch.setenv("VOD_FFMPEG", "ffmpeg")
    monkeypatch.setenv("PATH", "/nonexistent")
    t = clean_title()
    report = run(t.files, MASTER, decode=True)
    assert report.decoded is False
    assert found(report) == [("decode.unavailable", "", "ffmpeg not found on PATH")]


# -- statistics ---------------------------------------------------------------------------------
def test_stats_are_measured_from_segment_sizes_and_durations() -> None:
    t = clean_title()
    report = run(t.files, MASTER)
    v, a = report.stats["v180"], report.stats["aud"]
    vpeak, vavg = rates(t.video, 2.0)
    assert (v.name, v.kind, v.codecs, v.init, v.timescale) == (
        "v180",
        "video",
        "avc1.64001f",
        "v180/init.mp4",
        90000,
    )
    assert (v.segment_count, v.duration, v.peak_bitrate, v.average_bitrate) == (2, 4.0, vpeak, vavg)
    assert v.frame_duration == pytest.approx(0.04) and v.complete
    assert (a.kind, a.duration, a.frame_duration) == ("audio", 4.0, pytest.approx(0.02))
    assert (a.peak_bitrate, a.average_bitrate) == rates(t.audio, 2.0)


def test_stats_of_uneven_segments() -> None:
    """Peak: the densest segment (bytes * 8 / seconds); average: all bytes / all seconds."""
    t = clean_title()
    short = video_segment(2, frames=25)  # 1 s
    t.files["v180/2.m4s"] = short.data
    t.edit("v180.m3u8", "#EXTINF:2.000000,\nv180/2", "#EXTINF:1.000000,\nv180/2")
    s = run(t.files, "v180.m3u8").stats["v180"]
    first = len(t.video[0].data)
    assert s.duration == 3.0
    assert s.peak_bitrate == round(max(first * 8 / 2, len(short.data) * 8 / 1))
    assert s.average_bitrate == round((first + len(short.data)) * 8 / 3)


def test_stats_with_a_missing_segment_are_incomplete() -> None:
    t = clean_title()
    del t.files["v180/2.m4s"]
    report = run(t.files, "v180.m3u8")
    s = report.stats["v180"]
    assert s.segment_count == 2 and not s.complete and s.duration == 2.0
    first = len(t.video[0].data)
    assert s.peak_bitrate == first * 4 and s.average_bitrate == first * 4
    assert found(report) == [("file.missing", "v180/2.m4s", "HTTP 404 Not Found")]


def test_stats_names_are_unique() -> None:
    t = clean_title()
    t.files["b/v180.m3u8"] = t.files["v180.m3u8"].replace('URI="v180/', 'URI="../w/')
    t.files["b/v180.m3u8"] = t.files["b/v180.m3u8"].replace("v180/", "../w/")
    t.files["c/v180.m3u8"] = t.files["v180.m3u8"].replace("v180/", "../x/")
    for folder in ("w", "x"):
        t.files[f"{folder}/init.mp4"] = t.files["v180/init.mp4"]
        t.files[f"{folder}/1.m4s"] = t.files["v180/1.m4s"]
        t.files[f"{folder}/2.m4s"] = t.files["v180/2.m4s"]
    line = next(ln for ln in t.files[MASTER].splitlines() if ln.startswith("#EXT-X-STREAM-INF"))
    t.edit(MASTER, "v180.m3u8\n", f"v180.m3u8\n{line}\nb/v180.m3u8\n{line}\nc/v180.m3u8\n")
    report = run(t.files, MASTER)
    assert list(report.stats) == ["v180", "v180#2", "v180#3", "aud"]
    assert report.stats["v180#3"].init == "x/init.mp4"


def test_stats_of_a_track_without_segments() -> None:
    t = clean_title()
    t.files["v180.m3u8"] = media_playlist("v180", 0)
    s = run(t.files, "v180.m3u8").stats["v180"]
    assert (s.segment_count, s.duration, s.peak_bitrate, s.average_bitrate) == (0, 0.0, 0, 0)
    assert s.complete is False


# -- media timing -------------------------------------------------------------------------------
def test_decode_time_gap_between_segments() -> None:
    t = clean_title()
    shifted = fragment(180000 + 3600, [3600] * 50, [IDR_SIZE] + [P_SIZE] * 49, video=True)
    t.files["v180/2.m4s"] = shifted.data
    findings = found(run(t.files, "v180.m3u8"))
    assert findings == [
        ("media.tfdt", "v180/2.m4s", "tfdt 183600, the previous segment ends at 180000 (+0.040 s)")
    ]


def test_decode_time_gap_inside_a_segment() -> None:
    t = clean_title()
    a = fragment(0, [3600] * 25, [IDR_SIZE] + [P_SIZE] * 24, video=True)
    b = fragment(90000 + 1, [3600] * 25, [IDR_SIZE] + [P_SIZE] * 24, video=True)
    t.files["v180/1.m4s"] = a.data + b.data
    findings = found(run(t.files, "v180.m3u8"))
    assert findings[0] == (
        "media.tfdt",
        "v180/1.m4s",
        f"moof at offset {len(a.data)}: tfdt 90001, previous fragment ends at 90000",
    )


def test_audio_gap_is_reported_but_not_sync() -> None:
    t = clean_title()
    late = fragment(96000 + 960, [960] * 100, [AUDIO_SIZE] * 100, video=False)
    t.files["aud/2.m4s"] = late.data
    findings = found(run(t.files, "aud.m3u8"))
    assert findings == [
        ("media.tfdt", "aud/2.m4s", "tfdt 96960, the previous segment ends at 96000 (+0.020 s)")
    ]


def test_segment_not_starting_with_a_sync_sample() -> None:
    t = clean_title()
    t.files["v180/2.m4s"] = video_segment(2, sync_first=False).data
    assert found(run(t.files, "v180.m3u8")) == [
        ("media.sync", "v180/2.m4s", "the first sample is not flagged as a sync sample")
    ]


def test_segment_not_starting_with_an_idr_picture() -> None:
    t = clean_title()
    t.files["v180/2.m4s"] = video_segment(2, first_nal=0x41).data
    assert found(run(t.files, "v180.m3u8")) == [
        (
            "media.idr",
            "v180/2.m4s",
            "the first frame is NAL unit type 1, not an IDR picture (NAL type 5)",
        )
    ]
    t.files["v180/2.m4s"] = video_segment(2, first_nal=0x06).data  # SEI only
    assert found(run(t.files, "v180.m3u8")) == [
        (
            "media.idr",
            "v180/2.m4s",
            "the first frame is no VCL NAL unit, not an IDR picture (NAL type 5)",
        )
    ]


def test_hevc_segment_not_starting_with_an_irap_picture() -> None:
    hvcc = bytes([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93]) + bytes(8) + b"\xff\x00"
    t = clean_title()
    t.files["v180/init.mp4"] = init_segment("vide", timescale=90000, fmt="hvc1", config=hvcc)
    # 4-byte lengths; NAL header 0x02 = type 1 (TRAIL_R), 0x2a = type 21 (CRA)
    t.files["v180/1.m4s"] = video_segment(1, first_nal=0x2A).data
    t.files["v180/2.m4s"] = video_segment(2, first_nal=0x02).data
    assert found(run(t.files, "v180.m3u8")) == [
        (
            "media.idr",
            "v180/2.m4s",
            "the first frame is NAL unit type 1, not an IRAP picture (NAL type 16-21)",
        )
    ]


# -- alignment ----------------------------------------------------------------------------------
def _two_rungs(t, low_segments: list[bytes]) -> None:
    t.files["v144/init.mp4"] = init_segment("vide", timescale=90000, width=256, height=144)
    for n, data in enumerate(low_segments, start=1):
        t.files[f"v144/{n}.m4s"] = data
    t.files["v144.m3u8"] = media_playlist("v144", len(low_segments))
    t.files[MASTER] = "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            '#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.64001f"',
            "v180.m3u8",
            '#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.64001f"',
            "v144.m3u8",
            "",
        ]
    )


def _align(findings):
    return [f for f in findings if f[0] == "align.rungs"]


def test_rungs_aligned() -> None:
    t = clean_title()
    _two_rungs(t, [video_segment(1).data, video_segment(2).data])
    assert _align(found(run(t.files, MASTER))) == []
