"""Reading what the quality measurements wrote: libvmaf JSON logs and `framecrc` packet lists.

Pure parsers over text; the workflow reads the files. Both refuse malformed input with an
error naming the file, never a KeyError.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from fractions import Fraction

from core.errors import PipelineError
from pipeline.media.quality import Sample


def vmaf_scores(text: str, where: str) -> list[float]:
    """Per-frame VMAF of a libvmaf JSON log (`log_fmt=json`), in frame order."""
    try:
        frames = json.loads(text)["frames"]
        scores = [float(f["metrics"]["vmaf"]) for f in frames]
    except (ValueError, KeyError, TypeError) as e:
        raise PipelineError(where, f"not a libvmaf JSON log: {e!r}", stage="quality") from e
    if not scores:
        raise PipelineError(where, "libvmaf scored no frames", stage="quality")
    return scores


def mean(scores: Sequence[float]) -> float:
    return sum(scores) / len(scores)


def percentile(scores: Sequence[float], share: float) -> float:
    """The `share` (0..1) percentile, linear between ranks (numpy's default method)."""
    ordered = sorted(scores)
    rank = share * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def frame_sizes(text: str, where: str) -> list[tuple[float, int]]:
    """(seconds, bytes) per packet of stream 0 of a `framecrc` listing."""
    time_base: Fraction | None = None
    packets: list[tuple[float, int]] = []
    for line in text.splitlines():
        if line.startswith("#tb 0:"):
            time_base = Fraction(line.split(":", 1)[1].strip())
            continue
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        try:
            if int(fields[0]) != 0:
                continue
            pts, size = int(fields[2]), int(fields[4])
        except (ValueError, IndexError) as e:
            raise PipelineError(where, f"unreadable framecrc line {line!r}", stage="analyse") from e
        if time_base is None:
            raise PipelineError(where, "framecrc listing has no time base", stage="analyse")
        packets.append((float(pts * time_base), size))
    if not packets:
        raise PipelineError(where, "the complexity pass encoded no frames", stage="analyse")
    return packets


def score_windows(
    windows: Sequence[Sample], packets: Sequence[tuple[float, int]], pixels: int
) -> list[Sample]:
    """Each window with its complexity: bits per pixel per frame of its packets."""
    scored: list[Sample] = []
    for w in windows:
        sizes = [size for t, size in packets if w.start - 1e-6 <= t < w.end - 1e-6]
        bpp = 8 * sum(sizes) / (len(sizes) * pixels) if sizes else 0.0
        scored.append(w.model_copy(update={"complexity": round(bpp, 6)}))
    return scored
