"""Planner edges that mutation testing (scripts/mutation.sh pipeline/planning/planner.py) found
untested: exact rung sizes, bitrates and VBV values (interpolated source-size rungs, the 90%
near-duplicate rule at its boundary, the 64 kbps floor, clamping), how rungs of several classes
merge (bitrate, maxrate factor, profile, level), their order and names, the exact refusals,
and which Plan fields come from where.

Interpolation is by pixel count: a source of P pixels between a kept rung of B pixels at b kbps
and the next bigger reference rung, which at the source's aspect ratio has A pixels and a kbps,
gets b + (a - b) * (P - B) / (A - B)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from core.errors import LadderError, PipelineError
from pipeline.media.info import AudioStream, MediaInfo, VideoStream
from pipeline.planning.ladder import Ladder, load_ladder
from pipeline.planning.planner import (
    BUFSIZE_FACTOR,
    MIN_VIDEO_KBPS,
    NEAR_DUPLICATE_SHARE,
    plan,
)

LADDERS = {c: load_ladder(c) for c in ("mobile", "stb", "tv", "web")}
AVAILABLE = "available: mobile, stb, tv, web"


def _video(width=1920, height=1080, *, rate="30/1", index=0, fps=None, **kw) -> VideoStream:
    return VideoStream(
        index=index, codec="h264", width=width, height=height, frame_rate=rate,
        fps=float(Fraction(rate)) if fps is None else fps, **kw,
    )  # fmt: skip


def _media(*videos: VideoStream, audio=None) -> MediaInfo:
    return MediaInfo(
        path="/in/title.mov", container="mov", duration=12.0, size=1,
        video=list(videos) or [_video()], audio=audio or [],
    )  # fmt: skip


def _ladder(name, rungs, *, fps=60, profile="high", level=None, codec="h264", factor=1.5):
    return Ladder.model_validate(
        {
            "device_class": name, "max_frame_rate": fps, "codec": codec, "profile": profile,
            "level": level, "maxrate_factor": factor,
            "rungs": [
                {"width": r[0], "height": r[1], "bitrate_kbps": r[2],
                 **({"maxrate_factor": r[3]} if len(r) > 3 else {})}
                for r in rungs
            ],
            "audio": {"bitrate_kbps": 128},
        }
    )  # fmt: skip


def _table(p) -> list[tuple]:
    return [(r.name, r.width, r.height, r.bitrate_kbps, r.maxrate_kbps, r.bufsize_kbps)
            for r in p.video]  # fmt: skip


def _sizes(p) -> list[tuple[int, int, int]]:
    return [(r.width, r.height, r.bitrate_kbps) for r in p.video]


def test_constants():
    assert (MIN_VIDEO_KBPS, NEAR_DUPLICATE_SHARE, BUFSIZE_FACTOR) == (64, 0.9, 2.0)


# --- sizes and bitrates -----------------------------------------------------------------------


def test_source_between_rungs_gets_an_interpolated_top_rung():
    # 854x480 = 409920 px; kept 768x432 @ 1100 (331776 px, the higher of the two 432p rungs);
    # next bigger 960x540 @ 2000 is 854x480 * (960/854)^2 = 442230.68 px at 854:480.
    # 1100 + 900 * 78144 / 110454.68 = 1477.67 -> 1478; maxrate 1.5x, bufsize 2x.
    p = plan(_media(_video(854, 480)), ["web"])
    assert _table(p) == [
        ("v234p145", 416, 234, 145, 218, 290),
        ("v360p365", 640, 360, 365, 548, 730),
        ("v432p730", 768, 432, 730, 1095, 1460),
        ("v432p1100", 768, 432, 1100, 1650, 2200),
        ("v480p1478", 854, 480, 1478, 2217, 2956),
    ]
    top = p.video[-1]
    assert (top.codec, top.profile, top.level, top.frame_rate, top.tonemap) == (
        "h264", "high", None, "30/1", False,
    )  # fmt: skip
    assert top.device_classes == ["web"]


def test_interpolation_starts_from_the_cheapest_of_equal_bigger_rungs():
    # 1100x618: 1280x720 @ 3000 and @ 4500 are both bigger by the same scale; the cheaper one
    # is the upper end: 2000 + 1000 * share = 2401 (with 4500 it would be 3004).
    p = plan(_media(_video(1100, 618)), ["web"])
    assert _sizes(p)[-2:] == [(960, 540, 2000), (1100, 618, 2401)]


def test_a_kept_rung_with_ninety_percent_of_the_pixels_makes_the_source_rung_moot():
    ladders = {"x": _ladder("x", [(192, 108, 300), (384, 216, 1000)])}
    # 160x114 = 18240 px; 192x108 fitted is 152x108 = 16416 px, exactly 90%: no source rung
    assert _sizes(plan(_media(_video(160, 114)), ["x"], ladders)) == [(152, 108, 300)]
    # 672x378 keeps 640x360 (90.7% of its pixels): no 672x378 rung
    assert _sizes(plan(_media(_video(672, 378)), ["web"]))[-1] == (640, 360, 365)
    # 676x380: 640x360 is 89.7% of it, so a source-size rung is added
    assert _sizes(plan(_media(_video(676, 380)), ["web"]))[-1][:2] == (676, 380)


def test_source_rung_never_costs_less_than_the_rung_below():
    # the bigger rung is cheaper than the kept one: interpolating would go down to 1583
    ladders = {"x": _ladder("x", [(640, 360, 2000), (1280, 720, 1000)])}
    p = plan(_media(_video(960, 540)), ["x"], ladders)
    assert [(r.name, r.width, r.height, r.bitrate_kbps) for r in p.video] == [
        ("v360p2000", 640, 360, 2000),
        ("v540p2000", 960, 540, 2000),
    ]


def test_tiny_source_scales_the_smallest_bigger_rung_by_pixels():
    # 320x180 against 416x234 @ 145: 145 * 57600 / 97344 = 85.8 -> 86
    (rung,) = plan(_media(_video(320, 180)), ["web"]).video
    assert (rung.name, rung.width, rung.height, rung.bitrate_kbps) == ("v180p86", 320, 180, 86)
    assert (rung.maxrate_kbps, rung.bufsize_kbps) == (129, 172)


def test_bitrate_floor_is_exactly_64_kbps():
    (rung,) = plan(_media(_video(32, 18)), ["mobile"]).video
    assert (rung.width, rung.height, rung.bitrate_kbps, rung.maxrate_kbps) == (32, 18, 64, 96)
    ladders = {"x": _ladder("x", [(1280, 720, 10)])}
    (rung,) = plan(_media(), ["x"], ladders).video
    assert (rung.width, rung.bitrate_kbps) == (1280, 64)


def test_smallest_usable_sources():
    (rung,) = plan(_media(_video(2, 2)), ["web"]).video
    assert (rung.width, rung.height, rung.bitrate_kbps) == (2, 2, 64)
    (rung,) = plan(_media(_video(3, 3)), ["web"]).video
    assert (rung.width, rung.height) == (2, 2)  # odd sizes are floored to even
    # a sliver: the height of a fitted rung never goes below 2
    assert _sizes(plan(_media(_video(4000, 4)), ["mobile"]))[0][:2] == (416, 2)


@pytest.mark.parametrize(("width", "height"), [(1, 1080), (1920, 1), (0, 0)])
def test_unusable_size_is_refused(width, height):
    with pytest.raises(PipelineError) as err:
        plan(_media(_video(width, height)), ["web"])
    assert str(err.value) == (f"[plan] /in/title.mov: video has no usable size ({width}x{height})")


def test_source_of_exactly_a_rung_size_keeps_its_size():
    ladders = {"x": _ladder("x", [(1280, 720, 3000), (1920, 1080, 6000)])}
    assert _sizes(plan(_media(_video(1280, 720)), ["x"], ladders)) == [(1280, 720, 3000)]
    # odd sizes: 1281x721 is shown as 1280x720 for the 1280x720 rung
    assert _sizes(plan(_media(_video(1281, 721)), ["x"], ladders)) == [(1280, 720, 3000)]


def test_rung_maxrate_factor_overrides_the_ladder_and_bufsize_follows():
    ladders = {"x": _ladder("x", [(640, 360, 1000, 2.5), (1280, 720, 3000)], factor=1.2)}
    p = plan(_media(), ["x"], ladders)
    assert _table(p) == [
        ("v360p1000", 640, 360, 1000, 2500, 2500),  # bufsize is at least the maxrate
        ("v720p3000", 1280, 720, 3000, 3600, 6000),
    ]


def test_rungs_are_ordered_by_pixels_then_bitrate_then_rate():
    ladders = {"x": _ladder("x", [(1280, 720, 3000), (640, 360, 5000)])}
    assert _sizes(plan(_media(), ["x"], ladders)) == [(640, 360, 5000), (1280, 720, 3000)]
    p = plan(_media(_video(rate="60/1")), ["web", "mobile"])
    top = [(r.name, r.frame_rate) for r in p.video if r.height == 720]
    assert top == [
        ("v720p3000-30fps", "30/1"),
        ("v720p3000-60fps", "60/1"),
        ("v720p4500", "60/1"),
    ]


def test_ntsc_rates_in_names_and_rungs():
    p = plan(_media(_video(rate="60000/1001")), ["tv", "mobile"])
    names = {r.name: r.frame_rate for r in p.video if r.height == 540}
    assert names == {"v540p2000-29.97fps": "30000/1001", "v540p2000-59.94fps": "60000/1001"}


def test_portrait_and_hevc_names():
    ladders = {"x": _ladder("x", [(1280, 720, 3000)], codec="hevc", profile="main")}
    (rung,) = plan(_media(_video(1080, 1920)), ["x"], ladders).video
    assert (rung.name, rung.width, rung.height, rung.codec) == ("v720p3000-hevc", 720, 1280, "hevc")


# --- merging classes --------------------------------------------------------------------------


def test_merged_rung_takes_the_highest_bitrate_and_the_tightest_vbv():
    ladders = {
        "a": _ladder("a", [(1280, 720, 3000)], factor=1.5),
        "b": _ladder("b", [(1280, 720, 3200)], factor=1.2),
    }
    (rung,) = plan(_media(), ["b", "a"], ladders).video
    assert (rung.bitrate_kbps, rung.maxrate_kbps, rung.bufsize_kbps) == (3200, 3840, 6400)
    assert rung.device_classes == ["b", "a"]  # in the requested order


def test_mobile_and_stb_share_rungs_at_the_strictest_settings():
    p = plan(_media(), ["mobile", "stb"])
    shared = [r for r in p.video if r.device_classes == ["mobile", "stb"]]
    assert [(r.width, r.bitrate_kbps) for r in shared] == [
        (640, 365), (768, 730), (768, 1100), (960, 2000), (1280, 3000),
    ]  # fmt: skip
    for r in shared:  # main beats high, level 3.1 beats 4.0, maxrate 1.2x beats 1.5x
        assert (r.profile, r.level, r.maxrate_kbps) == ("main", "3.1", round(r.bitrate_kbps * 1.2))
    only_mobile = [r for r in p.video if r.device_classes == ["mobile"]]
    assert [(r.width, r.profile, r.level, r.maxrate_kbps) for r in only_mobile] == [
        (416, "high", "3.1", 218)
    ]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (("baseline", "1.1"), ("main", "1b"), ("baseline", "1b")),
        (("high", "1.0"), ("main", "1b"), ("main", "1.0")),
        (("high", "5.1"), ("high", "5.0"), ("high", "5.0")),
        (("high", None), ("high", "4.2"), ("high", "4.2")),
        (("high", None), ("high", None), ("high", None)),
    ],
)
def test_merged_profile_and_level(a, b, expected):
    ladders = {
        "a": _ladder("a", [(1280, 720, 3000)], profile=a[0], level=a[1]),
        "b": _ladder("b", [(1280, 720, 3000)], profile=b[0], level=b[1]),
    }
    (rung,) = plan(_media(), ["a", "b"], ladders).video
    assert (rung.profile, rung.level) == expected


def test_hevc_main_and_main10_merge_to_main_and_tonemap():
    ladders = {
        "a": _ladder("a", [(1280, 720, 3000)], codec="hevc", profile="main10"),
        "b": _ladder("b", [(1280, 720, 3000)], codec="hevc", profile="main"),
    }
    (rung,) = plan(_media(_video(hdr=True)), ["a", "b"], ladders).video
    assert (rung.profile, rung.tonemap) == ("main", True)  # 8-bit Main cannot carry HDR10
    (rung,) = plan(_media(_video(hdr=True)), ["a"], ladders).video
    assert (rung.profile, rung.tonemap) == ("main10", False)
    (rung,) = plan(_media(_video(hdr=False)), ["b"], ladders).video
    assert rung.tonemap is False


def test_same_size_different_codecs_stay_apart():
    ladders = {
        "a": _ladder("a", [(1280, 720, 3000)]),
        "b": _ladder("b", [(1280, 720, 3000)], codec="hevc", profile="main"),
    }
    p = plan(_media(), ["a", "b"], ladders)
    assert [(r.name, r.codec, r.device_classes) for r in p.video] == [
        ("v720p3000", "h264", ["a"]),
        ("v720p3000-hevc", "hevc", ["b"]),
    ]


# --- requests and refusals --------------------------------------------------------------------


def test_unknown_classes_are_all_named():
    with pytest.raises(LadderError) as err:
        plan(_media(), ["web", "toaster", "fridge"])
    assert str(err.value) == f"[plan] unknown device class 'toaster', 'fridge'; {AVAILABLE}"


def test_no_class_requested():
    with pytest.raises(LadderError) as err:
        plan(_media(), [])
    assert str(err.value) == f"[plan] no device class requested; {AVAILABLE}"


def test_given_ladders_are_the_known_classes():
    ladders = {"zz": _ladder("zz", [(640, 360, 500)]), "aa": _ladder("aa", [(640, 360, 900)])}
    with pytest.raises(LadderError) as err:
        plan(_media(), ["web"], ladders)
    assert str(err.value) == "[plan] unknown device class 'web'; available: aa, zz"
    p = plan(_media(), ["zz", "zz"], ladders)
    assert p.device_classes == ["zz"] and _sizes(p) == [(640, 360, 500)]


def test_no_video_is_refused_exactly():
    media = MediaInfo(path="/in/a.m4a", container="mov", duration=1.0, size=1)
    with pytest.raises(PipelineError) as err:
        plan(media, ["web"])
    assert str(err.value) == (
        "[plan] /in/a.m4a: no video stream: only video titles can be packaged"
    )


@pytest.mark.parametrize(("gop", "segment"), [(0, 6), (2, 0), (-2, 6), (2, -6)])
def test_timing_must_be_positive(gop, segment):
    with pytest.raises(PipelineError) as err:
        plan(_media(), ["web"], gop_seconds=gop, segment_seconds=segment)
    assert str(err.value) == (
        "[plan] /in/title.mov: gop_seconds and segment_seconds must be positive"
    )


@pytest.mark.parametrize(
    ("gop", "segment"), [(2.0, 5.0), (4.0, 2.0), (2.0, 6.00001), (1e7, 1.0), (0.5, 1.25)]
)
def test_segments_must_be_whole_gops(gop, segment):
    with pytest.raises(PipelineError) as err:
        plan(_media(), ["web"], gop_seconds=gop, segment_seconds=segment)
    assert str(err.value) == (
        f"[plan] /in/title.mov: segment_seconds ({segment:g}) must be a whole multiple of "
        f"gop_seconds ({gop:g}) so every segment starts on an IDR"
    )


@pytest.mark.parametrize(("gop", "segment"), [(2.0, 2.0), (0.5, 1.5), (2.0, 6.000001)])
def test_whole_gop_segments_are_accepted(gop, segment):
    p = plan(_media(), ["web"], gop_seconds=gop, segment_seconds=segment)
    assert (p.gop_seconds, p.segment_seconds) == (gop, segment)


# --- the Plan ---------------------------------------------------------------------------------


def test_plan_defaults_and_sources_of_fields():
    video = _video(index=2, duration=10.0, start_time=0.1234567)
    other = _video(640, 360, index=5)
    p = plan(_media(video, other), ["tv"])
    assert (p.source, p.video_source_index, p.device_classes) == ("/in/title.mov", 2, ["tv"])
    assert (p.gop_seconds, p.segment_seconds, p.duration) == (2.0, 6.0, 10.0)
    assert p.video_start == 0.123457
    assert p.deinterlace is None and p.notes == [] and p.warnings == [] and p.audio == []
    assert _sizes(p)[-1] == (1920, 1080, 7800)  # sized from the first video stream


def test_notes_and_warnings_are_collected_in_order():
    video = _video(rate="25/1", interlaced=True, variable_frame_rate=True, duration=10.0)
    tracks = [
        AudioStream(index=1, codec="pcm", channels=1, sample_rate=48000, start_time=0.5),
        AudioStream(
            index=2, codec="pcm", channels=1, sample_rate=48000, duration=12.0, start_time=0.75
        ),
    ]
    p = plan(_media(video, audio=tracks), ["tv"], audio_map=["L", "R"])
    assert p.deinterlace == "send_field"
    assert p.notes == [
        "video: interlaced (25 frames, 50 fields a second): deinterlaced one frame per field "
        "(yadif mode=send_field) to 50 fps",
        "video: variable frame rate: made constant at 50 fps (nearest standard rate 25 fps)",
        "audio: channel map L R joins the mono tracks",
        "audio #1-#2 (und) starts 0.500 s after the picture: delayed by as much",
    ]
    assert p.warnings == [
        "audio #1-#2 (und) runs 2.500 s past the picture (ends at 12.500 s, picture 10.000 s): "
        "trimmed to the picture in a-und-aac2"
    ]
    (a,) = p.audio
    assert (a.merge_indexes, a.merge_layout, a.offset, a.default) == ([1, 2], "stereo", 0.5, True)
    p = plan(_media(video, audio=tracks), ["mobile"])
    assert p.warnings[0].startswith("audio: 2 mono tracks taken as L R by the default rule")


def test_every_rung_of_the_source_size_is_kept():
    # 1280x720 is exactly the size of two web rungs: both are kept, at their own bitrates
    p = plan(_media(_video(1280, 720)), ["web"])
    assert _sizes(p)[-3:] == [(960, 540, 2000), (1280, 720, 3000), (1280, 720, 4500)]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [("main", "baseline", "baseline"), ("high", "main", "main"), ("main", "high", "main")],
)
def test_strictest_profile_wins_whichever_class_comes_first(first, second, expected):
    ladders = {
        "a": _ladder("a", [(1280, 720, 3000)], profile=first),
        "b": _ladder("b", [(1280, 720, 3000)], profile=second),
    }
    (rung,) = plan(_media(), ["a", "b"], ladders).video
    assert rung.profile == expected
    (rung,) = plan(_media(), ["b", "a"], ladders).video
    assert rung.profile == expected


def test_interpolation_starts_from_the_largest_kept_rung_not_the_dearest():
    # kept: 640x360 @ 5000 and 960x540 @ 2000; from 960x540: 2000 + 4000 * 403200 / 1555200
    ladders = {"x": _ladder("x", [(640, 360, 5000), (960, 540, 2000), (1920, 1080, 6000)])}
    p = plan(_media(_video(1280, 720)), ["x"], ladders)
    assert _sizes(p)[-1] == (1280, 720, 3037)


def test_refusals_from_picture_and_audio_name_the_source():
    with pytest.raises(PipelineError) as err:
        plan(_media(_video(rate="0/0", fps=0.0)), ["web"])
    assert str(err.value) == "[plan] /in/title.mov: video stream 0 has no frame rate"
    tracks = [AudioStream(index=1, codec="pcm", channels=1, sample_rate=48000)]
    with pytest.raises(PipelineError) as err:
        plan(_media(audio=tracks), ["web"], audio_map=["Q"])
    assert str(err.value).startswith("[plan] /in/title.mov: audio channel map: unknown channel")
