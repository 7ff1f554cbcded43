"""Thumbnail (image) tracks: what the manifests declare, checked against the JPEG tile images.

HLS declares them with `EXT-X-IMAGE-STREAM-INF` (RESOLUTION = one thumbnail) and an image
playlist of `EXTINF` + `EXT-X-TILES` (LAYOUT, DURATION) per image; DASH with an image
AdaptationSet (Representation @width/@height = the whole tile image, thumbnail_tile property =
the grid, SegmentTemplate@duration = one image). Either way, each tile image must exist, be a
JPEG of exactly grid x thumbnail size (and decode, when decoding), each image must cover
grid x thumbnail duration (the last may end early), and together they must cover the title.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

from core.settings import ffmpeg_exe
from pipeline.bitstream.jpeg import JpegError, pictures
from pipeline.validate.fetch import Fetcher, FetchError, resolve
from pipeline.validate.hls import attributes
from pipeline.validate.media import report_fetch_error
from pipeline.validate.model import Sink

MAX_IMAGE_BYTES = 20 * 1024 * 1024
THUMBNAIL_SCHEMES = (
    "http://dashif.org/thumbnail_tile",
    "http://dashif.org/guidelines/thumbnail_tile",
)
TIMING_SLACK = 0.002  # seconds: manifests print durations to the millisecond


@dataclass
class TileImage:
    uri: str
    start: float  # seconds
    duration: float


@dataclass
class ImageTrack:
    """One thumbnail track as a manifest declares it."""

    manifest: str
    name: str
    width: int  # one thumbnail
    height: int
    columns: int
    rows: int
    tile_seconds: float  # one thumbnail's time
    images: list[TileImage] = field(default_factory=list)


def parse_layout(text: str | None) -> tuple[int, int] | None:
    cols, _, rows = (text or "").partition("x")
    if cols.isdigit() and rows.isdigit() and int(cols) > 0 and int(rows) > 0:
        return int(cols), int(rows)
    return None


def hls_image_track(
    master: str, attrs: dict[str, str], fetcher: Fetcher, sink: Sink
) -> ImageTrack | None:
    """The image playlist named by one EXT-X-IMAGE-STREAM-INF (attributes given), or None
    after reporting why it cannot be read."""
    uri = resolve(master, attrs.get("URI", ""))
    size = parse_layout(attrs.get("RESOLUTION"))
    if "URI" not in attrs or size is None:
        sink.add("image.declared", master, "EXT-X-IMAGE-STREAM-INF needs URI and RESOLUTION=WxH")
        return None
    try:
        text = fetcher.text(uri)
    except FetchError as e:
        report_fetch_error(sink, e)
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "#EXT-X-IMAGES-ONLY" not in lines:
        sink.add("image.declared", uri, "image playlist lacks EXT-X-IMAGES-ONLY")
    track: ImageTrack | None = None
    start, duration = 0.0, None
    for line in lines:
        if line.startswith("#EXTINF:"):
            duration = _number(line[len("#EXTINF:") :].split(",")[0])
        elif line.startswith("#EXT-X-TILES:"):
            tiles = attributes(line)
            grid, thumb = parse_layout(tiles.get("LAYOUT")), parse_layout(tiles.get("RESOLUTION"))
            seconds = _number(tiles.get("DURATION", ""))
            if grid is None or thumb is None or seconds is None:
                sink.add("image.declared", uri, "EXT-X-TILES needs RESOLUTION, LAYOUT, DURATION")
                return None
            if thumb != size:
                sink.add(
                    "image.declared",
                    uri,
                    f"EXT-X-TILES RESOLUTION {thumb[0]}x{thumb[1]} differs from the master's "
                    f"{size[0]}x{size[1]}",
                )
            if track is None:
                track = ImageTrack(master, fetcher.display(uri), *thumb, *grid, seconds)
            elif (track.columns, track.rows) != grid or abs(track.tile_seconds - seconds) > 1e-3:
                sink.add("image.declared", uri, "EXT-X-TILES changes layout or duration")
        elif not line.startswith("#"):
            if track is None or duration is None:
                sink.add("image.declared", uri, f"image {line} without EXTINF and EXT-X-TILES")
                return None
            track.images.append(TileImage(resolve(uri, line), start, duration))
            start += duration
            duration = None
    if track is None or not track.images:
        sink.add("image.declared", uri, "image playlist lists no tile image")
        return None
    return track


def dash_image_track(
    mpd: str, r, rep, aset, period_seconds: float | None, sink: Sink
) -> ImageTrack | None:
    """A DASH thumbnail Representation (`r`: its resolved segments; `rep`, `aset`: the parsed
    nodes) as an ImageTrack: the grid from its thumbnail_tile property, the thumbnail size
    from @width/@height over the grid, one tile image per SegmentTemplate@duration."""
    props = (rep.essential_properties or []) + (aset.essential_properties or [])
    tile = next((p for p in props if p.scheme_id_uri in THUMBNAIL_SCHEMES), None)
    grid = parse_layout(tile.value if tile is not None else None)
    if grid is None or not (rep.width and rep.height) or not r.segments or r.timeline:
        sink.add(
            "image.declared",
            mpd,
            f"image Representation {r.id} needs a thumbnail_tile EssentialProperty "
            "(COLSxROWS), @width, @height and SegmentTemplate@media with @duration",
        )
        return None
    cols, rows = grid
    image_seconds = r.segments[0].d / r.timescale
    track = ImageTrack(
        mpd, r.id, rep.width // cols, rep.height // rows, cols, rows, image_seconds / (cols * rows)
    )
    for k, seg in enumerate(r.segments):
        start = k * image_seconds
        end = start + image_seconds
        if period_seconds is not None:
            end = min(end, period_seconds)
        track.images.append(TileImage(seg.uri, start, end - start))
    return track


def check_image_track(
    track: ImageTrack, title_seconds: float | None, fetcher: Fetcher, sink: Sink, *, decode: bool
) -> None:
    """Every tile image against the declaration, and the timing against the title."""
    grid_w, grid_h = track.columns * track.width, track.rows * track.height
    per_image = track.columns * track.rows * track.tile_seconds
    for k, image in enumerate(track.images):
        last = k == len(track.images) - 1
        if abs(image.duration - per_image) > TIMING_SLACK and not (
            last and image.duration < per_image
        ):
            sink.add(
                "image.timing",
                track.manifest,
                f"{track.name} image {k + 1} covers {image.duration:.3f} s; a full "
                f"{track.columns}x{track.rows} grid of {track.tile_seconds:g} s is {per_image:g} s",
            )
        try:
            data = fetcher.get(image.uri, limit=MAX_IMAGE_BYTES)
        except FetchError as e:
            report_fetch_error(sink, e)
            continue
        where = fetcher.display(image.uri)
        try:
            found = list(pictures(data))
        except JpegError as e:
            sink.add("image.decode", where, f"not a JPEG: {e}")
            continue
        if len(found) != 1:
            sink.add("image.decode", where, f"holds {len(found)} JPEG pictures, not one")
            continue
        if (found[0].width, found[0].height) != (grid_w, grid_h):
            sink.add(
                "image.tile",
                where,
                f"is {found[0].width}x{found[0].height}; declared {track.columns}x{track.rows} "
                f"thumbnails of {track.width}x{track.height} make {grid_w}x{grid_h}",
            )
        if decode:
            _decode(data, where, sink)
    if title_seconds is not None and track.images:
        covered = track.images[-1].start + track.images[-1].duration
        if covered < title_seconds - max(TIMING_SLACK, track.tile_seconds):
            sink.add(
                "image.coverage",
                track.manifest,
                f"{track.name}: thumbnails cover {covered:.3f} s of a {title_seconds:.3f} s title",
            )


def _decode(data: bytes, where: str, sink: Sink) -> None:
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-f", "mjpeg", "-i", "pipe:0"]
    try:
        done = subprocess.run(
            [*argv, "-f", "null", "-"], input=data, capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        sink.add("image.decode", where, f"cannot run FFmpeg to decode it: {e}")
        return
    if done.returncode != 0 or done.stderr.strip():
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        sink.add("image.decode", where, f"FFmpeg cannot decode it: {reason[-1] if reason else ''}")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None
