"""Scrubbing-thumbnail tracks in the manifests: HLS image playlists and the WebVTT storyboard.

Text in, text out, from the measured image Track (one segment per JPEG tile image).
HLS follows Roku's image media playlist specification, which shaka-player reads:
`#EXT-X-IMAGE-STREAM-INF` in the master (RESOLUTION is one thumbnail, CODECS "jpeg"), an
image playlist with `#EXT-X-IMAGES-ONLY` and per image `#EXT-X-TILES` (RESOLUTION, LAYOUT,
DURATION of one thumbnail). Every image declares the same full grid, the last one padded, since
players size the grid from the first. The DASH image AdaptationSet lives in `dash.py`.
"""

from __future__ import annotations

from core.errors import PackageError
from pipeline.manifest.common import extinf, target_duration
from pipeline.media.presentation import Track

STORYBOARD = "thumbnails.vtt"


def image_playlist_name(track: Track) -> str:
    return f"{track.id}.m3u8"


def image_stream_inf(track: Track) -> str:
    """The master playlist's line for one thumbnail track."""
    require_image_fields(track)
    return (
        f"#EXT-X-IMAGE-STREAM-INF:BANDWIDTH={track.bandwidth},"
        f"AVERAGE-BANDWIDTH={track.average_bandwidth},RESOLUTION={track.width}x{track.height},"
        f'CODECS="jpeg",URI="{image_playlist_name(track)}"'
    )


def image_playlist(track: Track, version: int) -> str:
    """The image media playlist: one EXTINF + EXT-X-TILES per tile image."""
    require_image_fields(track)
    infs = [extinf(s.duration, track.timescale) for s in track.segments]
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{version}",
        f"#EXT-X-TARGETDURATION:{target_duration(infs)}",
        f"#EXT-X-MEDIA-SEQUENCE:{track.segments[0].number}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-IMAGES-ONLY",
    ]
    tiles = (
        f"#EXT-X-TILES:RESOLUTION={track.width}x{track.height},LAYOUT={track.tile_layout},"
        f"DURATION={track.tile_seconds:.3f}"
    )
    for seg, inf in zip(track.segments, infs, strict=True):
        lines += [f"#EXTINF:{inf},", tiles, seg.uri]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def storyboard_vtt(track: Track, duration: float) -> str:
    """A WebVTT storyboard: one cue per thumbnail, `image.jpg#xywh=x,y,w,h` (the W3C media
    fragment of its place in the tile image), cues back to back up to `duration`."""
    require_image_fields(track)
    columns, rows = layout(track)
    step = track.tile_seconds or 0.0
    lines = ["WEBVTT", ""]
    for seg in track.segments:
        first = seg.start / track.timescale
        for k in range(columns * rows):
            start = first + k * step
            if start >= duration - 1e-6:
                break
            end = min(start + step, duration)
            x, y = (k % columns) * track.width, (k // columns) * track.height  # type: ignore[operator]
            lines += [
                f"{_vtt_time(start)} --> {_vtt_time(end)}",
                f"{seg.uri}#xywh={x},{y},{track.width},{track.height}",
                "",
            ]
    return "\n".join(lines)


def layout(track: Track) -> tuple[int, int]:
    """(columns, rows) of the track's tile images."""
    cols, _, rows = (track.tile_layout or "").partition("x")
    if not (cols.isdigit() and rows.isdigit() and int(cols) and int(rows)):
        raise PackageError(track.id, f"image track has no valid tile layout ({track.tile_layout})")
    return int(cols), int(rows)


def require_image_fields(track: Track) -> None:
    """Refuse an image track the writers cannot describe (no images, size, timing or grid)."""
    if not (track.segments and track.width and track.height and track.tile_seconds):
        raise PackageError(track.id, "image track lacks tile images, thumbnail size or timing")
    layout(track)


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
