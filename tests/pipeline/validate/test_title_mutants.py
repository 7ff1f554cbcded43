"""The title-level checks of the validator (pipeline/validate/title.py): which manifests a
target names, the measured statistics, media timing rules (tfdt continuity, sync samples,
IDR pictures), rung alignment, HLS against DASH, and the CLI. Titles are built in memory
(tests/support/validate_bytes); local targets use tmp_path files only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.validate import title as title_module
from pipeline.validate.title import _kind_by_name, _manifests, _rendition_of, _sniff, main, validate
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
    serving,
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


def test_rungs_with_other_segment_counts_and_starts() -> None:
    t = clean_title()
    third = fragment(4 * 90000, [3600] * 50, [IDR_SIZE] + [P_SIZE] * 49, video=True)
    _two_rungs(t, [video_segment(1).data, video_segment(2).data, third.data])
    assert _align(found(run(t.files, MASTER))) == [
        ("align.rungs", "v144/init.mp4", "rung v144 has 3 segments, rung v180 2")
    ]
    t = clean_title()
    late = fragment(180000 + 3601, [3600] * 50, [IDR_SIZE] + [P_SIZE] * 49, video=True)
    _two_rungs(t, [video_segment(1).data, late.data])
    assert _align(found(run(t.files, MASTER))) == [
        (
            "align.rungs",
            "v144/2.m4s",
            "segment 2 of rung v144 starts at 2.040 s, of rung v180 at 2.000 s",
        )
    ]
    t = clean_title()
    within = fragment(180000 + 3600, [3600] * 50, [IDR_SIZE] + [P_SIZE] * 49, video=True)
    _two_rungs(t, [video_segment(1).data, within.data])
    assert _align(found(run(t.files, MASTER))) == []  # one frame off is tolerated


def test_only_the_first_misaligned_segment_is_reported() -> None:
    t = clean_title(segments=3)
    segs = [
        fragment(k * 180000 + 9000, [3600] * 50, [IDR_SIZE] + [P_SIZE] * 49, video=True).data
        for k in range(3)
    ]
    _two_rungs(t, segs)
    aligned = _align(found(run(t.files, MASTER)))
    assert aligned == [
        (
            "align.rungs",
            "v144/1.m4s",
            "segment 1 of rung v144 starts at 0.100 s, of rung v180 at 0.000 s",
        )
    ]


# -- HLS against DASH ---------------------------------------------------------------------------
def test_hls_and_dash_agree_on_the_clean_title() -> None:
    assert found(run(clean_title().files, "")) == []


def test_hls_segment_durations_differ_from_dash() -> None:
    t = clean_title()
    t.edit("aud.m3u8", "#EXTINF:2.000000,", "#EXTINF:2.021000,")
    findings = [f for f in found(run(t.files, "")) if f[0] == "align.hls_dash"]
    assert findings == [
        (
            "align.hls_dash",
            "aud.m3u8",
            "HLS aud.m3u8 vs DASH Representation aud: segment 1 lasts 2.021000 s in HLS, "
            "2.000000 s in DASH",
        )
    ]
    t = clean_title()
    t.edit("aud.m3u8", "#EXTINF:2.000000,", "#EXTINF:2.020000,")  # one frame: tolerated
    assert [f for f in found(run(t.files, "")) if f[0] == "align.hls_dash"] == []


def test_hls_and_dash_with_other_segment_counts() -> None:
    t = clean_title()
    t.edit(MPD, '<S t="0" d="96000" r="1"/>', '<S t="0" d="96000"/>')
    findings = [f for f in found(run(t.files, "")) if f[0] == "align.hls_dash"]
    assert findings == [
        ("align.hls_dash", "aud.m3u8", "HLS aud.m3u8 vs DASH Representation aud: 2 vs 1 segments")
    ]


def test_hls_and_dash_name_other_files() -> None:
    t = clean_title()
    t.files["aud/b.m4s"] = t.files["aud/2.m4s"]
    t.edit("aud.m3u8", "aud/2.m4s", "aud/b.m4s")
    findings = [f for f in found(run(t.files, "")) if f[0] == "align.hls_dash"]
    assert findings == [
        (
            "align.hls_dash",
            "aud.m3u8",
            "HLS aud.m3u8 vs DASH Representation aud: segment 2 is aud/b.m4s in HLS, "
            "aud/2.m4s in DASH",
        )
    ]


def test_tracks_only_in_one_manifest() -> None:
    t = clean_title()
    text = t.files[MPD]
    start = text.index('    <AdaptationSet id="2"')
    end = text.index("</AdaptationSet>", start) + len("</AdaptationSet>\n")
    t.files[MPD] = text[:start] + text[end:]
    findings = [f for f in found(run(t.files, "")) if f[0] == "align.hls_dash"]
    assert findings == [
        (
            "align.hls_dash",
            "aud.m3u8",
            "the track of this playlist (aud/init.mp4) is not in manifest.mpd",
        )
    ]
    t = clean_title()
    t.edit(MASTER, 'AUDIO="aac",', "")
    t.edit(MASTER, "#EXT-X-MEDIA:TYPE=AUDIO", "#EXT-X-MEDIA:TYPE=AUDIOX")
    findings = [f for f in found(run(t.files, "")) if f[0] == "align.hls_dash"]
    assert findings == [
        ("align.hls_dash", MPD, "Representation aud (aud/init.mp4) has no HLS playlist")
    ]


def test_renditions_match_by_folder_across_encryption_sets() -> None:
    """HLS from cbcs/, DASH from cenc/: compared rendition by rendition, not file by file."""
    t = clean_title()
    files = dict(t.files)
    for k in list(files):
        if k.startswith(("v180/", "aud/")):
            files["cbcs/" + k] = files[k]
            files["cenc/" + k] = files.pop(k)
    for name in ("v180.m3u8", "aud.m3u8", "v180_iframes.m3u8"):
        files[name] = files[name].replace('URI="v180/', 'URI="cbcs/v180/')
        files[name] = files[name].replace('URI="aud/', 'URI="cbcs/aud/')
        files[name] = (
            files[name].replace("\nv180/", "\ncbcs/v180/").replace("\naud/", "\ncbcs/aud/")
        )
    files[MPD] = files[MPD].replace('"v180/', '"cenc/v180/').replace('"aud/', '"cenc/aud/')
    assert found(run(files, "")) == []
    assert _rendition_of("https://h/t/cbcs/v720/init.mp4") == "v720"
    assert _rendition_of("cbcs/v720/init.mp4") == "v720"
    assert _rendition_of("init.mp4") == "init.mp4"
    assert _rendition_of("a/b/") == "a"


# -- AV timing and channels run too --------------------------------------------------------------
def test_title_level_audio_checks_run() -> None:
    t = clean_title()
    t.edit(MASTER, 'CHANNELS="2"', 'CHANNELS="6"')
    assert found(run(t.files, MASTER)) == [
        ("hls.channels", MASTER, "aud.m3u8: CHANNELS=6, the stream has 2 channels")
    ]


# -- CLI ----------------------------------------------------------------------------------------
def test_main_text_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    t = clean_title()
    with serving(t.files):
        assert main([ROOT + MASTER, "--fast"]) == 0
    assert capsys.readouterr().out == f"{ROOT}{MASTER}: OK (segments not decoded)\n"
    t.edit(MASTER, "#EXT-X-INDEPENDENT-SEGMENTS\n", "")
    with serving(t.files):
        assert main([ROOT + MASTER, "--fast", "--stats"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("hls.independent_segments ")
    assert out[1].startswith("  v180             video  avc1.64001f       2 segs")
    assert out[-1] == f"{ROOT}{MASTER}: FAILED: 1 violation (segments not decoded)"


def test_main_json(capsys: pytest.CaptureFixture[str]) -> None:
    t = clean_title()
    with serving(t.files):
        assert main([ROOT + MPD, "--fast", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["manifests"] == [MPD] and data["decoded"] is False


def test_main_decodes_unless_fast(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    seen = []

    def fake(target, *, decode=True):
        seen.append((target, decode))
        return title_module.Report(target=target)

    monkeypatch.setattr(title_module, "validate", fake)
    assert main(["x"]) == 0 and main(["y", "--fast"]) == 0
    assert seen == [("x", True), ("y", False)]


# -- edges found by reading the mutants --------------------------------------------------------
def test_directory_with_one_manifest_is_valid() -> None:
    t = clean_title()
    del t.files[MASTER]
    assert found(run(t.files, "")) == []
    t = clean_title()
    del t.files[MPD]
    assert found(run(t.files, "")) == []


def test_zero_duration_segment_does_not_count_for_the_peak() -> None:
    t = clean_title()
    t.files["v180/2.m4s"] = fragment(180000, [0], [IDR_SIZE], video=True).data
    report = run(t.files, "v180.m3u8")
    s = report.stats["v180"]
    assert s.peak_bitrate == len(t.video[0].data) * 4 and s.duration == 2.0


def test_media_checks_continue_after_a_missing_segment() -> None:
    t = clean_title(segments=3)
    del t.files["v180/1.m4s"]
    t.files["v180/2.m4s"] = video_segment(2, sync_first=False).data
    assert found(run(t.files, "v180.m3u8")) == [
        ("file.missing", "v180/1.m4s", "HTTP 404 Not Found"),
        ("media.sync", "v180/2.m4s", "the first sample is not flagged as a sync sample"),
    ]


def test_tfdt_continuity_checked_after_a_missing_segment() -> None:
    t = clean_title(segments=3)
    del t.files["v180/1.m4s"]
    t.files["v180/3.m4s"] = fragment(
        2 * 180000 + 3600, [3600] * 50, [IDR_SIZE] + [P_SIZE] * 49, video=True
    ).data
    assert found(run(t.files, "v180.m3u8")) == [
        ("file.missing", "v180/1.m4s", "HTTP 404 Not Found"),
        ("media.tfdt", "v180/3.m4s", "tfdt 363600, the previous segment ends at 360000 (+0.040 s)"),
    ]


def test_audio_gap_inside_a_later_segment() -> None:
    t = clean_title()
    a = fragment(96000, [960] * 50, [AUDIO_SIZE] * 50, video=False)
    b = fragment(96000 + 48000 + 1, [960] * 50, [AUDIO_SIZE] * 50, video=False)
    t.files["aud/2.m4s"] = a.data + b.data
    findings = found(run(t.files, "aud.m3u8"))
    assert findings[0] == (
        "media.tfdt",
        "aud/2.m4s",
        f"moof at offset {len(a.data)}: tfdt 144001, previous fragment ends at 144000",
    )


def test_alignment_continues_after_a_missing_segment() -> None:
    t = clean_title()
    late = fragment(180000 + 9000, [3600] * 50, [IDR_SIZE] + [P_SIZE] * 49, video=True)
    _two_rungs(t, [b"", late.data])
    assert _align(found(run(t.files, MASTER))) == [
        (
            "align.rungs",
            "v144/2.m4s",
            "segment 2 of rung v144 starts at 2.100 s, of rung v180 at 2.000 s",
        )
    ]


def test_hls_vs_dash_reports_the_first_duration_difference_per_track() -> None:
    t = clean_title()
    t.edit("aud.m3u8", "#EXTINF:2.000000,", "#EXTINF:2.100000,", count=-1)
    t.edit("v180.m3u8", "#EXTINF:2.000000,", "#EXTINF:2.100000,", count=-1)
    findings = [f for f in found(run(t.files, "")) if f[0] == "align.hls_dash"]
    assert sorted(findings) == sorted(
        [
            (
                "align.hls_dash",
                "v180.m3u8",
                "HLS v180.m3u8 vs DASH Representation v180: segment 1 lasts 2.100000 s in HLS, "
                "2.000000 s in DASH",
            ),
            (
                "align.hls_dash",
                "aud.m3u8",
                "HLS aud.m3u8 vs DASH Representation aud: segment 1 lasts 2.100000 s in HLS, "
                "2.000000 s in DASH",
            ),
        ]
    )  # the order of the tracks is a set's


def test_hls_vs_dash_checks_every_track_after_a_count_mismatch() -> None:
    t = clean_title()
    t.edit(MPD, '<S t="0" d="180000" r="1"/>', '<S t="0" d="180000"/>')
    t.edit(MPD, '<S t="0" d="96000" r="1"/>', '<S t="0" d="96000"/>')
    findings = [f for f in found(run(t.files, "")) if f[0] == "align.hls_dash"]
    assert sorted(findings) == sorted(
        [
            (
                "align.hls_dash",
                "v180.m3u8",
                "HLS v180.m3u8 vs DASH Representation v180: 2 vs 1 segments",
            ),
            (
                "align.hls_dash",
                "aud.m3u8",
                "HLS aud.m3u8 vs DASH Representation aud: 2 vs 1 segments",
            ),
        ]
    )
