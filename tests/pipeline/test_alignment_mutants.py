"""Track alignment edges that mutation testing (scripts/mutation.sh
pipeline/planning/alignment.py) found untested: the duration fallback, microsecond rounding of
start times, the 1 ms and 100 ms notice thresholds (inclusive / exclusive), and the exact
text of every note and warning. Durations are multiples of 1/8 s, exact in binary."""

from __future__ import annotations

import pytest

from pipeline.media.info import MediaInfo, VideoStream
from pipeline.planning.alignment import (
    NOTICE_SECONDS,
    START_NOTICE_SECONDS,
    alignment_messages,
    audio_offset,
    describe,
    picture_start,
    programme_duration,
)
from pipeline.planning.channel_map import AudioSource


def _video(duration: float | None = None, start: float = 0.0) -> VideoStream:
    return VideoStream(
        index=0, codec="h264", width=1920, height=1080, frame_rate="25/1", fps=25.0,
        duration=duration, start_time=start,
    )  # fmt: skip


def _media(video: VideoStream) -> MediaInfo:
    return MediaInfo(path="/in/a.ts", container="mpegts", duration=7.5, size=1, video=[video])


def _source(duration: float | None = 10.0, start: float = 0.0, **kw: object) -> AudioSource:
    fields: dict = {"index": 1, "language": "eng", "channels": 2, "sample_rate": 48000}
    return AudioSource(**{**fields, **kw}, duration=duration, start_time=start)


def test_thresholds():
    assert (NOTICE_SECONDS, START_NOTICE_SECONDS) == (0.1, 0.001)


@pytest.mark.parametrize(
    ("stream", "expected"), [(5.0, 5.0), (0.5, 0.5), (None, 7.5), (0.0, 7.5), (-1.0, 7.5)]
)
def test_programme_is_the_stream_duration_else_the_container(stream, expected):
    video = _video(duration=stream)
    assert programme_duration(_media(video), video) == expected


def test_picture_start_is_rounded_to_the_microsecond():
    assert picture_start(_video(start=1.23456789)) == 1.234568
    assert picture_start(_video(start=0.0)) == 0.0


def test_audio_offset_is_audio_start_minus_picture_start_to_the_microsecond():
    assert audio_offset(_source(start=1.4), _video(start=0.2)) == 1.2
    assert audio_offset(_source(start=0.2), _video(start=1.4)) == -1.2
    assert audio_offset(_source(start=0.00000049), _video()) == 0.0


def test_describe_names_the_track_and_language():
    assert describe(_source(index=2, language="spa")) == "audio #2 (spa)"
    assert describe(_source(surround=(1, 2, 3, 4, 5, 6), language="und")) == "audio #1-#6 (und)"


def test_late_audio_is_delayed_from_one_millisecond():
    notes, warnings = alignment_messages(_source(), 0.001, 10.001, ["a"])
    assert notes == ["audio #1 (eng) starts 0.001 s after the picture: delayed by as much"]
    assert warnings == []
    assert alignment_messages(_source(), 0.0009, 10.0, ["a"]) == ([], [])


def test_early_audio_is_cut_from_one_millisecond():
    notes, _ = alignment_messages(_source(), -0.001, 9.999, ["a"])
    assert notes == ["audio #1 (eng) starts 0.001 s before the picture: its first 0.001 s are cut"]
    notes, _ = alignment_messages(_source(), -1.25, 8.75, ["a"])
    assert notes == ["audio #1 (eng) starts 1.250 s before the picture: its first 1.250 s are cut"]
    assert alignment_messages(_source(), -0.0009, 10.0, ["a"]) == ([], [])


def test_long_audio_is_trimmed_with_a_warning_naming_the_renditions():
    _, warnings = alignment_messages(_source(10.125), 0.0, 10.0, ["a-eng-aac2", "a-eng-eac3-6"])
    assert warnings == [
        "audio #1 (eng) runs 0.125 s past the picture (ends at 10.125 s, picture 10.000 s): "
        "trimmed to the picture in a-eng-aac2, a-eng-eac3-6"
    ]


def test_the_offset_counts_towards_the_end():
    notes, warnings = alignment_messages(_source(10.0), 0.25, 10.0, [])
    assert notes == ["audio #1 (eng) starts 0.250 s after the picture: delayed by as much"]
    assert warnings == [
        "audio #1 (eng) runs 0.250 s past the picture (ends at 10.250 s, picture 10.000 s): "
        "trimmed to the picture in no rendition"
    ]


def test_short_audio_is_padded_with_a_warning():
    _, warnings = alignment_messages(_source(9.5), 0.0, 10.0, ["a"])
    assert warnings == [
        "audio #1 (eng) ends 0.500 s before the picture (at 9.500 s, picture 10.000 s): "
        "padded with silence in a"
    ]


def test_exactly_the_notice_threshold_is_not_news():
    # 0.1 past / before the picture exactly: encoder rounding, no warning either way.
    assert alignment_messages(_source(0.1), 0.0, 0.0, ["a"]) == ([], [])
    notes, warnings = alignment_messages(_source(0.5), -0.5, 0.1, ["a"])
    assert warnings == [] and len(notes) == 1
    # just over it is reported
    _, warnings = alignment_messages(_source(0.125), 0.0, 0.0, ["a"])
    assert len(warnings) == 1


def test_no_duration_no_warning():
    assert alignment_messages(_source(None), 0.0, 100.0, ["a"]) == ([], [])
