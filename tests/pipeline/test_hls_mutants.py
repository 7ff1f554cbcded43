"""HLS writer edges that mutation testing (scripts/mutation.sh pipeline/manifest/hls.py) found
untested: the exact text of every playlist kind (blank lines, header order, I-frame tag
position, media sequence), bit rates measured from the segments when the packager left them
at 0, audio group naming per channel layout, DEFAULT per group, quoting, and exact refusals.

Every expected number is worked out by hand: 2 s segments of 250 000 bytes are 1 Mbit/s."""

from __future__ import annotations

import pytest

from core.errors import PackageError
from pipeline.manifest.hls import (
    iframe_playlist,
    master_playlist,
    media_playlist,
    subtitle_playlist,
    write_hls,
)
from pipeline.media.presentation import KeyFrame, Presentation, Segment, Track


def _segs(tid: str, size: int, n: int = 2) -> list[Segment]:
    return [
        Segment(uri=f"{tid}/{i}.m4s", number=i, start=(i - 1) * 2000, duration=2000, size=size)
        for i in range(1, n + 1)
    ]


def _video(**kw: object) -> Track:
    fields: dict = {
        "id": "v", "kind": "video", "codecs": "avc1.64001f", "timescale": 1000,
        "init_uri": "v/init.mp4", "segments": _segs("v", 250_000), "width": 1280,
        "height": 720, "frame_rate": "25",
        "key_frames": [
            KeyFrame(segment_number=i, offset=0, length=50_000, start=(i - 1) * 2000,
                     duration=2000)
            for i in (1, 2)
        ],
    }  # fmt: skip
    return Track(**(fields | kw))


def _audio(tid: str = "a", codecs: str = "mp4a.40.2", lang: str = "en", **kw: object) -> Track:
    fields: dict = {
        "id": tid, "kind": "audio", "codecs": codecs, "timescale": 1000,
        "init_uri": f"{tid}/init.mp4", "segments": _segs(tid, 25_000), "channels": 2,
        "language": lang,
    }  # fmt: skip
    return Track(**(fields | kw))


def _text() -> Track:
    return Track(id="t", kind="text", codecs="wvtt", language="fr", uri="subs/fr.vtt")


HEADER = "#EXTM3U\n#EXT-X-VERSION:7\n"
MEDIA_HEAD = "#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n"


def test_every_playlist_text_exactly() -> None:
    """Bit rates measured from the segments (bandwidth 0), title duration from the tracks
    (duration 0), the text track listed first, a NAME with a quote, CR and LF."""
    audio = _audio(name='Eng "main"\r\nmix')
    out = write_hls(Presentation(title_id="x", duration=0.0, tracks=[_text(), _video(), audio]))
    assert set(out) == {"master.m3u8", "t.m3u8", "v.m3u8", "v_iframes.m3u8", "a.m3u8"}
    assert out["master.m3u8"] == (
        HEADER + "#EXT-X-INDEPENDENT-SEGMENTS\n\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="en",NAME="Eng \'main\'  mix",'
        'DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="a.m3u8"\n\n'
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="fr",NAME="fr",DEFAULT=NO,'
        'AUTOSELECT=YES,URI="t.m3u8"\n\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=1100000,AVERAGE-BANDWIDTH=1100000,"
        'CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=25.000,AUDIO="aac",'
        'SUBTITLES="subs",CLOSED-CAPTIONS=NONE\nv.m3u8\n\n'
        "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=200000,AVERAGE-BANDWIDTH=200000,"
        'CODECS="avc1.64001f",RESOLUTION=1280x720,URI="v_iframes.m3u8"\n'
    )
    assert out["t.m3u8"] == (
        HEADER + "#EXT-X-TARGETDURATION:4\n" + MEDIA_HEAD
        + "#EXTINF:4.000000,\nsubs/fr.vtt\n#EXT-X-ENDLIST\n"
    )  # fmt: skip
    for tid in ("v", "a"):
        assert out[f"{tid}.m3u8"] == (
            HEADER + "#EXT-X-TARGETDURATION:2\n" + MEDIA_HEAD
            + f'#EXT-X-MAP:URI="{tid}/init.mp4"\n'
            + f"#EXTINF:2.000000,\n{tid}/1.m4s\n#EXTINF:2.000000,\n{tid}/2.m4s\n#EXT-X-ENDLIST\n"
        )  # fmt: skip
    assert out["v_iframes.m3u8"] == (
        HEADER + "#EXT-X-I-FRAMES-ONLY\n#EXT-X-TARGETDURATION:2\n" + MEDIA_HEAD
        + '#EXT-X-MAP:URI="v/init.mp4"\n'
        + "#EXTINF:2.000000,\n#EXT-X-BYTERANGE:50000@0\nv/1.m4s\n"
        + "#EXTINF:2.000000,\n#EXT-X-BYTERANGE:50000@0\nv/2.m4s\n#EXT-X-ENDLIST\n"
    )  # fmt: skip


def test_video_only_variant_counts_no_audio() -> None:
    text = master_playlist(Presentation(title_id="x", duration=4.0, tracks=[_video()]))
    assert (
        "#EXT-X-STREAM-INF:BANDWIDTH=1000000,AVERAGE-BANDWIDTH=1000000,"
        'CODECS="avc1.64001f",RESOLUTION=1280x720,FRAME-RATE=25.000,CLOSED-CAPTIONS=NONE\n'
        "v.m3u8\n"
    ) in text


def test_video_without_key_frames_has_no_iframe_playlist() -> None:
    out = write_hls(Presentation(title_id="x", duration=4.0, tracks=[_video(key_frames=[])]))
    assert set(out) == {"master.m3u8", "v.m3u8"}
    assert "I-FRAME" not in out["master.m3u8"]


def test_audio_only_title_lists_no_groups_and_keeps_equal_peaks_in_order() -> None:
    """Two renditions of the same peak: listed in track order, not by their text."""
    heavy = _audio("a1", bandwidth=300_000, average_bandwidth=200_000)
    light = _audio("a2", lang="fr", bandwidth=300_000, average_bandwidth=100_000)
    text = master_playlist(Presentation(title_id="x", duration=4.0, tracks=[heavy, light]))
    assert text == (
        HEADER + "#EXT-X-INDEPENDENT-SEGMENTS\n\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=300000,AVERAGE-BANDWIDTH=200000,CODECS="mp4a.40.2"\n'
        "a1.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=300000,AVERAGE-BANDWIDTH=100000,CODECS="mp4a.40.2"\n'
        "a2.m3u8\n"
    )


def _media(text: str) -> dict[str, str]:
    """URI -> the #EXT-X-MEDIA line, for the audio renditions of a master."""
    return {
        line.split('URI="')[1].rstrip('"'): line
        for line in text.splitlines()
        if line.startswith("#EXT-X-MEDIA:TYPE=AUDIO")
    }


def test_group_per_layout_when_a_family_has_several() -> None:
    tracks = [
        _video(),
        _audio("st", channels=None),  # no channel count: counted as stereo
        _audio("s51", channels=6),
        _audio("atmos", codecs="ec-3", channels=6, joc=True),
        _audio("e51", codecs="ec-3", channels=6),
    ]
    media = _media(master_playlist(Presentation(title_id="x", duration=4.0, tracks=tracks)))
    groups = {uri: line.split('GROUP-ID="')[1].split('"')[0] for uri, line in media.items()}
    assert groups == {
        "st.m3u8": "aac-2ch",
        "s51.m3u8": "aac-6ch",
        "atmos.m3u8": "ec-3-6ch-joc",
        "e51.m3u8": "ec-3-6ch",
    }
    assert 'CHANNELS="16/JOC"' in media["atmos.m3u8"]
    assert 'CHANNELS="6"' in media["e51.m3u8"]
    assert "CHANNELS" not in media["st.m3u8"]


def test_one_default_per_group_follows_the_title_default() -> None:
    tracks = [
        _video(),
        _audio("aac_de", lang="de"),
        _audio("aac_en", lang="en", default=True),  # the title default, second in its group
        _audio("ec3_fr", codecs="ec-3", lang="fr"),
        _audio("ec3_en", codecs="ec-3", lang="en"),  # the title default's language
        _audio("ac3_de", codecs="ac-3", lang="de"),  # neither: the first of the group
    ]
    media = _media(master_playlist(Presentation(title_id="x", duration=4.0, tracks=tracks)))
    defaults = {uri: line.split("DEFAULT=")[1].split(",")[0] for uri, line in media.items()}
    assert defaults == {
        "aac_de.m3u8": "NO",
        "aac_en.m3u8": "YES",
        "ec3_fr.m3u8": "NO",
        "ec3_en.m3u8": "YES",
        "ac3_de.m3u8": "YES",
    }


def test_first_rendition_is_default_without_a_flagged_one() -> None:
    tracks = [_video(), _audio("a1", lang="de"), _audio("a2", lang="fr")]
    media = _media(master_playlist(Presentation(title_id="x", duration=4.0, tracks=tracks)))
    assert "DEFAULT=YES" in media["a1.m3u8"] and "DEFAULT=NO" in media["a2.m3u8"]


def test_names_numbered_from_two() -> None:
    tracks = [_video(), *(_audio(f"a{i}", name="Main") for i in range(3))]
    media = _media(master_playlist(Presentation(title_id="x", duration=4.0, tracks=tracks)))
    names = [line.split('NAME="')[1].split('"')[0] for line in media.values()]
    assert names == ["Main", "Main (2)", "Main (3)"]


def _refusal(exc: pytest.ExceptionInfo[PackageError]) -> str:
    return str(exc.value)


def test_exact_refusals() -> None:
    with pytest.raises(PackageError) as exc:
        master_playlist(Presentation(title_id="x", duration=1.0, tracks=[_text()]))
    assert _refusal(exc) == "[package] x/master.m3u8: no audio or video track to describe"
    with pytest.raises(PackageError) as exc:
        master_playlist(
            Presentation(title_id="x", duration=1.0, tracks=[_video(width=None, frame_rate="")])
        )
    assert _refusal(exc) == "[package] x/master.m3u8: video track v lacks width, frame_rate"
    with pytest.raises(PackageError) as exc:
        media_playlist(_audio(init_uri=None))
    assert _refusal(exc) == "[package] a: audio track has no segments or init segment"
    with pytest.raises(PackageError) as exc:
        iframe_playlist(_video(init_uri=None))  # key frames, but no init segment
    assert _refusal(exc) == "[package] v: video track has no key frames or init segment"
    bad = _video()
    bad.key_frames[1].segment_number = 9
    with pytest.raises(PackageError) as exc:
        iframe_playlist(bad)
    assert _refusal(exc) == "[package] v: key frame points at missing segment 9"
    with pytest.raises(PackageError) as exc:
        subtitle_playlist(Track(id="t", kind="text", codecs="wvtt"), 4.0)
    assert _refusal(exc) == "[package] t: text track has no WebVTT file"
