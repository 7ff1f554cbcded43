"""Builders for hand-made `Presentation`s, shared by the manifest writer tests (DASH and HLS).

Every number is chosen by the test, nothing is measured: the writers are checked against
presentations whose segments, sizes and bitrates are known exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from itertools import pairwise
from typing import Any, Literal

from pipeline.media.presentation import Segment, Track

AUDIO_RATE = 48000


def frame_bounds(frames: int, seg_frames: int, ticks_per_frame: int) -> list[int]:
    """Segment boundaries in ticks: a cut every `seg_frames` frames, then the end of the last."""
    cuts = range(0, frames, seg_frames)
    return [f * ticks_per_frame for f in cuts] + [frames * ticks_per_frame]


def audio_bounds(video_bounds: Iterable[int], video_timescale: int, frame: int) -> list[int]:
    """Audio cut at the first codec frame at or after each video boundary (as a packager does)."""
    rate = AUDIO_RATE
    return [math.ceil(b / video_timescale * rate / frame) * frame for b in video_bounds]


def segments(tid: str, bounds: list[int], size: Callable[[int, int], int]) -> list[Segment]:
    """Segments 1, 2, ... between consecutive `bounds`; `size(number, duration)` gives bytes."""
    return [
        Segment(uri=f"{tid}/{n}.m4s", number=n, start=a, duration=b - a, size=size(n, b - a))
        for n, (a, b) in enumerate(pairwise(bounds), 1)
    ]


def media_track(
    tid: str,
    kind: Literal["video", "audio"],
    codecs: str,
    timescale: int,
    segs: list[Segment],
    **fields: Any,
) -> Track:
    """A packaged track laid out under `tid/`: init segment, $Number$ template, `segs`."""
    return Track(
        id=tid,
        kind=kind,
        codecs=codecs,
        timescale=timescale,
        init_uri=f"{tid}/init.mp4",
        segment_template=f"{tid}/$Number$.m4s",
        segments=segs,
        **fields,
    )


def video_track(
    tid: str,
    width: int,
    height: int,
    codecs: str,
    timescale: int,
    frame_rate: str,
    segs: list[Segment],
    **fields: Any,
) -> Track:
    """A video track (`fields`: bandwidths, key frames, ...)."""
    return media_track(
        tid,
        "video",
        codecs,
        timescale,
        segs,
        width=width,
        height=height,
        frame_rate=frame_rate,
        **fields,
    )


def audio_track(
    tid: str, codecs: str, lang: str, channels: int, segs: list[Segment], **fields: Any
) -> Track:
    """A 48 kHz audio track (`fields`: bandwidths, name, default, ...)."""
    return media_track(
        tid,
        "audio",
        codecs,
        AUDIO_RATE,
        segs,
        sample_rate=AUDIO_RATE,
        channels=channels,
        language=lang,
        **fields,
    )


def text_track(tid: str, lang: str) -> Track:
    """A WebVTT subtitle track: one file for the whole title, subs/<lang>.vtt."""
    return Track(id=tid, kind="text", codecs="wvtt", language=lang, uri=f"subs/{lang}.vtt")
