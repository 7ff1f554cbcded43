"""Which scrubbing thumbnails a title gets: sizes fitted to the source, interval on the GOP grid.

Pure. Each class's `thumbnails` (ladders/*.yaml) names 16:9 reference boxes; like rungs, a box
is fitted to the source's display aspect ratio (portrait sources get portrait thumbnails,
anamorphic ones square pixels) and never exceeds the source. Classes asking for the same size
and timing share one set. The interval is a whole number of GOPs, so every thumbnail is the
picture at an IDR time: the frame a player shows right after seeking there. A short title gets
a smaller grid (the fewest rows, then the fewest columns that hold them all), so its one tile
image is not mostly black.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

from pipeline.media.info import VideoStream
from pipeline.media.plan import ThumbnailSet
from pipeline.planning.ladder import Ladder

_EPSILON = 1e-6
# Audio ends up to one codec frame (21-32 ms at 48 kHz) after the picture, and the DASH period is
# the longest track: thumbnails must reach a little past the picture, or a player would count
# one more tile image than exists when the picture ends exactly on the grid. The encode holds
# the last picture to fill that place (`encode.thumbnail_cmd`).
END_SLACK_SECONDS = 0.1


def plan_thumbnails(
    video: VideoStream,
    duration: float,
    ladders: Mapping[str, Ladder],
    classes: Sequence[str],
    *,
    gop_seconds: float,
) -> list[ThumbnailSet]:
    """One ThumbnailSet per distinct (size, interval, grid, quality) over `classes`."""
    sets: dict[tuple, ThumbnailSet] = {}
    for device_class in classes:
        config = ladders[device_class].thumbnails
        if config is None or duration <= 0:
            continue
        interval = thumbnail_interval(config.interval_seconds, gop_seconds)
        count = max(1, math.ceil((duration + END_SLACK_SECONDS) / interval - _EPSILON))
        columns, rows = tile_grid(count, config.columns, config.rows)
        for box in config.sizes:
            width, height = fit_thumbnail(
                video.display_width, video.display_height, box.width, box.height
            )
            key = (width, height, interval, columns, rows, config.jpeg_qscale)
            if key in sets:
                sets[key].device_classes.append(device_class)
                continue
            sets[key] = ThumbnailSet(
                name=f"thumbs{width}x{height}",
                width=width,
                height=height,
                interval=interval,
                columns=columns,
                rows=rows,
                count=count,
                jpeg_qscale=config.jpeg_qscale,
                max_image_bytes=config.max_image_kb * 1024,
                tonemap=video.hdr,
                device_classes=[device_class],
            )
    return _unique_names(sorted(sets.values(), key=lambda s: (s.width * s.height, s.interval)))


def thumbnail_interval(wanted: float, gop_seconds: float) -> float:
    """`wanted` rounded to a whole number of GOPs (at least one)."""
    gops = max(1, round(wanted / gop_seconds))
    return gops * gop_seconds


def tile_grid(count: int, columns: int, rows: int) -> tuple[int, int]:
    """The configured grid, shrunk for a title with fewer thumbnails than one image holds."""
    if count >= columns * rows:
        return columns, rows
    used_rows = math.ceil(count / columns)
    return math.ceil(count / used_rows), used_rows


def fit_thumbnail(src_w: int, src_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """Even size with the source's display aspect ratio inside the box (turned for a portrait
    source), never larger than the source."""
    if src_h > src_w:
        box_w, box_h = box_h, box_w
    scale = min(Fraction(box_w, src_w), Fraction(box_h, src_h), Fraction(1))
    return _even(src_w * scale), _even(src_h * scale)


def _even(value: Fraction) -> int:
    return max(2, 2 * round(value / 2))


def _unique_names(sets: list[ThumbnailSet]) -> list[ThumbnailSet]:
    seen: dict[str, int] = {}
    out = []
    for s in sets:
        n = seen.get(s.name, 0)
        seen[s.name] = n + 1
        out.append(s if n == 0 else s.model_copy(update={"name": f"{s.name}-{n + 1}"}))
    return out
