"""test_title_mutants.py, continued (split to keep modules under 500 lines)."""

from __future__ import annotations

import json

import pytest

from pipeline.validate import title as title_module
from pipeline.validate.title import _rendition_of, main
from tests.pipeline.validate.test_title_mutants import (
    MASTER,
    MPD,
    _align,
    _two_rungs,
)
from tests.support.validate_bytes import (
    AUDIO_SIZE,
    IDR_SIZE,
    P_SIZE,
    ROOT,
    clean_title,
    found,
    fragment,
    run,
    serving,
    video_segment,
)


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
