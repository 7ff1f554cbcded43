"""HLS writer: everything is checked by parsing the output with the independent `m3u8` library."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

import m3u8
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import PackageError
from pipeline.manifest.common import peak_bitrate
from pipeline.manifest.hls import iframe_playlist, master_playlist, media_playlist, write_hls
from pipeline.media.presentation import KeyFrame, Presentation, Segment, Track
from tests.support.presentations import (
    AUDIO_RATE,
    audio_bounds,
    audio_track,
    frame_bounds,
    segments,
    text_track,
    video_track,
)

VIDEO_TS = 30000  # 29.97 fps: 1001 ticks per frame
SEG_FRAMES = 180  # 6.006 s segments, an IDR every 60 frames (2.002 s)
FRAMES = SEG_FRAMES * 10 + 60  # ten full segments and a short last one: 62.062 s


VIDEO_BOUNDS = frame_bounds(FRAMES, SEG_FRAMES, 1001)


def _bytes(kbps: int, ticks: int, timescale: int = VIDEO_TS) -> int:
    return kbps * 125 * ticks // timescale


def _key_frames(segs: list[Segment], kbps: int) -> list[KeyFrame]:
    """An IDR every 60 frames; each I-frame chunk covers an eighth of the segment's media."""
    kfs = []
    for s in segs:
        count = s.duration // 1001
        size = _bytes(kbps, s.duration)
        kfs += [
            KeyFrame(
                segment_number=s.number,
                offset=0 if k == 0 else size * k // count,
                length=size // 8 + k,
                start=s.start + k * 1001,
                duration=min(60, count - k) * 1001,
            )
            for k in range(0, count, 60)
        ]
    return kfs


def _video(tid: str, w: int, h: int, codecs: str, kbps: int) -> Track:
    segs = segments(tid, VIDEO_BOUNDS, lambda n, ticks: _bytes(kbps, ticks) + (n % 3) * 1000)
    kfs = _key_frames(segs, kbps)
    return video_track(
        tid, w, h, codecs, VIDEO_TS, "30000/1001", segs, key_frames=kfs,
        bandwidth=kbps * 1100, average_bandwidth=kbps * 1000,
    )  # fmt: skip


def _audio(tid: str, codecs: str, lang: str, channels: int, kbps: int, frame: int, **kw) -> Track:
    bounds = audio_bounds(VIDEO_BOUNDS, VIDEO_TS, frame)
    segs = segments(tid, bounds, lambda n, ticks: _bytes(kbps, ticks, AUDIO_RATE))
    rates = {"bandwidth": kbps * 1050, "average_bandwidth": kbps * 1000}
    return audio_track(tid, codecs, lang, channels, segs, **rates, **kw)


def make_presentation() -> Presentation:
    return Presentation(
        title_id="title1",
        duration=FRAMES * 1001 / VIDEO_TS,
        tracks=[
            _video("v1080", 1920, 1080, "avc1.640028", 6000),
            _video("v360", 640, 360, "avc1.64001e", 800),
            _video("v720", 1280, 720, "avc1.64001f", 3000),
            _audio("a_en", "mp4a.40.2", "en", 2, 128, 1024, name="English", default=True),
            _audio("a_fr", "mp4a.40.2", "fr", 2, 128, 1024, name="Français"),
            _audio("a_en51", "ec-3", "en", 6, 384, 1536, name="English 5.1"),
            text_track("t_en", "en"),
        ],
    )


@pytest.fixture
def pres() -> Presentation:
    return make_presentation()


@pytest.fixture
def out(pres: Presentation) -> dict[str, str]:
    return write_hls(pres)


def _track(p: Presentation, tid: str) -> Track:
    return next(t for t in p.tracks if t.id == tid)


def _round(d: float) -> int:
    return int(Decimal(repr(d)).to_integral_value(rounding=ROUND_HALF_UP))


# --- master -------------------------------------------------------------------------------


def test_files_written(out):
    assert set(out) == {
        "master.m3u8",
        *(f"{t}.m3u8" for t in ("v360", "v720", "v1080", "a_en", "a_fr", "a_en51", "t_en")),
        *(f"{t}_iframes.m3u8" for t in ("v360", "v720", "v1080")),
    }


def test_master_header(out):
    text = out["master.m3u8"]
    master = m3u8.loads(text)
    assert master.is_variant
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:7\n")
    assert master.is_independent_segments


def test_every_video_rung_once_per_audio_group(pres, out):
    master = m3u8.loads(out["master.m3u8"])
    seen = sorted((v.uri, v.stream_info.audio) for v in master.playlists)
    assert seen == sorted(
        (f"{v}.m3u8", g) for v in ("v360", "v720", "v1080") for g in ("aac", "ec-3")
    )


def test_variant_attributes(pres, out):
    master = m3u8.loads(out["master.m3u8"])
    audio_peak = {"aac": 128 * 1050, "ec-3": 384 * 1050}
    audio_avg = {"aac": 128 * 1000, "ec-3": 384 * 1000}
    codec = {"aac": "mp4a.40.2", "ec-3": "ec-3"}
    for v in master.playlists:
        track = _track(pres, v.uri.removesuffix(".m3u8"))
        info = v.stream_info
        assert info.bandwidth == track.bandwidth + audio_peak[info.audio]
        assert info.average_bandwidth == track.average_bandwidth + audio_avg[info.audio]
        assert info.codecs == f"{track.codecs},{codec[info.audio]}"
        assert info.resolution == (track.width, track.height)
        assert info.frame_rate == pytest.approx(29.97)
        assert info.subtitles == "subs"
    assert re.search(r"FRAME-RATE=29\.970[,\n]", out["master.m3u8"])


def _audio_rated(tid: str, codecs: str, lang: str, channels: int, peak: int, avg: int) -> Track:
    """An audio rendition with declared (peak, average) bitrates, independent of each other."""
    frame = 1536 if codecs == "ec-3" else 1024
    bounds = audio_bounds(VIDEO_BOUNDS, VIDEO_TS, frame)
    segs = segments(tid, bounds, lambda n, ticks: _bytes(avg // 1000, ticks, AUDIO_RATE))
    return audio_track(
        tid, codecs, lang, channels, segs, bandwidth=peak, average_bandwidth=avg, name=tid
    )


def test_variant_bandwidth_counts_the_heaviest_audio_rendition():
    """RFC 8216bis 4.4.6.2: BANDWIDTH / AVERAGE-BANDWIDTH cover the video plus the heaviest
    rendition of its AUDIO group, per attribute. The heaviest rendition is neither the first
    nor the last of its group, and in "aac" the peak-heaviest is not the average-heaviest."""
    pres = Presentation(
        title_id="uneven",
        duration=FRAMES * 1001 / VIDEO_TS,
        tracks=[
            _video("v360", 640, 360, "avc1.64001e", 800),  # 880000 / 800000
            _video("v720", 1280, 720, "avc1.64001f", 3000),  # 3300000 / 3000000
            _audio_rated("a_en", "mp4a.40.2", "en", 2, 70_000, 64_000),
            _audio_rated("a_de", "mp4a.40.2", "de", 2, 210_000, 128_000),  # heaviest peak
            _audio_rated("a_fr", "mp4a.40.2", "fr", 2, 190_000, 150_000),  # heaviest average
            _audio_rated("a_es", "mp4a.40.2", "es", 2, 100_000, 96_000),
            _audio_rated("a_en51", "ec-3", "en", 6, 400_000, 384_000),
            _audio_rated("a_fr51", "ec-3", "fr", 6, 660_000, 640_000),  # heaviest of ec-3
            _audio_rated("a_de51", "ec-3", "de", 6, 260_000, 256_000),
        ],
    )
    master = m3u8.loads(master_playlist(pres))
    got = {
        (v.uri, v.stream_info.audio): (v.stream_info.bandwidth, v.stream_info.average_bandwidth)
        for v in master.playlists
    }
    assert got == {
        ("v360.m3u8", "aac"): (880_000 + 210_000, 800_000 + 150_000),
        ("v360.m3u8", "ec-3"): (880_000 + 660_000, 800_000 + 640_000),
        ("v720.m3u8", "aac"): (3_300_000 + 210_000, 3_000_000 + 150_000),
        ("v720.m3u8", "ec-3"): (3_300_000 + 660_000, 3_000_000 + 640_000),
    }


def test_variants_sorted_by_bandwidth(out):
    master = m3u8.loads(out["master.m3u8"])
    bws = [v.stream_info.bandwidth for v in master.playlists]
    assert bws == sorted(bws)


def test_audio_media_groups(out):
    master = m3u8.loads(out["master.m3u8"])
    audio = [m for m in master.media if m.type == "AUDIO"]
    by_uri = {m.uri: m for m in audio}
    assert set(by_uri) == {"a_en.m3u8", "a_fr.m3u8", "a_en51.m3u8"}
    assert (by_uri["a_en.m3u8"].group_id, by_uri["a_en.m3u8"].channels) == ("aac", "2")
    assert by_uri["a_fr.m3u8"].group_id == "aac"
    assert (by_uri["a_en51.m3u8"].group_id, by_uri["a_en51.m3u8"].channels) == ("ec-3", "6")
    assert by_uri["a_fr.m3u8"].language == "fr"
    assert by_uri["a_fr.m3u8"].name == "Français"
    for group in ("aac", "ec-3"):
        defaults = [m for m in audio if m.group_id == group and m.default == "YES"]
        assert len(defaults) == 1
        assert defaults[0].language == "en"  # the title default's language in every group
    assert all(m.autoselect == "YES" for m in audio)


def test_subtitle_media_and_playlist(pres, out):
    master = m3u8.loads(out["master.m3u8"])
    (subs,) = [m for m in master.media if m.type == "SUBTITLES"]
    assert (subs.group_id, subs.language, subs.default, subs.uri) == (
        "subs",
        "en",
        "NO",
        "t_en.m3u8",
    )
    pl = m3u8.loads(out["t_en.m3u8"])
    assert [s.uri for s in pl.segments] == ["subs/en.vtt"]
    assert pl.segments[0].duration == pytest.approx(pres.duration, abs=1e-3)
    assert pl.is_endlist and pl.playlist_type == "vod"
    assert "wvtt" not in out["master.m3u8"]  # a wvtt CODECS entry breaks Apple players


def test_no_subtitles_attribute_without_text_tracks(pres):
    pres.tracks = [t for t in pres.tracks if t.kind != "text"]
    text = master_playlist(pres)
    assert "SUBTITLES" not in text
    assert m3u8.loads(text).playlists[0].stream_info.subtitles is None


def test_iframe_stream_inf(pres, out):
    master = m3u8.loads(out["master.m3u8"])
    assert {i.uri for i in master.iframe_playlists} == {
        "v360_iframes.m3u8",
        "v720_iframes.m3u8",
        "v1080_iframes.m3u8",
    }
    for i in master.iframe_playlists:
        track = _track(pres, i.uri.removesuffix("_iframes.m3u8"))
        info = i.iframe_stream_info
        assert info.codecs == track.codecs  # video only
        assert info.resolution == (track.width, track.height)
        chunks = [(k.length, k.duration / track.timescale) for k in track.key_frames]
        assert info.bandwidth >= sum(s for s, _ in chunks) * 8 / sum(d for _, d in chunks)
        assert info.bandwidth <= math.ceil(max(s * 8 / d for s, d in chunks))
    for line in out["master.m3u8"].splitlines():
        if line.startswith("#EXT-X-I-FRAME-STREAM-INF"):
            assert "FRAME-RATE" not in line and "AUDIO" not in line


def test_all_master_uris_are_written(out):
    master = m3u8.loads(out["master.m3u8"])
    uris = {v.uri for v in master.playlists} | {m.uri for m in master.media}
    uris |= {i.uri for i in master.iframe_playlists}
    assert uris <= set(out)


# --- media playlists ------------------------------------------------------------------------


@pytest.mark.parametrize("tid", ["v360", "v1080", "a_en", "a_en51"])
def test_media_playlist(pres, out, tid):
    track = _track(pres, tid)
    pl = m3u8.loads(out[f"{tid}.m3u8"])
    assert pl.version == 7
    assert pl.playlist_type == "vod" and pl.is_endlist
    assert pl.media_sequence == 1
    assert pl.is_independent_segments
    assert pl.segment_map[0].uri == f"{tid}/init.mp4"
    assert [s.uri for s in pl.segments] == [s.uri for s in track.segments]
    for got, seg in zip(pl.segments, track.segments, strict=True):
        assert got.duration == pytest.approx(seg.duration / track.timescale, abs=1e-6)
        assert _round(got.duration) <= pl.target_duration
    assert sum(s.duration for s in pl.segments) == pytest.approx(track.duration_seconds, abs=1e-5)


def test_extinf_has_six_decimals(out):
    infs = re.findall(r"#EXTINF:([^,]*),", out["v720.m3u8"])
    assert infs[0] == "6.006000"
    assert all(re.fullmatch(r"\d+\.\d{6}", i) for i in infs)


def test_target_duration_is_tight(out):
    # 6.006 s video segments: the ceiling is 7; audio segments are at most ~6.016 s.
    assert m3u8.loads(out["v720.m3u8"]).target_duration == 7
    assert m3u8.loads(out["a_en.m3u8"]).target_duration == 7


def test_iframe_playlist_byte_ranges(pres, out):
    track = _track(pres, "v720")
    pl = m3u8.loads(out["v720_iframes.m3u8"])
    assert pl.is_i_frames_only and pl.is_endlist and pl.playlist_type == "vod"
    assert pl.segment_map[0].uri == "v720/init.mp4"
    assert len(pl.segments) == len(track.key_frames)
    for got, kf in zip(pl.segments, track.key_frames, strict=True):
        assert got.byterange == f"{kf.length}@{kf.offset}"
        assert got.uri == f"v720/{kf.segment_number}.m4s"
        assert got.duration == pytest.approx(kf.duration / track.timescale, abs=1e-6)
        assert _round(got.duration) <= pl.target_duration
    assert pl.target_duration == 3  # 2.002 s between IDRs


# --- DRM hooks ------------------------------------------------------------------------------

KEY = (
    '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://kid1",'
    'KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"'
)
SESSION = KEY.replace("#EXT-X-KEY", "#EXT-X-SESSION-KEY")


def test_key_lines_go_before_the_map(pres):
    out = write_hls(pres, key_lines=[KEY], session_key_lines=[SESSION])
    for name in ("v720.m3u8", "a_en.m3u8", "v720_iframes.m3u8"):
        lines = out[name].splitlines()
        assert lines.index(KEY) < next(i for i, x in enumerate(lines) if x.startswith("#EXT-X-MAP"))
        pl = m3u8.loads(out[name])
        assert pl.keys[-1].method == "SAMPLE-AES" and pl.keys[-1].uri == "skd://kid1"
        assert pl.segments[0].key.keyformat == "com.apple.streamingkeydelivery"
    assert KEY not in out["t_en.m3u8"]
    master = m3u8.loads(out["master.m3u8"])
    assert [k.uri for k in master.session_keys] == ["skd://kid1"]
    lines = out["master.m3u8"].splitlines()
    assert lines.index(SESSION) < min(
        i for i, x in enumerate(lines) if x.startswith(("#EXT-X-MEDIA", "#EXT-X-STREAM-INF"))
    )


def test_key_lines_per_track(pres):
    def keys(t: Track) -> list[str]:
        return [KEY.replace("kid1", "audio" if t.kind == "audio" else "hd")]

    out = write_hls(pres, key_lines=keys)
    assert m3u8.loads(out["a_fr.m3u8"]).keys[-1].uri == "skd://audio"
    assert m3u8.loads(out["v1080.m3u8"]).keys[-1].uri == "skd://hd"
    assert "#EXT-X-KEY" not in write_hls(pres)["v1080.m3u8"]


# --- edge cases ---------------------------------------------------------------------------


def test_video_without_audio(pres):
    pres.tracks = [t for t in pres.tracks if t.kind == "video"]
    master = m3u8.loads(master_playlist(pres))
    assert len(master.playlists) == 3
    assert all(v.stream_info.audio is None for v in master.playlists)
    assert master.playlists[0].stream_info.codecs == "avc1.64001e"


def test_audio_only_title(pres):
    pres.tracks = [t for t in pres.tracks if t.kind == "audio"]
    master = m3u8.loads(master_playlist(pres))
    assert [v.uri for v in master.playlists] == ["a_en.m3u8", "a_fr.m3u8", "a_en51.m3u8"]


def test_duplicate_names_in_a_group_are_made_unique(pres):
    for t in pres.tracks:
        if t.kind == "audio":
            t.name = 'Main "mix"'
    master = m3u8.loads(master_playlist(pres))
    aac = [m.name for m in master.media if m.type == "AUDIO" and m.group_id == "aac"]
    assert len(set(aac)) == len(aac) == 2
    assert all('"' not in n for n in aac)


def test_video_without_resolution_is_refused(pres):
    pres.tracks[0].width = None
    with pytest.raises(PackageError, match="v1080 lacks width"):
        master_playlist(pres)


def test_track_without_segments_is_refused(pres):
    pres.tracks[0].segments = []
    with pytest.raises(PackageError, match="no segments"):
        media_playlist(pres.tracks[0])


def test_key_frame_in_missing_segment_is_refused(pres):
    t = pres.tracks[0]
    t.key_frames[-1].segment_number = 99
    with pytest.raises(PackageError, match="missing segment 99"):
        iframe_playlist(t)


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    timescale=st.sampled_from([1000, 48000, 44100, 90000, 30000, 24000, 12800]),
    durations=st.lists(st.integers(min_value=1, max_value=20 * 90000), min_size=1, max_size=40),
)
def test_target_duration_rule_always_holds(timescale, durations):
    segs, start = [], 0
    for i, d in enumerate(durations, 1):
        segs.append(Segment(uri=f"a/{i}.m4s", number=i, start=start, duration=d, size=d))
        start += d
    track = Track(
        id="a", kind="audio", codecs="mp4a.40.2", timescale=timescale,
        init_uri="a/init.mp4", segments=segs,
    )  # fmt: skip
    pl = m3u8.loads(media_playlist(track))
    assert len(pl.segments) == len(durations)
    for got, d in zip(pl.segments, durations, strict=True):
        assert _round(got.duration) <= pl.target_duration
        assert got.duration == pytest.approx(d / timescale, abs=1e-6)
    # ... and the target is no looser than the ceiling of the longest segment.
    assert pl.target_duration <= max(1, math.ceil(max(durations) / timescale))


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(
        st.tuples(st.integers(1, 10**7), st.floats(0.04, 10.0)), min_size=1, max_size=25
    ),
    target=st.integers(1, 10),
)
def test_peak_bitrate_matches_the_rfc_definition(chunks, target):
    best = 0.0
    for i in range(len(chunks)):
        for j in range(i + 1, len(chunks) + 1):
            size = sum(s for s, _ in chunks[i:j])
            dur = sum(d for _, d in chunks[i:j])
            if 0.5 * target - 1e-9 <= dur <= 1.5 * target + 1e-9:
                best = max(best, size * 8 / dur)
    if best == 0.0:
        best = max(s * 8 / d for s, d in chunks)
    assert peak_bitrate(chunks, target) == math.ceil(best)
