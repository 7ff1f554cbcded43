"""Scrubbing thumbnails, end to end: shaka-player finds the one image track in both manifests
and places every time in the right cell of the right tile image, whose picture is the source
frame at that time (FFmpeg SSIM); the WebVTT storyboard covers the title; the watch page
previews the thumbnail under the pointer with shaka-player (image track) and hls.js
(storyboard), and without thumbnails its seek bar still works."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipeline.validate.title import validate
from pipeline.workflow.title import ingest
from tests.support.player_harness import PlayerSession, fetch, serve_directory
from tests.support.requirements import requires

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "fixtures" / "sample.mov"
TITLE = "thumbs"
SIZE = (320, 180)  # web's thumbnail box; sample.mov is 16:9
INTERVAL = 2.0
FPS = 30  # sample.mov
TIMES = [0.5, 3.1, 7.9, 11.5]
MANIFESTS = ["master.m3u8", "manifest.mpd"]
WRONG_OFFSET = 4.0
# SSIM (FFmpeg `ssim`, both pictures as yuv420p) of a 320x180 crop of a tile image against the
# source frame scaled to 320x180, measured on sample.mov (Debian FFmpeg 5.1, JPEG q 5):
#   the right frame (k * 2 s)            0.9926 .. 0.9936
#   the frame 4 s away                   0.917  .. 0.934
#   a frame 1 to 2 frames (33-67 ms) off 0.87   .. 0.93
# 0.97 keeps 0.02 of margin for other FFmpeg / libjpeg builds and is far above a wrong tile, a
# wrong cell or a thumbnail one frame early or late.
SSIM_MIN = 0.97
# Source frames 4 s apart must differ at least this much, or the wrong-frame check proves
# nothing (measured 0.920 .. 0.937: the moving line and the frame counter).
SOURCE_CHANGE_MAX = 0.95

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    requires(shutil.which("ffmpeg") and shutil.which("ffprobe"), "FFmpeg", "run scripts/setup.sh"),
]


@dataclass
class Packaged:
    origin: Path
    title_dir: Path
    duration: float


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    """sample.mov ingested once for the web class. Validation runs in its own test, so a
    validator complaint does not hide what the players make of the thumbnails."""
    origin = tmp_path_factory.mktemp("thumbs-origin")
    result = ingest(SOURCE, TITLE, origin, device_classes=["web"], validate_output=False)
    return Packaged(origin, Path(result.title_dir), result.presentation.duration)


@pytest.fixture(scope="module")
def layout(packaged: Packaged) -> tuple[int, int]:
    """(columns, rows) of the tile images as the image playlist declares them (the 5x5 grid
    shrunk for a 12 s title); the DASH thumbnail_tile property must say the same."""
    playlist = packaged.title_dir / f"thumbs{SIZE[0]}x{SIZE[1]}.m3u8"
    grids = set(re.findall(r"#EXT-X-TILES:.*LAYOUT=(\d+)x(\d+)", playlist.read_text()))
    mpd = (packaged.title_dir / "manifest.mpd").read_text()
    dash = set(re.findall(r'thumbnail_tile" value="(\d+)x(\d+)"', mpd))
    assert len(grids) == 1 and dash == grids, (grids, dash)
    columns, rows = (int(v) for v in grids.pop())
    assert columns * rows >= packaged.duration / INTERVAL, "one image should hold a 12 s title"
    return columns, rows


@pytest.fixture(scope="module")
def base(packaged: Packaged) -> Iterator[str]:
    with serve_directory(packaged.origin) as url:
        yield url


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory):
    """Source frame at a time, scaled to the thumbnail size, as a PNG (cached)."""
    folder = tmp_path_factory.mktemp("source-frames")
    made: dict[float, Path] = {}

    def frame(seconds: float) -> Path:
        if seconds not in made:
            out = folder / f"{seconds:.3f}.png"
            # -ss before -i seeks accurately when transcoding: the first frame at or after it.
            _ffmpeg("-ss", f"{seconds:.3f}", "-i", SOURCE, "-frames:v", "1", "-vf",
                    f"scale={SIZE[0]}:{SIZE[1]}", out)  # fmt: skip
            made[seconds] = out
        return made[seconds]

    return frame


# --- the watch page -----------------------------------------------------------------------

# Loaded: the duration known and the video's size too (the page's layout, and so the seek
# bar's place, changes when the video element takes the picture's size).
READY_JS = """() => {
  const s = window.vodStatus;
  const video = document.getElementById('video');
  return !!s && (!!s.error || (s.state !== 'loading' && s.state !== 'idle' && !!s.duration &&
    video.readyState >= 1 && video.videoWidth > 0));
}"""
SETTLED_JS = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"

SHAKA_THUMBNAILS_JS = """async (times) => {
  const p = window.vodPlayer;
  const tracks = p.getImageTracks().map((t) => ({
    id: t.id, width: t.width, height: t.height, mimeType: t.mimeType,
    tilesLayout: t.tilesLayout,
  }));
  const thumbs = [];
  for (const t of times) {
    const th = tracks.length ? await p.getThumbnails(tracks[0].id, t) : null;
    thumbs.push(th && {
      uri: th.uris[0], x: th.positionX, y: th.positionY, width: th.width, height: th.height,
      startTime: th.startTime, imageWidth: th.imageWidth, imageHeight: th.imageHeight,
    });
  }
  return {tracks, thumbs};
}"""

PREVIEW_JS = """() => {
  const preview = document.getElementById('thumb-preview');
  const image = document.getElementById('thumb-image');
  const style = getComputedStyle(image);
  return {
    time: parseFloat(preview.dataset.time),
    label: document.getElementById('thumb-time').textContent,
    backgroundImage: style.backgroundImage, backgroundPosition: style.backgroundPosition,
    width: image.offsetWidth, height: image.offsetHeight,
  };
}"""


@contextmanager
def watch_page(browser: PlayerSession, base: str, title: str, player: str, manifest: str):
    """The watch page for a title, loaded (duration known, nothing playing); yields the page
    and the responses it received (URL -> status)."""
    context = browser.browser.new_context(viewport={"width": 1280, "height": 800})
    responses: dict[str, int] = {}
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("response", lambda r: responses.__setitem__(r.url, r.status))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/?title={title}&player={player}&manifest={manifest}")
        page.wait_for_function(READY_JS, timeout=30_000)
        page.evaluate(SETTLED_JS)
        error = page.evaluate("() => window.vodStatus.error")
        assert error is None, error
        yield page, responses
        assert not errors, errors
    finally:
        context.close()


@pytest.fixture(scope="module")
def shaka_view(browser: PlayerSession, base: str):
    """manifest -> what shaka-player reports: image tracks and getThumbnails at TIMES."""
    seen: dict[str, dict[str, Any]] = {}

    def view(manifest: str) -> dict[str, Any]:
        if manifest not in seen:
            kind = "dash" if manifest.endswith(".mpd") else "hls"
            with watch_page(browser, base, TITLE, "shaka", kind) as (page, _):
                seen[manifest] = page.evaluate(SHAKA_THUMBNAILS_JS, TIMES)
        return seen[manifest]

    return view


def test_title_with_thumbnails_validates(packaged: Packaged) -> None:
    report = validate(packaged.title_dir)
    assert report.ok, report.format_text()


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_shaka_lists_one_image_track(shaka_view, layout: tuple[int, int], manifest: str) -> None:
    tracks = shaka_view(manifest)["tracks"]
    assert len(tracks) == 1, tracks
    track = tracks[0]
    assert track["mimeType"] == "image/jpeg"
    # shaka reports an HLS image track at its tile-image size, a DASH one at the thumbnail size.
    grid = (layout[0] * SIZE[0], layout[1] * SIZE[1])
    assert (track["width"], track["height"]) in (SIZE, grid), track


@pytest.mark.parametrize("manifest", MANIFESTS)
@pytest.mark.parametrize("index", range(len(TIMES)), ids=[f"{t}s" for t in TIMES])
def test_shaka_thumbnail_is_the_source_frame(
    shaka_view, frames, layout, tmp_path: Path, packaged: Packaged, manifest: str, index: int
) -> None:
    columns, rows = layout
    t = TIMES[index]
    view = shaka_view(manifest)
    thumb = view["thumbs"][index]
    assert thumb is not None, f"no thumbnail at {t} s (image tracks: {view['tracks']})"
    k = math.floor(t / INTERVAL)
    assert thumb["startTime"] == pytest.approx(k * INTERVAL, abs=1e-3)
    assert (thumb["width"], thumb["height"]) == SIZE
    assert (thumb["imageWidth"], thumb["imageHeight"]) == (columns * SIZE[0], rows * SIZE[1])
    cell = k % (columns * rows)
    assert (thumb["x"], thumb["y"]) == ((cell % columns) * SIZE[0], (cell // columns) * SIZE[1])
    image = k // (columns * rows) + 1
    assert urlsplit(thumb["uri"]).path == f"/{TITLE}/thumbs{SIZE[0]}x{SIZE[1]}/{image}.jpg"

    status, body = fetch(thumb["uri"])
    assert status == 200, thumb["uri"]
    tile = tmp_path / "tile.jpg"
    tile.write_bytes(body)
    crop = tmp_path / "crop.png"
    x, y, w, h = (round(thumb[key]) for key in ("x", "y", "width", "height"))
    _ffmpeg("-i", tile, "-vf", f"crop={w}:{h}:{x}:{y}", crop)

    start = thumb["startTime"]
    wrong_time = start + WRONG_OFFSET
    if wrong_time > packaged.duration - 1 / FPS:
        wrong_time = start - WRONG_OFFSET
    right, wrong = frames(start), frames(wrong_time)
    change = ssim(right, wrong)
    assert change < SOURCE_CHANGE_MAX, f"source at {start} s and {wrong_time} s hardly differ"
    on_time, off_time = ssim(crop, right), ssim(crop, wrong)
    assert on_time >= SSIM_MIN, f"SSIM {on_time:.4f} against the source at {start} s"
    assert on_time > off_time, f"SSIM {on_time:.4f} at {start} s, {off_time:.4f} at {wrong_time} s"


# --- WebVTT storyboard ----------------------------------------------------------------------


@dataclass
class Cue:
    start: float
    end: float
    uri: str
    xywh: tuple[int, int, int, int]


def _vtt_seconds(text: str) -> float:
    parts = text.strip().split(":")
    return sum(float(p) * 60**i for i, p in enumerate(reversed(parts)))


def parse_storyboard(text: str) -> list[Cue]:
    """Cues of a WebVTT storyboard; each must point at an image with a `#xywh=` fragment."""
    assert text.startswith("WEBVTT"), text[:40]
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())[1:]:
        lines = [line for line in block.splitlines() if line.strip()]
        timing = next(i for i, line in enumerate(lines) if "-->" in line)
        start, end = lines[timing].split("-->")
        payload = lines[timing + 1].strip()
        uri, _, fragment = payload.partition("#")
        found = re.fullmatch(r"xywh=(?:pixel:)?(\d+),(\d+),(\d+),(\d+)", fragment)
        assert found, f"cue without #xywh=x,y,w,h: {payload}"
        xywh = tuple(int(v) for v in found.groups())
        cues.append(Cue(_vtt_seconds(start), _vtt_seconds(end.split()[0]), uri, xywh))  # type: ignore[arg-type]
    return cues


def image_size(path: Path) -> tuple[int, int]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    width, height = out.strip().split(",")
    return int(width), int(height)


def test_storyboard_covers_the_title(packaged: Packaged) -> None:
    board = packaged.title_dir / "thumbnails.vtt"
    cues = parse_storyboard(board.read_text(encoding="utf-8"))
    assert cues, "empty storyboard"
    assert cues[0].start == 0
    for before, after in zip(cues, cues[1:], strict=False):
        assert after.start == pytest.approx(before.end, abs=1e-3), (before, after)
    for cue in cues[:-1]:
        assert cue.end - cue.start == pytest.approx(INTERVAL, abs=1e-3), cue
    # The last picture's cue ends with the video; the presentation may run a few ms longer on
    # its audio (AAC frames), less than one video frame.
    assert packaged.duration - 1 / FPS <= cues[-1].end <= packaged.duration + 1e-3
    sizes: dict[str, tuple[int, int]] = {}
    for cue in cues:
        image = board.parent / cue.uri
        assert image.is_file(), cue.uri
        sizes.setdefault(cue.uri, image_size(image))
        x, y, w, h = cue.xywh
        width, height = sizes[cue.uri]
        assert (w, h) == SIZE, cue
        assert x + w <= width and y + h <= height, f"{cue} outside {cue.uri} ({width}x{height})"


# --- seek bar previews on the watch page ------------------------------------------------------


def hover(page: Any, fraction: float) -> None:
    box = page.locator("#seekbar").bounding_box()
    page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)


@pytest.mark.parametrize("player", ["shaka", "hls.js"])
def test_seek_bar_previews_the_thumbnail(
    browser: PlayerSession, base: str, packaged: Packaged, player: str
) -> None:
    with watch_page(browser, base, TITLE, player, "hls") as (page, responses):
        duration = page.evaluate("() => window.vodStatus.duration")
        width = page.locator("#seekbar").bounding_box()["width"]
        hover(page, 0.5)
        page.locator("#thumb-image").wait_for(state="visible", timeout=10_000)
        shown = page.evaluate(PREVIEW_JS)
        expected = page.evaluate("async (t) => window.vodThumbnailAt(t)", duration / 2)
        assert expected is not None, "vodThumbnailAt found no thumbnail at half the duration"
        assert shown["time"] == pytest.approx(duration / 2, abs=duration / width)
        assert expected["startTime"] == pytest.approx(
            math.floor(duration / 2 / INTERVAL + 1e-4) * INTERVAL, abs=1e-3
        )
        assert f'url("{expected["uri"]}")' == shown["backgroundImage"]
        assert urlsplit(expected["uri"]).path.startswith(f"/{TITLE}/thumbs{SIZE[0]}x{SIZE[1]}/")
        x, y = round(expected["x"]), round(expected["y"])
        assert shown["backgroundPosition"] == f"{-x}px {-y}px"
        assert (shown["width"], shown["height"]) == SIZE
        page.wait_for_function("(u) => performance.getEntriesByName(u).length > 0",
                               arg=expected["uri"], timeout=10_000)  # fmt: skip
        assert responses.get(expected["uri"]) == 200, responses

        hover(page, 0.25)  # the preview follows the pointer
        page.wait_for_function(
            "(t) => Math.abs(parseFloat(document.getElementById('thumb-preview').dataset.time)"
            " - t) < 0.5",
            arg=duration / 4,
        )
        page.mouse.down()  # and a click seeks
        page.mouse.up()
        page.wait_for_function(
            "(t) => Math.abs(document.getElementById('video').currentTime - t) < 0.2",
            arg=duration / 4,
        )
        page.mouse.move(0, 0)
        page.locator("#thumb-preview").wait_for(state="hidden")


@pytest.fixture(scope="module")
def old_title(packaged: Packaged, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The title as packaged before thumbnails: no image playlist in the master playlist, no
    storyboard. Served on its own origin; yields the base URL."""
    origin = tmp_path_factory.mktemp("old-origin")
    title = origin / TITLE
    shutil.copytree(packaged.title_dir, title)
    (title / "thumbnails.vtt").unlink()
    master = title / "master.m3u8"
    lines = master.read_text(encoding="utf-8").splitlines(keepends=True)
    master.write_text(
        "".join(line for line in lines if not line.startswith("#EXT-X-IMAGE-STREAM-INF")),
        encoding="utf-8",
    )
    with serve_directory(origin) as url:
        yield url


@pytest.mark.parametrize("player", ["shaka", "hls.js"])
def test_seek_bar_without_thumbnails(browser: PlayerSession, old_title: str, player: str) -> None:
    with watch_page(browser, old_title, TITLE, player, "hls") as (page, _):
        duration = page.evaluate("() => window.vodStatus.duration")
        assert page.evaluate("async (t) => window.vodThumbnailAt(t)", duration / 2) is None
        hover(page, 0.5)
        page.locator("#thumb-preview").wait_for(state="visible", timeout=10_000)
        assert page.locator("#thumb-image").is_hidden()
        assert page.evaluate(PREVIEW_JS)["label"] == _clock(duration / 2)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_function(
            "(t) => Math.abs(document.getElementById('video').currentTime - t) < 0.2",
            arg=duration / 2,
        )


# --- helpers ----------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    s = math.floor(seconds + 1e-3)
    return f"{s // 60}:{s % 60:02d}"


def _ffmpeg(*args: object) -> None:
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *map(str, args)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"


def ssim(a: Path, b: Path) -> float:
    """FFmpeg's SSIM ("All") of two single pictures, both converted to yuv420p (the PNGs are
    RGB; comparing RGB planes would weigh the JPEG's chroma subsampling far more)."""
    graph = "[0:v]format=yuv420p[a];[1:v]format=yuv420p[b];[a][b]ssim"
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(a), "-i", str(b),
            "-filter_complex", graph, "-f", "null", "-"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = re.search(r"SSIM .*All:([0-9.]+)", done.stderr)
    assert done.returncode == 0 and found, done.stderr
    return float(found.group(1))
