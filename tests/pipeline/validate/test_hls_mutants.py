"""HLS rules of the validator (pipeline/validate/hls.py), one rule at a time, on a tiny title
built in memory (tests/support/validate_bytes): each corruption must give exactly one finding
with its code, location and message, and the clean title none. Expected numbers come from
the title's constants (25 fps at 90 kHz, 2 s segments, byte counts of the built fragments)."""

from __future__ import annotations

import pytest

from pipeline.validate.hls import (
    HlsChecker,
    attributes,
    frame_seconds,
    nearest_int,
    pct,
    split_codecs,
    within,
)
from pipeline.validate.media import SegmentInfo
from tests.support.validate_bytes import (
    AVC_CODECS,
    ROOT,
    VTT,
    clean_title,
    found,
    rates,
    run,
    store,
)

MASTER = "master.m3u8"


def _hls(files, target: str = MASTER) -> list[tuple[str, str, str]]:
    return found(run(files, target))


def _bw(t) -> tuple[int, int]:
    vpeak, vavg = rates(t.video, 2.0)
    apeak, aavg = rates(t.audio, 2.0)
    return vpeak + apeak, vavg + aavg


# -- pure helpers ------------------------------------------------------------------------------
def test_attributes_unquote_values_and_keep_commas_inside_quotes() -> None:
    line = '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=10,CODECS="avc1.64001f,mp4a.40.2",URI="a b.m3u8"'
    assert attributes(line) == {
        "BANDWIDTH": "10",
        "CODECS": "avc1.64001f,mp4a.40.2",
        "URI": "a b.m3u8",
    }
    assert attributes("#EXT-X-FOO") == {}


def test_nearest_int_rounds_half_up() -> None:
    assert [nearest_int(x) for x in (2.4999, 2.5, 3.5, 1.0, 0.49)] == [2, 3, 4, 1, 0]


def test_split_codecs_trims_and_drops_empties() -> None:
    assert split_codecs(" avc1.64001f , ,mp4a.40.2,") == ["avc1.64001f", "mp4a.40.2"]
    assert split_codecs(None) == [] and split_codecs("") == []


def test_within_ten_percent_inclusive() -> None:
    assert within(110, 100) and within(90, 100) and within(100, 100)
    assert not within(111, 100) and not within(89, 100)
    assert within(0, 0) and within(-1, 0) and not within(1, 0)
    assert within(0, -5) and not within(1, -5)
    assert within(120, 100, tolerance=0.2) and not within(121, 100, tolerance=0.2)


def test_pct_is_signed_relative_difference() -> None:
    assert pct(150, 100) == "+50.0%"
    assert pct(75, 100) == "-25.0%"
    assert pct(100, 100) == "+0.0%"
    assert pct(5, 0) == "nothing measured" and pct(5, -1) == "nothing measured"


def _info(durations: dict[int, int]) -> SegmentInfo:
    from collections import Counter

    return SegmentInfo("u", 1, 0, 0, 0, 0, True, None, durations=Counter(durations))


def test_frame_seconds_is_the_most_common_duration_over_all_segments() -> None:
    infos = [_info({3600: 10, 1800: 12}), None, _info({3600: 5})]
    assert frame_seconds(infos, 90000) == pytest.approx(0.04)  # 15 x 3600 beats 12 x 1800
    assert frame_seconds([_info({1800: 12}), _info({3600: 11})], 90000) == pytest.approx(0.02)
    assert frame_seconds([None], 90000) == 0.0 and frame_seconds([], 90000) == 0.0


# -- the clean title ---------------------------------------------------------------------------
def test_clean_title_has_no_findings() -> None:
    t = clean_title()
    report = run(t.files, MASTER)
    assert found(report) == []
    assert report.manifests == [MASTER]
    assert set(report.stats) == {"v180", "aud"}


def test_parse_reads_the_master_structure() -> None:
    t = clean_title()
    media, sink = store(t.files)
    h = HlsChecker(ROOT + MASTER, media, sink)
    title = h.parse()
    assert sink.violations == []
    (v,) = title.variants
    assert v.playlist == ROOT + "v180.m3u8" and v.audio == "aac"
    assert v.codecs == f"{AVC_CODECS},mp4a.40.2" and v.resolution == (320, 180)
    assert v.frame_rate == 25.0 and (v.bandwidth, v.average_bandwidth) == _bw(t)
    assert title.audio_groups == {"aac": [ROOT + "aud.m3u8"]}
    assert title.audio_channels == {ROOT + "aud.m3u8": "2"}
    assert title.subtitles == [ROOT + "subs/eng.m3u8"]
    assert [i.playlist for i in title.iframes] == [ROOT + "v180_iframes.m3u8"]
    assert h.iframe_playlist_uris() == {ROOT + "v180_iframes.m3u8"}
    v180 = title.playlists[ROOT + "v180.m3u8"]
    assert v180.name == "v180" and v180.init == ROOT + "v180/init.mp4"
    assert [(s.uri, s.duration) for s in v180.segments] == [
        (ROOT + "v180/1.m4s", 2.0),
        (ROOT + "v180/2.m4s", 2.0),
    ]
    assert not v180.iframes_only
    ifr = title.playlists[ROOT + "v180_iframes.m3u8"]
    assert ifr.iframes_only and ifr.segments[0].byterange is not None
    # media playlists: audio/video with an init, not I-frame ones, in master order
    assert [p.name for p in title.media_playlists()] == ["v180", "aud"]
    assert ROOT + "subs/eng.m3u8" not in title.playlists


def test_each_playlist_is_read_once() -> None:
    t = clean_title()
    t.edit(MASTER, "v180.m3u8\n", "v180.m3u8\n" + t.files[MASTER].splitlines()[-2] + "\n")
    media, sink = store(t.files)
    HlsChecker(ROOT + MASTER, media, sink).parse()
    reads = media.fetcher.requested
    assert reads.count(ROOT + "v180.m3u8") == 1


# -- phase 1: playlists alone ------------------------------------------------------------------
def test_missing_master_is_reported_as_missing() -> None:
    t = clean_title()
    del t.files[MASTER]
    assert _hls(t.files) == [("file.missing", MASTER, "HTTP 404 Not Found")]


def test_empty_playlist() -> None:
    t = clean_title()
    t.files["aud.m3u8"] = " \n"
    report = found(run(t.files))
    assert ("file.empty", "aud.m3u8", "playlist is empty") in report
    assert not any(w == "aud.m3u8" and c != "file.empty" for c, w, _ in report)


def test_playlist_not_starting_with_extm3u() -> None:
    t = clean_title()
    t.files[MASTER] = "#EXT-X-VERSION:7\n" + t.files[MASTER]
    assert _hls(t.files) == [("hls.parse", MASTER, "does not start with #EXTM3U")]


def test_leading_whitespace_before_extm3u_is_accepted() -> None:
    t = clean_title()
    t.files[MASTER] = "\n  " + t.files[MASTER]
    assert _hls(t.files) == []


def test_master_without_independent_segments() -> None:
    t = clean_title()
    t.edit(MASTER, "#EXT-X-INDEPENDENT-SEGMENTS\n", "")
    assert _hls(t.files) == [("hls.independent_segments", MASTER, "no EXT-X-INDEPENDENT-SEGMENTS")]


def test_undefined_audio_group() -> None:
    t = clean_title()
    t.edit(MASTER, 'AUDIO="aac"', 'AUDIO="ac3"')
    assert _hls(t.files) == [
        (
            "hls.audio_group",
            MASTER,
            "variant v180.m3u8 names AUDIO group 'ac3', which is not defined",
        ),
        # without its audio group the variant is video only: CODECS and BANDWIDTH disagree
        (
            "hls.codecs",
            MASTER,
            f'variant v180.m3u8: CODECS="{AVC_CODECS},mp4a.40.2", the bitstream has "{AVC_CODECS}"',
        ),
        *_bandwidth_findings(t, *rates(t.video, 2.0)),
    ]


def _bandwidth_findings(t, peak: int, avg: int) -> list[tuple[str, str, str]]:
    bw, abw = _bw(t)
    out = []
    if not within(bw, peak):
        out.append(
            (
                "hls.bandwidth",
                MASTER,
                f"variant v180.m3u8: BANDWIDTH={bw}, measured peak {peak} b/s ({pct(bw, peak)})",
            )
        )
    if not within(abw, avg):
        out.append(
            (
                "hls.average_bandwidth",
                MASTER,
                f"variant v180.m3u8: AVERAGE-BANDWIDTH={abw}, measured average {avg} b/s "
                f"({pct(abw, avg)})",
            )
        )
    return out


def test_wvtt_in_variant_codecs() -> None:
    t = clean_title()
    t.edit(MASTER, ',mp4a.40.2"', ',mp4a.40.2,WVTT"')
    findings = _hls(t.files)
    assert findings[0] == (
        "hls.codecs",
        MASTER,
        "variant v180.m3u8: 'wvtt' in CODECS breaks Apple players",
    )


def test_audio_media_type_is_case_insensitive_and_uri_less_media_ignored() -> None:
    t = clean_title()
    t.edit(MASTER, "TYPE=AUDIO", "TYPE=audio")
    t.edit(
        MASTER,
        "#EXT-X-STREAM-INF",
        '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="cc",INSTREAM-ID="CC1"\n'
        "#EXT-X-STREAM-INF",
    )
    assert _hls(t.files) == []


def test_subtitle_type_is_case_insensitive() -> None:
    t = clean_title()
    t.edit(MASTER, "TYPE=SUBTITLES", "TYPE=subtitles")
    t.files["subs/eng.vtt"] = "not vtt"
    assert _hls(t.files) == [("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'")]


def test_playlist_the_parser_rejects() -> None:
    t = clean_title()
    t.edit(MASTER, ',URI="v180_iframes.m3u8"', "")
    assert _hls(t.files) == [("hls.parse", MASTER, "cannot parse: 'uri'")]


def test_iframe_stream_line_without_uri() -> None:
    """The m3u8 parser refuses such a line first; the rule holds for the raw text too."""
    import m3u8

    t = clean_title()
    good = t.files[MASTER]
    media, sink = store(t.files)
    h = HlsChecker(ROOT + MASTER, media, sink)
    h._master(m3u8.M3U8(good), good.replace(',URI="v180_iframes.m3u8"', ""))
    assert [(v.code, v.where, v.message) for v in sink.violations] == [
        ("hls.parse", MASTER, "EXT-X-I-FRAME-STREAM-INF without URI")
    ]
    assert h.title.iframes == []


def test_iframe_stream_with_forbidden_attributes() -> None:
    t = clean_title()
    t.edit(MASTER, 'RESOLUTION=320x180,URI="v180', 'FRAME-RATE=25,AUDIO="aac",URI="v180')
    assert _hls(t.files) == [
        ("hls.iframe_attrs", MASTER, "I-frame stream v180_iframes.m3u8 has FRAME-RATE, AUDIO")
    ]


def test_subtitles_not_webvtt_and_bom_accepted() -> None:
    t = clean_title()
    t.files["subs/eng.vtt"] = "1\n00:00:01,000 --> 00:00:02,000\nHi\n"
    assert _hls(t.files) == [("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'")]
    t.files["subs/eng.vtt"] = b"\xef\xbb\xbf" + VTT.encode()
    assert _hls(t.files) == []


def test_missing_subtitle_playlist_and_file() -> None:
    t = clean_title()
    del t.files["subs/eng.vtt"]
    assert _hls(t.files) == [("file.missing", "subs/eng.vtt", "HTTP 404 Not Found")]
    del t.files["subs/eng.m3u8"]
    assert _hls(t.files) == [("file.missing", "subs/eng.m3u8", "HTTP 404 Not Found")]


def test_subtitle_playlist_needs_no_map() -> None:
    t = clean_title()
    assert "#EXT-X-MAP" not in t.files["subs/eng.m3u8"]
    assert _hls(t.files) == []


def test_master_playlist_where_media_belongs() -> None:
    t = clean_title()
    t.files["aud.m3u8"] = t.files[MASTER]
    findings = _hls(t.files)
    assert findings[0] == (
        "hls.parse",
        "aud.m3u8",
        "a master playlist where a media playlist belongs",
    )


def test_media_playlist_without_map() -> None:
    t = clean_title()
    t.edit("aud.m3u8", '#EXT-X-MAP:URI="aud/init.mp4"\n', "")
    findings = _hls(t.files)
    assert findings[0] == ("hls.map", "aud.m3u8", "no EXT-X-MAP (fMP4 segments need one)")


@pytest.mark.parametrize(
    ("line", "shown"),
    [("#EXT-X-VERSION:5\n", "5"), ("", "absent (1)")],
)
def test_map_needs_version_6(line: str, shown: str) -> None:
    t = clean_title()
    t.edit("aud.m3u8", "#EXT-X-VERSION:7\n", line)
    assert _hls(t.files) == [
        ("hls.version", "aud.m3u8", f"EXT-X-VERSION is {shown}; EXT-X-MAP needs 6 or higher")
    ]


def test_version_6_is_enough_for_map() -> None:
    t = clean_title()
    t.edit("aud.m3u8", "#EXT-X-VERSION:7", "#EXT-X-VERSION:6")
    assert _hls(t.files) == []


def test_iframe_playlist_needs_version_5_only() -> None:
    t = clean_title()
    t.edit("v180_iframes.m3u8", "#EXT-X-VERSION:7", "#EXT-X-VERSION:5")
    assert _hls(t.files) == []
    t.edit("v180_iframes.m3u8", "#EXT-X-VERSION:5", "#EXT-X-VERSION:4")
    assert _hls(t.files) == [
        (
            "hls.version",
            "v180_iframes.m3u8",
            "EXT-X-VERSION is 4; EXT-X-MAP needs 5 or higher",
        )
    ]


def test_media_playlist_without_endlist() -> None:
    t = clean_title()
    t.edit("aud.m3u8", "#EXT-X-ENDLIST\n", "")
    assert _hls(t.files) == [
        ("hls.endlist", "aud.m3u8", "no EXT-X-ENDLIST (a VOD playlist must end)")
    ]


@pytest.mark.parametrize(
    ("line", "shown"),
    [("#EXT-X-PLAYLIST-TYPE:EVENT\n", "event"), ("", "absent")],
)
def test_media_playlist_type_not_vod(line: str, shown: str) -> None:
    t = clean_title()
    t.edit("aud.m3u8", "#EXT-X-PLAYLIST-TYPE:VOD\n", line)
    assert _hls(t.files) == [
        ("hls.playlist_type", "aud.m3u8", f"EXT-X-PLAYLIST-TYPE is {shown}, not VOD")
    ]


def test_subtitle_playlist_rules_apply_too() -> None:
    t = clean_title()
    t.edit("subs/eng.m3u8", "#EXT-X-ENDLIST\n", "")
    t.edit("subs/eng.m3u8", "#EXT-X-PLAYLIST-TYPE:VOD\n", "")
    assert _hls(t.files) == [
        ("hls.endlist", "subs/eng.m3u8", "no EXT-X-ENDLIST (a VOD playlist must end)"),
        ("hls.playlist_type", "subs/eng.m3u8", "EXT-X-PLAYLIST-TYPE is absent, not VOD"),
    ]


def test_media_playlist_without_target_duration() -> None:
    t = clean_title()
    t.edit("aud.m3u8", "#EXT-X-TARGETDURATION:2\n", "")
    assert _hls(t.files) == [("hls.target_duration", "aud.m3u8", "no EXT-X-TARGETDURATION")]


def test_extinf_rounding_above_target_duration() -> None:
    """2.5 rounds to 3 > 2; 2.49 rounds to 2 (the media mismatch is a separate rule)."""
    t = clean_title()
    t.edit("subs/eng.m3u8", "#EXT-X-TARGETDURATION:4", "#EXT-X-TARGETDURATION:3")
    t.edit("subs/eng.m3u8", "#EXTINF:4.000,", "#EXTINF:3.5,")
    assert _hls(t.files) == [
        (
            "hls.target_duration",
            "subs/eng.m3u8",
            "segment 1 (eng.vtt): EXTINF 3.5 rounds to 4 > EXT-X-TARGETDURATION 3",
        )
    ]
    t.edit("subs/eng.m3u8", "#EXTINF:3.5,", "#EXTINF:3.49,")
    assert _hls(t.files) == []


def test_media_playlist_without_segments() -> None:
    t = clean_title()
    t.files["subs/eng.m3u8"] = "\n".join(
        ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:4", "#EXT-X-PLAYLIST-TYPE:VOD"]
        + ["#EXT-X-ENDLIST", ""]
    )
    assert _hls(t.files) == [("hls.parse", "subs/eng.m3u8", "media playlist has no segments")]


def test_iframe_playlist_without_iframes_only_tag() -> None:
    t = clean_title()
    t.edit("v180_iframes.m3u8", "#EXT-X-I-FRAMES-ONLY\n", "")
    assert _hls(t.files) == [("hls.iframes_only", "v180_iframes.m3u8", "no EXT-X-I-FRAMES-ONLY")]


def test_lone_media_playlist_is_checked_alone() -> None:
    t = clean_title()
    report = run(t.files, "v180.m3u8")
    assert found(report) == [] and set(report.stats) == {"v180"}
    t.edit("v180.m3u8", "#EXT-X-ENDLIST\n", "")
    assert _hls(t.files, "v180.m3u8") == [
        ("hls.endlist", "v180.m3u8", "no EXT-X-ENDLIST (a VOD playlist must end)")
    ]


def test_lone_master_as_media_is_refused() -> None:
    t = clean_title()
    media, sink = store(t.files)
    h = HlsChecker(ROOT + "v180.m3u8", media, sink)
    title = h.parse()
    assert [v.playlist for v in title.variants] == [ROOT + "v180.m3u8"]
    assert title.variants[0].bandwidth is None and title.variants[0].codecs is None
    assert list(title.playlists) == [ROOT + "v180.m3u8"]


# -- phase 2: against the media -----------------------------------------------------------------
def test_extinf_off_by_more_than_a_frame() -> None:
    t = clean_title()
    t.edit("aud.m3u8", "#EXTINF:2.000000,", "#EXTINF:1.900000,")
    findings = _hls(t.files)
    assert findings[0] == (
        "hls.extinf",
        "aud.m3u8",
        "segment 1 (aud/1.m4s): EXTINF 1.900000 s, media 2.000000 s "
        "(off by -0.100 s, one frame is 0.020 s)",
    )
    assert len(findings) == 1


def test_extinf_off_by_exactly_one_frame_is_accepted() -> None:
    t = clean_title()
    t.edit("v180.m3u8", "#EXTINF:2.000000,", "#EXTINF:2.040000,")
    assert _hls(t.files) == []
    t.edit("v180.m3u8", "#EXTINF:2.040000,", "#EXTINF:2.041000,")
    assert _hls(t.files)[0] == (
        "hls.extinf",
        "v180.m3u8",
        "segment 1 (v180/1.m4s): EXTINF 2.041000 s, media 2.000000 s "
        "(off by +0.041 s, one frame is 0.040 s)",
    )


def test_extinf_second_segment_is_numbered_2() -> None:
    t = clean_title()
    t.files["v180.m3u8"] = t.files["v180.m3u8"][::-1].replace(
        ",000000.2:FNITXE#", ",000000.1:FNITXE#", 1
    )[::-1]
    assert _hls(t.files)[0] == (
        "hls.extinf",
        "v180.m3u8",
        "segment 2 (v180/2.m4s): EXTINF 1.000000 s, media 2.000000 s "
        "(off by -1.000 s, one frame is 0.040 s)",
    )


def test_variant_lacking_resolution_and_frame_rate() -> None:
    t = clean_title()
    t.edit(MASTER, "RESOLUTION=320x180,FRAME-RATE=25.000,", "")
    assert _hls(t.files) == [
        ("hls.variant_attrs", MASTER, "variant v180.m3u8 lacks RESOLUTION, FRAME-RATE")
    ]


def test_variant_lacking_codecs() -> None:
    t = clean_title()
    t.edit(MASTER, f'CODECS="{AVC_CODECS},mp4a.40.2",', "")
    assert _hls(t.files) == [("hls.variant_attrs", MASTER, "variant v180.m3u8 lacks CODECS")]


def test_audio_only_variant_needs_no_video_attributes() -> None:
    t = clean_title()
    bw, abw = rates(t.audio, 2.0)
    t.files[MASTER] = "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            f'#EXT-X-STREAM-INF:BANDWIDTH={bw},AVERAGE-BANDWIDTH={abw},CODECS="mp4a.40.2"',
            "aud.m3u8",
            "",
        ]
    )
    assert _hls(t.files) == []
