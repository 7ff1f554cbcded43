"""Picture timing decisions: frame rates, deinterlacing, variable-rate sources. Pure.

* Interlaced sources (1080i25, 480i) carry two fields per frame, i.e. 50 or 59.94 pictures a
  second of motion. A ladder that keeps 50/60 fps gets one frame per field (`send_field`),
  so sport keeps its motion; a ladder capped at 25/30 fps gets one frame per frame
  (`send_frame`). The plan says which.
* Variable-rate sources (phone clips) were already given the nearest standard rate by probe
  (23.976/24/25/29.97/30/50/59.94/60); the fps filter makes every output constant-rate at it.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from core.errors import PipelineError
from pipeline.media.info import VideoStream

DEINTERLACER = "yadif"
_MIN_DECIMATED_SHARE = Fraction(3, 4)  # below 75% of the cap, decimating is worse than capping


def source_frame_rate(video: VideoStream, path: str | None = None) -> Fraction:
    """The source's exact frame rate ("30000/1001" -> Fraction(30000, 1001))."""
    try:
        rate = Fraction(video.frame_rate.strip())
    except (ValueError, ZeroDivisionError):
        rate = Fraction(0)
    if rate <= 0:
        rate = Fraction(video.fps).limit_denominator(1001)
    if rate <= 0:
        raise PipelineError(path, f"video stream {video.index} has no frame rate", stage="plan")
    return rate


def motion_rate(video: VideoStream, path: str | None = None) -> Fraction:
    """Pictures of motion per second: the field rate of an interlaced source."""
    rate = source_frame_rate(video, path)
    return 2 * rate if video.interlaced else rate


def output_frame_rate(source: Fraction, cap: float) -> Fraction:
    """Source rate divided by the smallest whole number that meets `cap` (60000/1001 -> half).

    If even that lands far below the cap (25 fps with a 24 fps cap would give 12.5), the cap
    itself is used instead.
    """
    limit = Fraction(cap).limit_denominator(1001)
    if source <= limit:
        return source
    divisor = 1
    while source / divisor > limit:
        divisor += 1
    decimated = source / divisor
    return decimated if decimated >= limit * _MIN_DECIMATED_SHARE else limit


def deinterlace_mode(video: VideoStream, rates: Iterable[Fraction]) -> str | None:
    """None for progressive video; `send_field` when a rung keeps the field rate (more frames
    than the source has), else `send_frame`."""
    if not video.interlaced:
        return None
    frame_rate = source_frame_rate(video)
    return "send_field" if any(rate > frame_rate for rate in rates) else "send_frame"


def picture_notes(video: VideoStream, mode: str | None, rates: Iterable[Fraction]) -> list[str]:
    """What the plan does to the picture's timing, in words for `vod ladder plan`."""
    outputs = ", ".join(rate_label(r) for r in sorted(set(rates), reverse=True)) or "-"
    notes = []
    if mode is not None:
        frame_rate = source_frame_rate(video)
        how = "one frame per field" if mode == "send_field" else "one frame per frame"
        notes.append(
            f"video: interlaced ({rate_label(frame_rate)} frames, {rate_label(2 * frame_rate)} "
            f"fields a second): deinterlaced {how} ({DEINTERLACER} mode={mode}) to {outputs} fps"
        )
    if video.variable_frame_rate:
        notes.append(
            f"video: variable frame rate: made constant at {outputs} fps (nearest standard rate "
            f"{rate_label(source_frame_rate(video))} fps)"
        )
    return notes


def rate_label(rate: Fraction) -> str:
    """'25', '29.97', '23.976'."""
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")
