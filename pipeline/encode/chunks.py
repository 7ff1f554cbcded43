"""Split a long title into time ranges that separate workers can encode in parallel.

Pure planning, no I/O. Every boundary is a multiple of the segment duration and of the GOP, so
each chunk starts with an IDR exactly where the un-chunked encode would have put one and the
packager cuts the same segments from the joined chunks as from a single file. A short tail
(less than one boundary unit) is absorbed by the last chunk instead of becoming a tiny chunk.
"""

from __future__ import annotations

import math
from fractions import Fraction

from pydantic import BaseModel, ConfigDict

_PRECISION = 1000  # seconds are read as fractions with denominators up to this


class Chunk(BaseModel):
    """One time range of the title, [start, end) in seconds. Plain data: travels as JSON."""

    model_config = ConfigDict(frozen=True)

    index: int  # 0-based position in the title
    start: float
    end: float
    last: bool = False  # the last chunk encodes to the end of the source (absorbs the tail)

    @property
    def duration(self) -> float:
        return self.end - self.start


def boundary_unit(gop_seconds: float, segment_seconds: float) -> Fraction:
    """Smallest duration that is a whole number of both GOPs and segments (their LCM)."""
    gop = _exact(gop_seconds, "gop_seconds")
    segment = _exact(segment_seconds, "segment_seconds")
    denominator = math.lcm(gop.denominator, segment.denominator)
    g, s = int(gop * denominator), int(segment * denominator)
    return Fraction(g * s // math.gcd(g, s), denominator)


def plan_chunks(
    duration: float, gop_seconds: float, segment_seconds: float, chunk_seconds: float
) -> list[Chunk]:
    """Chunks of about `chunk_seconds` (rounded down to whole boundary units, at least one).

    One chunk covering everything (= do not chunk) when the title is no longer than one chunk
    or would not give at least two chunks.
    """
    if not duration > 0:
        raise ValueError(f"duration must be positive: {duration!r}")
    if not chunk_seconds > 0:
        raise ValueError(f"chunk_seconds must be positive: {chunk_seconds!r}")
    unit = boundary_unit(gop_seconds, segment_seconds)
    step = unit * max(1, math.floor(Fraction(chunk_seconds) / unit))
    total = Fraction(duration)
    starts = [step * i for i in range(math.ceil(total / step))]
    if len(starts) > 1 and total - starts[-1] < unit:
        starts.pop()  # a tail shorter than one unit joins the previous chunk
    if duration <= chunk_seconds or len(starts) < 2:
        starts = [Fraction(0)]
    ends = [float(s) for s in starts[1:]] + [duration]
    return [
        Chunk(index=i, start=float(s), end=e, last=i == len(starts) - 1)
        for i, (s, e) in enumerate(zip(starts, ends, strict=True))
    ]


def _exact(seconds: float, name: str) -> Fraction:
    if not seconds > 0:
        raise ValueError(f"{name} must be positive: {seconds!r}")
    return Fraction(seconds).limit_denominator(_PRECISION)
