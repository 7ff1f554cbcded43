"""FFmpeg filter chains and outputs for scrubbing thumbnails: pure functions from the plan.

The thumbnails branch off the same decoded (shifted, deinterlaced) picture as the rungs, so
the in-process ingest decodes the source once for the whole ladder and its thumbnails. `select`
keeps the first frame at or after each multiple of the interval (the IDR times: the interval is
whole GOPs; `tpad` holds the last picture for a thumbnail planned just past the end), `tile`
packs `columns` x `rows` of them into one picture (the last one padded with black), and the raw
`mjpeg` muxer writes every tile image as one JPEG, back to back, into a single file: one output
per size, which the work bucket moves like any rendition and the packager splits into numbered
JPEG files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipeline.media.plan import ThumbnailSet

# A frame this close before a multiple of the interval counts as on it (timestamps in the
# filter are rounded to the stream's time base; frames are >= 8 ms apart even at 120 fps).
_SLACK_SECONDS = 0.0005


def thumbnail_chains(
    sets: Sequence[ThumbnailSet],
    source: str,
    new_label: Callable[[], str],
    tonemap_chain: str,
) -> tuple[list[str], dict[str, str]]:
    """Filter chains from the decoded picture `source` to one tile stream per set, and set name
    -> output label. Sets of one interval share the `select`; tone-mapping (HDR sources) runs
    once, after the select, on the few frames kept."""
    chains: list[str] = []
    labels: dict[str, str] = {}
    by_interval: dict[tuple[float, int, bool], list[ThumbnailSet]] = {}
    for s in sets:
        by_interval.setdefault((s.interval, s.count, s.tonemap), []).append(s)
    heads = _split(source, len(by_interval), new_label, chains)
    for ((interval, count, tonemap), group), head in zip(by_interval.items(), heads, strict=True):
        filters = [hold_last(interval), select_filter(interval, count)]
        filters += [tonemap_chain] if tonemap else []
        picked = new_label()
        chains.append(f"{head}{','.join(filters)}{picked}")
        for s, branch in zip(group, _split(picked, len(group), new_label, chains), strict=True):
            label = new_label()
            chains.append(f"{branch}{tile_filters(s)}{label}")
            labels[s.name] = label
    return chains, labels


def hold_last(interval: float) -> str:
    """Repeat the last picture for one interval, so a thumbnail planned just past the picture's
    end (see `planning.thumbnails.END_SLACK_SECONDS`) shows the final frame."""
    return f"tpad=stop_mode=clone:stop_duration={interval:g}"


def select_filter(interval: float, count: int) -> str:
    """Keep the first frame at or after every multiple of `interval` seconds, `count` at most
    (frames past the programme's end, if the source has any, make no extra thumbnail)."""
    return f"select='gte(t+{_SLACK_SECONDS:g}\\,selected_n*{interval:g})*lt(selected_n\\,{count})'"


def tile_filters(s: ThumbnailSet) -> str:
    """Scale to the thumbnail size (full-range, as JPEG expects) and pack the grid."""
    return (
        f"scale={s.width}:{s.height}:out_range=full,setsar=1,format=yuvj420p,"
        f"tile={s.columns}x{s.rows}"
    )


def thumbnail_output_args(s: ThumbnailSet, label: str) -> list[str]:
    """Encoder and muxer options for one thumbnail set (output path not included): every tile
    image is written as it comes (no frame-rate conversion), as back-to-back JPEGs."""
    return [
        "-map", label, "-an", "-sn", "-dn", "-map_metadata", "-1",
        "-c:v", "mjpeg", "-q:v", str(s.jpeg_qscale),
        "-fps_mode", "passthrough", "-f", "mjpeg",
    ]  # fmt: skip


def _split(source: str, n: int, new_label: Callable[[], str], chains: list[str]) -> list[str]:
    if n == 1:
        return [source]
    labels = [new_label() for _ in range(n)]
    chains.append(f"{source}split={n}{''.join(labels)}")
    return labels
