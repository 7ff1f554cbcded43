"""Numbers both manifest writers must agree on: durations, frame rates, codec families, peaks.

Kept separate so HLS and DASH cannot drift apart on how a duration is rounded or which audio
codecs may share a group.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from fractions import Fraction

from pipeline.media.presentation import Presentation, Track


def extinf(units: int, timescale: int) -> str:
    """An EXTINF value with 6 decimals, rounded half-up from the exact rational duration."""
    exact = Decimal(units) / Decimal(timescale)
    return str(exact.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


def target_duration(extinfs: Sequence[str]) -> int:
    """EXT-X-TARGETDURATION for the printed EXTINF values: the ceiling of the longest one.

    RFC 8216 4.3.3.1 only needs every EXTINF rounded to the nearest integer to be <= the target;
    the ceiling satisfies that and also the older (pre-version 6) reading that some players and
    validators still apply. Working from the printed strings keeps the rule exact.
    """
    longest = max((Decimal(e) for e in extinfs), default=Decimal(0))
    return max(1, int(longest.to_integral_value(rounding=ROUND_CEILING)))


def frame_rate_fraction(rate: str) -> Fraction:
    """'30000/1001', '30', '29.97' -> an exact fraction (decimal NTSC rates snap to x/1001)."""
    if "/" in rate:
        num, _, den = rate.partition("/")
        value = Fraction(int(num), int(den))
    else:
        value = Fraction(rate)
        ntsc = Fraction(round(value * 1001 / 1000) * 1000, 1001)
        if value.denominator != 1 and abs(value - ntsc) < Fraction(1, 100):
            value = ntsc
    if value <= 0:
        raise ValueError(f"frame rate must be positive, got {rate!r}")
    return value


def hls_frame_rate(rate: str) -> str:
    """FRAME-RATE attribute: decimal with 3 places ('29.970')."""
    return f"{float(frame_rate_fraction(rate)):.3f}"


def dash_frame_rate(rate: str) -> str:
    """DASH FrameRateType: an integer or 'num/den' ('30', '30000/1001')."""
    value = frame_rate_fraction(rate)
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def iso_duration(secs: float) -> str:
    """xs:duration for an MPD, e.g. 'PT12.345S', 'PT1H2M3.5S'.

    Rounded UP to the millisecond: a duration that is short by a fraction of a frame makes
    players drop the tail of the last segment; one that is long by < 1 ms is harmless.
    """
    if secs < 0 or math.isnan(secs) or math.isinf(secs):
        raise ValueError(f"duration must be a finite non-negative number, got {secs!r}")
    # The tiny slack keeps float noise (10.010000000000002) from adding a millisecond.
    scaled = Decimal(repr(secs)).scaleb(3) - Decimal("0.000001")
    millis = max(0, int(scaled.to_integral_value(rounding=ROUND_CEILING)))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, frac = divmod(rest, 1000)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if frac:
        out += f"{whole}.{frac:03d}".rstrip("0") + "S"
    elif whole or not (hours or minutes):
        out += f"{whole}S"
    return out


def audio_family(codecs: str) -> str:
    """Group key for audio that a player may switch between seamlessly: 'aac', 'ec-3', ..."""
    c = codecs.split(",")[0].strip().lower()
    if c.startswith("mp4a.40"):
        return "aac"
    if c in ("ec-3", "mp4a.a6"):
        return "ec-3"
    if c in ("ac-3", "mp4a.a5"):
        return "ac-3"
    if c.startswith("mp4a.6b") or c.startswith("mp4a.69") or c == "mp3":
        return "mp3"
    return re.sub(r"[^a-z0-9-]", "-", c.split(".")[0]) or "audio"


def is_dolby(codecs: str) -> bool:
    return audio_family(codecs) in ("ec-3", "ac-3")


def default_audio(p: Presentation) -> Track | None:
    """The title's default audio track: the first flagged default, else the first audio track."""
    audio = p.of_kind("audio")
    return next((t for t in audio if t.default), audio[0] if audio else None)


def peak_bitrate(chunks: Sequence[tuple[int, float]], target: float) -> int:
    """RFC 8216 peak segment bit rate of (bytes, seconds) chunks.

    The largest bit rate of any run of consecutive chunks whose total duration is between 0.5
    and 1.5 times the target duration; falls back to the largest single chunk when no run
    qualifies (very short playlists).
    """
    best = 0.0
    n = len(chunks)
    low, high = 0.5 * target, 1.5 * target
    for i in range(n):
        size = 0
        dur = 0.0
        for j in range(i, n):
            size += chunks[j][0]
            dur += chunks[j][1]
            if dur > high + 1e-9:
                break
            if dur >= low - 1e-9 and dur > 0:
                best = max(best, size * 8 / dur)
    if best == 0.0:
        best = max((s * 8 / d for s, d in chunks if d > 0), default=0.0)
    return math.ceil(best)


def average_bitrate(chunks: Sequence[tuple[int, float]]) -> int:
    total = sum(d for _, d in chunks)
    return math.ceil(sum(s for s, _ in chunks) * 8 / total) if total > 0 else 0
