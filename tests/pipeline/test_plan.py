"""Planning rules on synthetic sources, a hypothesis check of the invariants, and real probes."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import LadderError, PipelineError
from pipeline.analysis.probe import probe
from pipeline.media.info import AudioStream, MediaInfo, VideoStream
from pipeline.planning.ladder import Ladder, load_ladder
from pipeline.planning.planner import format_plan, output_frame_rate, plan

LADDERS = {c: load_ladder(c) for c in ("mobile", "stb", "tv", "web")}
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _video(width=1920, height=1080, *, sar="1:1", rotation=0, rate="30/1", hdr=False):
    return VideoStream(
        index=0,
        codec="h264",
        width=width,
        height=height,
        sample_aspect_ratio=sar,
        rotation=rotation,
        frame_rate=rate,
        fps=float(Fraction(rate)),
        hdr=hdr,
        color_transfer="smpte2084" if hdr else None,
    )


def _audio(index=1, language="eng", channels=2):
    return AudioStream(index=index, codec="aac", language=language, channels=channels,
                       sample_rate=48000)  # fmt: skip


def _media(video=None, audio=None, *, no_video=False):
    return MediaInfo(
        path="/in/title.mov",
        container="mov,mp4,m4a,3gp,3g2,mj2",
        duration=12.0,
        size=1000,
        video=[] if no_video else [video or _video()],
        audio=[_audio()] if audio is None else audio,
    )


def _ladder(name, rungs, *, fps=60, surround=None, profile="high", level=None):
    return Ladder.model_validate(
        {
            "device_class": name,
            "max_frame_rate": fps,
            "profile": profile,
            "level": level,
            "rungs": [{"width": w, "height": h, "bitrate_kbps": b} for w, h, b in rungs],
            "audio": {"bitrate_kbps": 128},
            "surround": surround,
        }
    )


def _sizes(p):
    return [(r.width, r.height) for r in p.video]


# --- video rules ------------------------------------------------------------------------------


def test_1080p_source_gets_the_whole_web_ladder():
    p = plan(_media(), ["web"])
    expected = sorted((r.width, r.height, r.bitrate_kbps) for r in LADDERS["web"].rungs)
    assert sorted((r.width, r.height, r.bitrate_kbps) for r in p.video) == expected
    assert all(r.device_classes == ["web"] for r in p.video)
    assert all(r.frame_rate == "30/1" and not r.tonemap for r in p.video)
    assert p.video_source_index == 0 and p.duration == 12.0 and p.source == "/in/title.mov"


def test_no_upscaling_past_the_source():
    p = plan(_media(_video(640, 360)), ["web"])
    fitting = {(r.width, r.height) for r in LADDERS["web"].rungs if r.height <= 360}
    assert set(_sizes(p)) == fitting  # the 640x360 rung already covers the source size
    assert len(p.video) == len(fitting)


def test_source_between_rungs_gets_a_source_size_top_rung():
    p = plan(_media(_video(854, 480)), ["web"])
    assert _sizes(p)[-1] == (854, 480)
    assert max(w for w, _ in _sizes(p)) == 854
    bitrates = [r.bitrate_kbps for r in p.video]
    assert bitrates == sorted(bitrates)  # still a monotonic ladder
    assert 1100 < p.video[-1].bitrate_kbps < 2000  # between its 432p and 540p neighbours


def test_tiny_source_gets_one_rung_at_source_size():
    p = plan(_media(_video(320, 180)), ["web"])
    (rung,) = p.video
    assert (rung.width, rung.height) == (320, 180)
    smallest = min(LADDERS["web"].rungs, key=lambda r: r.width)
    expected = smallest.bitrate_kbps * (320 * 180) / (smallest.width * smallest.height)
    assert rung.bitrate_kbps == pytest.approx(expected, abs=1)


def test_microscopic_source_keeps_a_bitrate_floor():
    (rung,) = plan(_media(_video(32, 18)), ["mobile"]).video
    assert (rung.width, rung.height) == (32, 18)
    assert rung.bitrate_kbps >= 64


def test_anamorphic_source_gets_square_pixel_rungs():
    # PAL 4:3: 720x576 stored with SAR 16:15 is 768x576 on screen.
    p = plan(_media(_video(720, 576, sar="16:15", rate="25/1")), ["web"])
    assert _sizes(p)[-1] == (768, 576)
    for w, h in _sizes(p):
        assert w / h == pytest.approx(4 / 3, rel=0.01)
        assert w <= 768 and h <= 576
    assert (720, 540) in _sizes(p)  # the 540p reference rung, at 4:3


def test_cinemascope_source_fits_inside_the_reference_boxes():
    p = plan(_media(_video(1920, 804)), ["web"])
    for w, h in _sizes(p):
        assert w / h == pytest.approx(1920 / 804, rel=0.01)
    assert max(w for w, _ in _sizes(p)) == 1920
    assert (1280, 536) in _sizes(p)


@pytest.mark.parametrize("rotation", [90, 270])
def test_rotated_phone_clip_gets_portrait_rungs(rotation):
    p = plan(_media(_video(1920, 1080, rotation=rotation)), ["mobile"])
    expected = {(r.height, r.width) for r in LADDERS["mobile"].rungs}  # the 16:9 boxes, turned
    assert set(_sizes(p)) == expected
    assert all(h > w for w, h in _sizes(p))


def test_upside_down_clip_stays_landscape():
    p = plan(_media(_video(1280, 720, rotation=180)), ["mobile"])
    assert all(w > h for w, h in _sizes(p))
    assert _sizes(p)[-1] == (1280, 720)


@pytest.mark.parametrize(
    ("source", "mobile_rate", "web_rate"),
    [
        ("60/1", "30/1", "60/1"),
        ("60000/1001", "30000/1001", "60000/1001"),
        ("50/1", "25/1", "50/1"),
        ("30000/1001", "30000/1001", "30000/1001"),
        ("24000/1001", "24000/1001", "24000/1001"),
        ("120/1", "30/1", "60/1"),
    ],
)
def test_frame_rate_caps_keep_exact_fractions(source, mobile_rate, web_rate):
    p = plan(_media(_video(rate=source)), ["web", "mobile"])
    for rung in p.video:
        expected = mobile_rate if rung.device_classes == ["mobile"] else web_rate
        assert rung.frame_rate == expected, rung
    assert {r.frame_rate for r in p.video} == {mobile_rate, web_rate}


def test_rates_that_halve_badly_are_capped():
    assert output_frame_rate(Fraction(25), 24) == Fraction(24)
    assert output_frame_rate(Fraction(90), 60) == Fraction(45)


def test_different_rates_give_distinct_names():
    p = plan(_media(_video(rate="60/1")), ["web", "mobile"])
    names = [r.name for r in p.video]
    assert len(names) == len(set(names))
    assert "v720p3000-60fps" in names and "v720p3000-30fps" in names


def test_hdr_source_is_tonemapped_on_h264():
    assert all(r.tonemap for r in plan(_media(_video(hdr=True)), ["web", "tv"]).video)
    assert not any(r.tonemap for r in plan(_media(_video()), ["web"]).video)
    hevc = Ladder.model_validate(
        {**LADDERS["tv"].model_dump(), "codec": "hevc", "profile": "main10", "level": None}
    )
    p = plan(_media(_video(hdr=True)), ["tv"], {"tv": hevc})
    assert p.video and not any(r.tonemap for r in p.video)  # HDR10 survives in HEVC Main10


def test_dedupe_across_classes():
    p = plan(_media(), ["web", "mobile"])
    assert len(p.video) == len(LADDERS["web"].rungs)  # mobile's rungs are all web rungs too
    mobile = {(r.width, r.height, r.bitrate_kbps) for r in LADDERS["mobile"].rungs}
    for rung in p.video:
        shared = (rung.width, rung.height, rung.bitrate_kbps) in mobile
        assert rung.device_classes == (["web", "mobile"] if shared else ["web"])


def test_bitrates_within_ten_percent_merge():
    ladders = {
        "a": _ladder("a", [(1280, 720, 3000)]),
        "b": _ladder("b", [(1280, 720, 3200)]),
        "c": _ladder("c", [(1280, 720, 4000)], profile="main", level="4.0"),
    }
    p = plan(_media(), ["a", "b"], ladders)
    (rung,) = p.video
    assert (rung.bitrate_kbps, rung.device_classes) == (3200, ["a", "b"])
    p = plan(_media(), ["a", "c"], ladders)
    assert [(r.bitrate_kbps, r.device_classes) for r in p.video] == [(3000, ["a"]), (4000, ["c"])]


def test_merged_rung_takes_the_strictest_profile_and_level():
    ladders = {
        "a": _ladder("a", [(1280, 720, 3000)]),
        "b": _ladder("b", [(1280, 720, 3000)], profile="main", level="4.0"),
    }
    (rung,) = plan(_media(), ["a", "b"], ladders).video
    assert (rung.profile, rung.level) == ("main", "4.0")


def test_vbv_settings():
    for rung in plan(_media(), ["web", "stb"]).video:
        assert rung.bitrate_kbps < rung.maxrate_kbps <= 2 * rung.bitrate_kbps
        assert rung.bufsize_kbps >= rung.maxrate_kbps


# --- audio rules ------------------------------------------------------------------------------


def test_stereo_rendition_per_language_first_is_default():
    p = plan(_media(audio=[_audio(1, "eng"), _audio(2, "fra")]), ["web"])
    assert [(a.name, a.language, a.source_index, a.default) for a in p.audio] == [
        ("a-eng-aac2", "eng", 1, True),
        ("a-fra-aac2", "fra", 2, False),
    ]
    assert all(a.codec == "aac" and a.channels == 2 for a in p.audio)


@pytest.mark.parametrize(
    ("classes", "surround"),
    [
        (["mobile"], set()),
        (["tv"], {("eac3", 6)}),
        (["stb"], {("eac3", 6)}),
        (["web"], {("aac", 6)}),
        (["tv", "web", "mobile"], {("eac3", 6), ("aac", 6)}),
    ],
)
def test_surround_rendition_per_class(classes, surround):
    p = plan(_media(audio=[_audio(1, "eng", channels=6)]), classes)
    assert {(a.codec, a.channels) for a in p.audio if a.channels == 6} == surround
    stereo = [a for a in p.audio if a.channels == 2]
    assert len(stereo) == 1 and stereo[0].default and stereo[0].device_classes == classes
    for a in p.audio:
        if a.channels == 6:
            expected = [c for c in classes if LADDERS[c].surround is not None]
            assert a.device_classes == [c for c in expected if LADDERS[c].surround.codec == a.codec]


def test_stereo_source_gets_no_surround():
    p = plan(_media(audio=[_audio(channels=2)]), ["tv"])
    assert [a.channels for a in p.audio] == [2]


def test_surround_names():
    p = plan(_media(audio=[_audio(1, "fra", channels=6)]), ["tv", "web"])
    assert {a.name for a in p.audio} == {"a-fra-aac2", "a-fra-eac3-6", "a-fra-aac6"}


def test_same_language_twice_gets_unique_names():
    p = plan(_media(audio=[_audio(1, "eng"), _audio(2, "eng")]), ["web"])
    assert len({a.name for a in p.audio}) == 2


def test_no_audio_is_allowed():
    assert plan(_media(audio=[]), ["web"]).audio == []


# --- refusals ---------------------------------------------------------------------------------


def test_no_video_stream_is_refused():
    with pytest.raises(PipelineError, match=r"/in/title\.mov: no video stream"):
        plan(_media(no_video=True), ["web"])


def test_unknown_device_class_lists_available():
    with pytest.raises(LadderError) as err:
        plan(_media(), ["web", "toaster"])
    assert "'toaster'" in str(err.value)
    assert all(c in str(err.value) for c in ("mobile", "stb", "tv", "web"))
    with pytest.raises(LadderError, match="no device class"):
        plan(_media(), [])


def test_single_class_string_is_accepted():
    assert plan(_media(), "tv").device_classes == ["tv"]  # type: ignore[arg-type]


def test_segments_must_be_whole_gops():
    with pytest.raises(PipelineError, match="whole multiple"):
        plan(_media(), ["web"], gop_seconds=2.0, segment_seconds=5.0)
    p = plan(_media(), ["web"], gop_seconds=1.0, segment_seconds=4.0)
    assert (p.gop_seconds, p.segment_seconds) == (1.0, 4.0)


def test_format_plan_lists_every_rendition():
    p = plan(_media(audio=[_audio(1, "eng", channels=6)]), ["tv", "mobile"])
    text = format_plan(p)
    for name in [r.name for r in p.video] + [a.name for a in p.audio]:
        assert name in text


# --- invariants over many synthetic sources ---------------------------------------------------


@st.composite
def sources(draw):
    width = draw(st.integers(96, 4096))
    ratio = draw(st.floats(0.3, 3.4))
    height = max(96, min(4096, round(width / ratio)))
    sar = draw(st.sampled_from(["1:1", "16:15", "64:45", "8:9", "32:27", "4:3", "40:33"]))
    rotation = draw(st.sampled_from([0, 90, 180, 270]))
    rate = draw(st.sampled_from(["24000/1001", "24/1", "25/1", "30000/1001", "30/1", "50/1",
                                 "60000/1001", "60/1", "120/1", "15/1"]))  # fmt: skip
    classes = draw(st.lists(st.sampled_from(sorted(LADDERS)), min_size=1, max_size=4, unique=True))
    return _video(width, height, sar=sar, rotation=rotation, rate=rate), classes


@settings(max_examples=300, deadline=None)
@given(sources())
def test_plan_invariants(source):
    video, classes = source
    p = plan(_media(video), classes, LADDERS)
    dw, dh = video.display_width, video.display_height
    assert p.video, "always at least one rung"
    names = [r.name for r in p.video]
    assert len(names) == len(set(names))
    for rung in p.video:
        assert SAFE_NAME.match(rung.name)
        assert rung.width % 2 == 0 and rung.height % 2 == 0
        assert rung.width <= dw and rung.height <= dh, (rung, dw, dh)
        assert rung.width / rung.height == pytest.approx(dw / dh, rel=0.02)
        if dh > dw:
            assert rung.height >= rung.width
        for c in rung.device_classes:
            assert Fraction(rung.frame_rate) <= LADDERS[c].max_frame_rate
        assert Fraction(rung.frame_rate) <= Fraction(video.frame_rate)
        assert set(rung.device_classes) <= set(classes) and rung.device_classes
        assert 0 < rung.bitrate_kbps <= rung.maxrate_kbps <= rung.bufsize_kbps
    for c in classes:  # every class gets a ladder of its own
        assert any(c in r.device_classes for r in p.video)
    audio_names = [a.name for a in p.audio]
    assert len(audio_names) == len(set(audio_names))
    assert all(SAFE_NAME.match(n) for n in audio_names)


# --- real probes ------------------------------------------------------------------------------


@pytest.mark.slow  # encodes four fixtures with FFmpeg first (about 6 s)
def test_plan_from_probed_fixtures(media_factory):
    rotated = plan(probe(media_factory("rotated")), ["mobile", "web"])
    assert _sizes(rotated)[-1] == (360, 640)
    assert all(h > w for w, h in _sizes(rotated))
    anamorphic = plan(probe(media_factory("anamorphic")), ["tv"])
    assert all(w / h == pytest.approx(4 / 3, rel=0.01) for w, h in _sizes(anamorphic))
    surround = plan(probe(media_factory("surround")), ["tv"])
    assert [(a.codec, a.channels) for a in surround.audio] == [("aac", 2), ("eac3", 6)]
    hdr = plan(probe(media_factory("hdr")), ["web"])
    assert all(r.tonemap for r in hdr.video)
