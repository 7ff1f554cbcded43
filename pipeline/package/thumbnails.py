"""Package scrubbing thumbnails: cut the encoder's JPEG stream into numbered tile images.

Each set's encode is one file of back-to-back JPEGs (see `encode.thumbnail_cmd`); here each
picture becomes `<set>/<n>.jpg` (n from 1, DASH `$Number$`), after checking that the stream
holds exactly the planned images at the planned grid size. Thumbnails are never encrypted
(players draw them with an <img>); they are written once, beside the scheme folders, and every
scheme's manifests point at the same files. The measured image Track feeds the HLS, DASH and
WebVTT writers.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Mapping
from pathlib import Path

from core.errors import PackageError
from pipeline.bitstream.jpeg import JpegError, pictures
from pipeline.media.plan import ThumbnailSet
from pipeline.media.presentation import Segment, Track

TIMESCALE = 1000  # milliseconds: thumbnails sit on whole GOPs, far coarser than this


def package_thumbnails(
    sets: list[ThumbnailSet], outputs: Mapping[str, Path], title_dir: Path, duration: float
) -> list[Track]:
    """One image Track per set, its tile images written under `title_dir`."""
    return [_package_set(s, Path(outputs[s.name]), title_dir, duration) for s in sets]


def _package_set(s: ThumbnailSet, stream: Path, title_dir: Path, duration: float) -> Track:
    folder = title_dir / s.name
    folder.mkdir(parents=True, exist_ok=True)
    grid = (s.columns * s.width, s.rows * s.height)
    image_ms = round(s.per_image * s.interval * TIMESCALE)
    total_ms = round(duration * TIMESCALE)
    segments: list[Segment] = []
    with stream.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            found = list(pictures(data))
        except JpegError as exc:
            raise PackageError(stream, f"thumbnail stream is not valid JPEG: {exc}") from exc
        if len(found) != s.images:
            raise PackageError(stream, f"{len(found)} tile images for {s.name}, planned {s.images}")
        for number, picture in enumerate(found, start=1):
            if (picture.width, picture.height) != grid:
                raise PackageError(
                    stream,
                    f"tile image {number} is {picture.width}x{picture.height}, "
                    f"expected {grid[0]}x{grid[1]}",
                )
            (folder / f"{number}.jpg").write_bytes(data[picture.start : picture.end])
            start = (number - 1) * image_ms
            segments.append(
                Segment(
                    uri=f"{s.name}/{number}.jpg",
                    number=number,
                    start=start,
                    duration=min(image_ms, total_ms - start),
                    size=picture.end - picture.start,
                )
            )
    peak = max(seg.size * 8 * TIMESCALE / seg.duration for seg in segments)
    average = sum(seg.size for seg in segments) * 8 / duration
    return Track(
        id=s.name,
        kind="image",
        codecs="jpeg",
        timescale=TIMESCALE,
        segment_template=f"{s.name}/$Number$.jpg",
        segments=segments,
        bandwidth=math.ceil(peak),
        average_bandwidth=math.ceil(average),
        width=s.width,
        height=s.height,
        tile_layout=f"{s.columns}x{s.rows}",
        tile_seconds=s.interval,
    )
