"""test_hls_mutants.py, continued (split to keep modules under 500 lines)."""

from __future__ import annotations

import pytest

from pipeline.validate.hls import (
    HlsChecker,
    pct,
    within,
)
from tests.pipeline.validate.test_hls_mutants import (
    MASTER,
    _bw,
    _hls,
)
from tests.pipeline.validate.test_hls_mutants_2 import (
    _ranges,
)
from tests.support.validate_bytes import (
    AVC_CODECS,
    ROOT,
    clean_title,
    store,
)


def test_within_and_pct_for_measurements_below_one() -> None:
    assert within(0.5, 0.5) and within(1, 1) and not within(2, 1)
    assert pct(1, 0.5) == "+100.0%" and pct(2, 1) == "+100.0%"


def test_extinf_checked_after_a_missing_segment() -> None:
    t = clean_title()
    del t.files["aud/1.m4s"]
    t.files["aud.m3u8"] = t.files["aud.m3u8"][::-1].replace(
        ",000000.2:FNITXE#", ",000000.1:FNITXE#", 1
    )[::-1]
    assert _hls(t.files) == [
        ("file.missing", "aud/1.m4s", "HTTP 404 Not Found"),
        (
            "hls.extinf",
            "aud.m3u8",
            "segment 2 (aud/2.m4s): EXTINF 1.000000 s, media 2.000000 s "
            "(off by -1.000 s, one frame is 0.020 s)",
        ),
    ]


def _iframe_entries(t, first: str) -> None:
    """Replace the first I-frame entry's range with `first`; the second stays correct."""
    t.edit("v180_iframes.m3u8", _ranges(t)[0], first)


def test_each_iframe_entry_is_checked_after_a_bad_one() -> None:
    t = clean_title()
    v2 = t.video[1]
    n2 = v2.moof_size + 8 + v2.first_size
    t.edit("v180_iframes.m3u8", f"{n2}@0\nv180/2", f"{n2 - 1}@0\nv180/2")
    bad2 = (
        "hls.iframe_range",
        "v180_iframes.m3u8",
        f"I-frame 2 (v180/2.m4s {n2 - 1}@0): range ends at byte {n2 - 1}, "
        f"the key frame ends at {n2}",
    )
    for first, finding in [
        (
            "#EXT-X-BYTERANGE:1x@0",
            ("hls.parse", "I-frame 1 (v180/1.m4s 1x@0): bad EXT-X-BYTERANGE"),
        ),
        (
            "#EXT-X-BYTERANGE:10",
            (
                "hls.iframe_range",
                "I-frame 1 (v180/1.m4s 10): byte range without offset and no previous range",
            ),
        ),
        (
            "#EXT-X-BYTERANGE:10@8",
            (
                "hls.iframe_range",
                "I-frame 1 (v180/1.m4s 10@8): offset 8 is not the start of a moof",
            ),
        ),
    ]:
        u = clean_title()
        u.files["v180_iframes.m3u8"] = t.files["v180_iframes.m3u8"]
        _iframe_entries(u, first)
        assert _hls(u.files) == [(finding[0], "v180_iframes.m3u8", finding[1]), bad2]
    u = clean_title()
    u.files["v180_iframes.m3u8"] = t.files["v180_iframes.m3u8"]
    u.edit("v180_iframes.m3u8", _ranges(t)[0] + "\n", "")
    assert _hls(u.files) == [
        ("hls.iframe_range", "v180_iframes.m3u8", "I-frame 1 (v180/1.m4s ): no EXT-X-BYTERANGE"),
        bad2,
    ]
    u = clean_title()
    u.files["v180_iframes.m3u8"] = t.files["v180_iframes.m3u8"]
    del u.files["v180/1.m4s"]
    assert _hls(u.files) == [("file.missing", "v180/1.m4s", "HTTP 404 Not Found"), bad2]


def test_variant_without_bandwidth(monkeypatch: pytest.MonkeyPatch) -> None:
    """The m3u8 parser refuses a variant without BANDWIDTH; the rule still holds."""
    t = clean_title()
    bw, _ = _bw(t)
    t.edit(MASTER, f"#EXT-X-STREAM-INF:BANDWIDTH={bw},", "#EXT-X-STREAM-INF:")
    assert _hls(t.files) == [("hls.parse", MASTER, "cannot parse: 'bandwidth'")]
    parse = HlsChecker.parse

    def without_bandwidth(self):
        title = parse(self)
        for v in title.variants:
            v.bandwidth = None
        return title

    monkeypatch.setattr(HlsChecker, "parse", without_bandwidth)
    assert _hls(clean_title().files) == [
        ("hls.bandwidth", MASTER, "variant v180.m3u8 has no BANDWIDTH")
    ]


def test_audio_group_without_group_id() -> None:
    """An EXT-X-MEDIA without GROUP-ID is the group "" (which a variant without AUDIO names)."""
    t = clean_title()
    t.edit(MASTER, 'GROUP-ID="aac",', "")
    t.edit(MASTER, 'AUDIO="aac",', "")
    assert _hls(t.files) == []


def _broken_init(t, name: str) -> None:
    t.files[name] = b"\0\0\0\x08free"


def test_video_variant_recognised_without_its_init() -> None:
    """The init segment does not parse: RESOLUTION or a video CODECS still make it video."""
    t = clean_title()
    _broken_init(t, "v180/init.mp4")
    t.edit(MASTER, ",FRAME-RATE=25.000", "")
    init = ("media.init", "v180/init.mp4", "no 'moov' box (not an initialisation segment)")
    lacks = ("hls.variant_attrs", MASTER, "variant v180.m3u8 lacks FRAME-RATE")
    assert _hls(t.files) == [init, lacks]
    t.edit(MASTER, "RESOLUTION=320x180,", "")
    assert _hls(t.files) == [
        init,
        ("hls.variant_attrs", MASTER, "variant v180.m3u8 lacks RESOLUTION, FRAME-RATE"),
    ]
    t.edit(MASTER, f'CODECS="{AVC_CODECS},', 'CODECS="AVC1.64001F,')
    assert _hls(t.files) == [
        init,
        ("hls.variant_attrs", MASTER, "variant v180.m3u8 lacks RESOLUTION, FRAME-RATE"),
    ]
    t.edit(MASTER, 'CODECS="AVC1.64001F,', 'CODECS="')
    assert _hls(t.files) == [init]  # neither RESOLUTION nor a video codec: not video


def test_video_track_decides_over_the_attributes() -> None:
    t = clean_title()
    t.edit(MASTER, f'CODECS="{AVC_CODECS},mp4a.40.2",RESOLUTION=320x180,FRAME-RATE=25.000,', "")
    assert _hls(t.files) == [
        ("hls.variant_attrs", MASTER, "variant v180.m3u8 lacks CODECS, RESOLUTION, FRAME-RATE")
    ]


def test_variant_whose_playlist_is_missing_or_has_no_map() -> None:
    t = clean_title()
    del t.files["v180.m3u8"]
    t.edit("aud.m3u8", "#EXT-X-ENDLIST\n", "")
    assert _hls(t.files) == [
        ("file.missing", "v180.m3u8", "HTTP 404 Not Found"),
        ("hls.endlist", "aud.m3u8", "no EXT-X-ENDLIST (a VOD playlist must end)"),
    ]
    t = clean_title()
    t.edit("v180.m3u8", '#EXT-X-MAP:URI="v180/init.mp4"\n', "")
    assert _hls(t.files) == [("hls.map", "v180.m3u8", "no EXT-X-MAP (fMP4 segments need one)")]


def test_audio_init_that_does_not_parse() -> None:
    t = clean_title()
    _broken_init(t, "aud/init.mp4")
    assert _hls(t.files) == [
        ("media.init", "aud/init.mp4", "no 'moov' box (not an initialisation segment)"),
        (
            "hls.codecs",
            MASTER,
            f'variant v180.m3u8: CODECS="{AVC_CODECS},mp4a.40.2", the bitstream has "{AVC_CODECS}"',
        ),
    ]


def test_subtitle_file_read_once_and_only_a_leading_bom_skipped() -> None:
    t = clean_title()
    t.edit("subs/eng.m3u8", "#EXTINF:4.000,\neng.vtt\n", "#EXTINF:2.000,\neng.vtt\n" * 2)
    media, sink = store(t.files)
    HlsChecker(ROOT + MASTER, media, sink).parse()
    assert media.fetcher.requested.count(ROOT + "subs/eng.vtt") == 1 and sink.violations == []
    t.files["subs/eng.vtt"] = "XXWEBVTT\n"
    assert _hls(t.files) == [("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'")]


def test_media_without_uri_before_the_audio_is_skipped() -> None:
    t = clean_title()
    t.edit(
        MASTER,
        "#EXT-X-MEDIA:TYPE=AUDIO",
        '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="cc",INSTREAM-ID="CC1"\n'
        "#EXT-X-MEDIA:TYPE=AUDIO",
    )
    assert _hls(t.files) == []


def test_iframe_line_without_uri_before_a_good_one() -> None:
    import m3u8

    t = clean_title()
    good = t.files[MASTER]
    line = next(ln for ln in good.splitlines() if ln.startswith("#EXT-X-I-FRAME"))
    text = good.replace(line, line.replace(',URI="v180_iframes.m3u8"', "") + "\n" + line)
    media, sink = store(t.files)
    h = HlsChecker(ROOT + MASTER, media, sink)
    h._master(m3u8.M3U8(good), text)
    assert [i.playlist for i in h.title.iframes] == [ROOT + "v180_iframes.m3u8"]


def test_duplicate_variant_does_not_stop_the_others() -> None:
    t = clean_title()
    variant = next(ln for ln in t.files[MASTER].splitlines() if ln.startswith("#EXT-X-STREAM"))
    t.edit(MASTER, "v180.m3u8\n", f"v180.m3u8\n{variant}\nv180.m3u8\n")
    t.edit("aud.m3u8", "#EXT-X-ENDLIST\n", "")
    assert ("hls.endlist", "aud.m3u8", "no EXT-X-ENDLIST (a VOD playlist must end)") in _hls(
        t.files
    )


def test_missing_subtitle_playlist_does_not_stop_the_next() -> None:
    t = clean_title()
    t.edit(
        MASTER,
        "#EXT-X-STREAM-INF",
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Deutsch",LANGUAGE="de",'
        'URI="subs/deu.m3u8"\n#EXT-X-STREAM-INF',
    )
    t.edit(MASTER, 'URI="subs/eng.m3u8"', 'URI="subs/fra.m3u8"')
    t.files["subs/deu.m3u8"] = t.files["subs/eng.m3u8"]
    t.files["subs/eng.vtt"] = "no"
    assert _hls(t.files) == [
        ("file.missing", "subs/fra.m3u8", "HTTP 404 Not Found"),
        ("media.vtt", "subs/eng.vtt", "does not start with 'WEBVTT'"),
    ]


def test_zero_extinf_is_zero_seconds() -> None:
    t = clean_title()
    t.edit("subs/eng.m3u8", "#EXTINF:4.000,", "#EXTINF:0,")
    media, sink = store(t.files)
    h = HlsChecker(ROOT + "subs/eng.m3u8", media, sink)
    assert h.parse().playlists[ROOT + "subs/eng.m3u8"].segments[0].duration == 0.0


def test_missing_iframe_playlist() -> None:
    t = clean_title()
    del t.files["v180_iframes.m3u8"]
    assert _hls(t.files) == [("file.missing", "v180_iframes.m3u8", "HTTP 404 Not Found")]


def test_extinf_off_by_exactly_one_frame_plus_the_epsilon_is_accepted() -> None:
    """One 0.04 s frame in the segment, EXTINF 0.080001: off by exactly frame + 1e-6
    (exact in binary floating point here), which the rule still accepts."""
    from tests.support.validate_bytes import media_playlist, video_segment

    t = clean_title()
    t.files["v180/1.m4s"] = video_segment(1, frames=1).data
    t.files["v180.m3u8"] = media_playlist("v180", 1, extinf="0.080001")
    assert abs(0.080001 - 0.04) == 0.04 + 1e-6
    assert _hls(t.files, "v180.m3u8") == []


def test_lone_playlists_get_the_media_playlist_rules() -> None:
    t = clean_title()
    assert _hls(t.files, "v180_iframes.m3u8") == []
    t.edit("v180.m3u8", '#EXT-X-MAP:URI="v180/init.mp4"\n', "")
    assert _hls(t.files, "v180.m3u8") == [
        ("hls.map", "v180.m3u8", "no EXT-X-MAP (fMP4 segments need one)")
    ]
