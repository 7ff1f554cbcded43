"""Picture timing edges that mutation testing (scripts/mutation.sh pipeline/planning/picture.py)
found untested: the fallbacks when the exact frame rate is missing, the refusal, the decimation
rule and its 3/4 floor (inclusive), field-rate deinterlacing and the exact note texts."""

from __future__ import annotations

from fractions import Fraction

import pytest

from core.errors import PipelineError
from pipeline.media.info import VideoStream
from pipeline.planning.picture import (
    DEINTERLACER,
    deinterlace_mode,
    motion_rate,
    output_frame_rate,
    picture_notes,
    rate_label,
    source_frame_rate,
)


def _video(rate: str = "25/1", fps: float | None = None, **kw: object) -> VideoStream:
    if fps is None:
        fps = float(Fraction(rate)) if "/" in rate and not rate.endswith("/0") else 0.0
    fields: dict = {"index": 3, "codec": "h264", "width": 1920, "height": 1080}
    return VideoStream(**{**fields, **kw}, frame_rate=rate, fps=fps)


def test_exact_rate_is_read_from_the_fraction_with_spaces_stripped():
    assert source_frame_rate(_video("30000/1001")) == Fraction(30000, 1001)
    assert source_frame_rate(_video(" 25/1 ", fps=25.0)) == Fraction(25)


@pytest.mark.parametrize("text", ["0/0", "abc", "0/1", "-25/1", ""])
def test_unusable_exact_rate_falls_back_to_fps(text):
    assert source_frame_rate(_video(text, fps=50.0)) == Fraction(50)


def test_fps_fallback_is_limited_to_a_1001_denominator():
    ntsc = float(Fraction(30000, 1001))
    assert source_frame_rate(_video("0/0", fps=ntsc)) == Fraction(30000, 1001)
    # 1003/1002 is not reachable with denominators up to 1001: the nearest is 1002/1001.
    odd = float(Fraction(1003, 1002))
    assert source_frame_rate(_video("0/0", fps=odd)) == Fraction(1002, 1001)


def test_no_rate_at_all_is_refused_naming_the_stream():
    with pytest.raises(PipelineError) as err:
        source_frame_rate(_video("0/0", fps=0.0), "/in/x.mov")
    assert str(err.value) == "[plan] /in/x.mov: video stream 3 has no frame rate"
    assert err.value.stage == "plan"
    with pytest.raises(PipelineError):
        source_frame_rate(_video("0/0", fps=-25.0))


def test_motion_rate_is_the_field_rate_when_interlaced():
    assert motion_rate(_video("25/1", interlaced=True)) == Fraction(50)
    assert motion_rate(_video("30000/1001", interlaced=True)) == Fraction(60000, 1001)
    assert motion_rate(_video("25/1")) == Fraction(25)


@pytest.mark.parametrize(
    ("source", "cap", "expected"),
    [
        (Fraction(30), 30, Fraction(30)),  # at the cap: kept
        (Fraction(24), 30, Fraction(24)),  # below: kept, never raised
        (Fraction(60), 30, Fraction(30)),
        (Fraction(60000, 1001), 30, Fraction(30000, 1001)),
        (Fraction(120), 50, Fraction(40)),  # 120/3: the smallest divisor that fits
        (Fraction(90), 60, Fraction(45)),
        (Fraction(45), 30, Fraction(45, 2)),  # 22.5 is exactly 3/4 of the cap: still decimated
        (Fraction(25), 24, Fraction(24)),  # 12.5 is below 3/4 of 24: the cap instead
        (Fraction(100), 60, Fraction(50)),
        (Fraction(50), 29.97, Fraction(25)),
    ],
)
def test_output_rate_divides_by_the_smallest_whole_number(source, cap, expected):
    assert output_frame_rate(source, cap) == expected


def test_cap_is_read_with_denominators_up_to_1001():
    assert output_frame_rate(Fraction(60000, 1001), 30000 / 1001) == Fraction(30000, 1001)
    # float(1003/1002) is read as 1002/1001, so a 1002/1001 source is not over the cap
    assert output_frame_rate(Fraction(1002, 1001), 1003 / 1002) == Fraction(1002, 1001)
    assert output_frame_rate(Fraction(25), 23.976) == Fraction(2997, 125)


def test_deinterlace_mode_keeps_the_field_rate_only_when_a_rung_needs_it():
    assert deinterlace_mode(_video("25/1"), [Fraction(50)]) is None
    interlaced = _video("25/1", interlaced=True)
    assert deinterlace_mode(interlaced, [Fraction(25)]) == "send_frame"
    assert deinterlace_mode(interlaced, [Fraction(25), Fraction(50)]) == "send_field"
    assert deinterlace_mode(interlaced, [Fraction(26)]) == "send_field"
    assert deinterlace_mode(interlaced, []) == "send_frame"


def test_interlaced_note_names_frames_fields_mode_and_outputs():
    video = _video("30000/1001", interlaced=True)
    rates = [Fraction(30000, 1001), Fraction(60000, 1001), Fraction(30000, 1001)]
    assert DEINTERLACER == "yadif"
    assert picture_notes(video, "send_field", rates) == [
        "video: interlaced (29.97 frames, 59.94 fields a second): deinterlaced one frame per "
        "field (yadif mode=send_field) to 59.94, 29.97 fps"
    ]
    assert picture_notes(video, "send_frame", [Fraction(30000, 1001)]) == [
        "video: interlaced (29.97 frames, 59.94 fields a second): deinterlaced one frame per "
        "frame (yadif mode=send_frame) to 29.97 fps"
    ]


def test_variable_rate_note_and_no_note_for_plain_progressive():
    video = _video("30/1", variable_frame_rate=True)
    assert picture_notes(video, None, [Fraction(30), Fraction(15)]) == [
        "video: variable frame rate: made constant at 30, 15 fps (nearest standard rate 30 fps)"
    ]
    assert picture_notes(video, None, []) == [
        "video: variable frame rate: made constant at - fps (nearest standard rate 30 fps)"
    ]
    assert picture_notes(_video("30/1"), None, [Fraction(30)]) == []


def test_rate_labels():
    assert rate_label(Fraction(25)) == "25"
    assert rate_label(Fraction(24000, 1001)) == "23.976"
    assert rate_label(Fraction(30000, 1001)) == "29.97"
    assert rate_label(Fraction(25, 2)) == "12.5"
    assert rate_label(Fraction(1000001, 40000)) == "25"  # 25.000025: no dangling point


def test_slow_exact_rates_are_kept_even_when_fps_is_rounded():
    # a time-lapse at one frame every 3 s: the exact fraction wins over the rounded fps
    assert source_frame_rate(_video("1/3", fps=0.333)) == Fraction(1, 3)
    assert source_frame_rate(_video("1/2", fps=0.5)) == Fraction(1, 2)
    assert motion_rate(_video("1/2", fps=0.5, interlaced=True)) == Fraction(1)


def test_motion_rate_refusal_names_the_file():
    with pytest.raises(PipelineError) as err:
        motion_rate(_video("0/0", fps=0.0), "/in/y.mxf")
    assert str(err.value) == "[plan] /in/y.mxf: video stream 3 has no frame rate"
