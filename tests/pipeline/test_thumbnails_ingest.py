"""Thumbnails through a real ingest: the tile images FFmpeg made decode to the planned grid,
pictures sit at the planned times, the byte budget holds, and `vod validate` catches every
way the image tracks can disagree with their files."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from pipeline.bitstream.jpeg import pictures
from pipeline.encode.thumbnails import fit_budget
from pipeline.media.plan import ThumbnailSet
from pipeline.validate.title import validate
from playback.grant import encode_grant
from playback.tokens import PATH_PREFIX, sign_token
from tests.support.player_harness import fetch, serve_directory

pytestmark = pytest.mark.slow

THUMBS = "thumbs320x180"


def _decode_size(path: Path) -> tuple[int, int]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    width, height = out.strip().split(",")
    return int(width), int(height)


def _mean_luma(path: Path, crop: str) -> float:
    """Mean luma of a region of a picture (FFmpeg's signalstats YAVG)."""
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-i", str(path), "-vf", f"crop={crop},signalstats,"
         "metadata=print:key=lavfi.signalstats.YAVG", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    return float(re.findall(r"YAVG=([\d.]+)", out)[-1])


def test_sample_title_has_a_decodable_grid_of_six_thumbnails(sample_title: dict) -> None:
    title = sample_title["dir"]
    [thumbs] = [r for r in sample_title["summary"]["renditions"] if r["kind"] == "image"]
    # 12 s at one picture per 2 s, plus the last picture held for audio ending a frame later:
    # 7 pictures, so the 5x5 grid shrinks to 4x2, one tile image with one black cell
    assert (thumbs["id"], thumbs["tile_layout"], thumbs["segments"]) == (THUMBS, "4x2", 1)
    assert (thumbs["width"], thumbs["height"], thumbs["tile_seconds"]) == (320, 180, 2.0)
    assert sorted(p.name for p in (title / THUMBS).iterdir()) == ["1.jpg"]
    assert _decode_size(title / THUMBS / "1.jpg") == (1280, 360)
    lumas = [
        _mean_luma(title / THUMBS / "1.jpg", f"320:180:{(k % 4) * 320}:{(k // 4) * 180}")
        for k in range(8)
    ]
    assert min(lumas[:7]) > 40 and lumas[7] < 20, lumas  # seven pictures, then padding
    storyboard = (title / "thumbnails.vtt").read_text()
    assert storyboard.count("#xywh=") == 7  # the last cue runs to the title's end
    assert storyboard.endswith(
        f" --> 00:00:{sample_title['summary']['duration']:06.3f}\n"
        f"{THUMBS}/1.jpg#xywh=640,180,320,180\n"
    )


def test_generated_title_validates_clean_and_decodes(sample_title: dict) -> None:
    report = validate(sample_title["dir"])
    assert report.ok, report.format_text()
    assert not [v for v in report.violations if v.code.startswith("image.")]


def _copy(sample_title: dict, tmp_path: Path) -> Path:
    target = tmp_path / "sample"
    shutil.copytree(sample_title["dir"], target)
    return target


def _codes(title: Path) -> list[tuple[str, str]]:
    report = validate(title, decode=False)
    return [(v.code, v.message) for v in report.violations]


def test_validate_names_a_missing_tile_image(sample_title: dict, tmp_path: Path) -> None:
    title = _copy(sample_title, tmp_path)
    (title / THUMBS / "1.jpg").unlink()
    report = validate(title, decode=False)
    # named once, though both the HLS image playlist and the DASH image set point at it
    assert [(v.code, v.where, v.message) for v in report.violations] == [
        ("file.missing", f"{THUMBS}/1.jpg", "no such file")
    ]


def test_validate_catches_a_layout_that_does_not_match_the_jpeg(
    sample_title: dict, tmp_path: Path
) -> None:
    title = _copy(sample_title, tmp_path)
    playlist = title / f"{THUMBS}.m3u8"
    playlist.write_text(playlist.read_text().replace("LAYOUT=4x2", "LAYOUT=5x2"))
    found = _codes(title)
    assert found == [
        ("image.tile", "is 1280x360; declared 5x2 thumbnails of 320x180 make 1600x360")
    ]


def test_validate_catches_a_truncated_tile_and_a_short_timeline(
    sample_title: dict, tmp_path: Path
) -> None:
    title = _copy(sample_title, tmp_path)
    tile = title / THUMBS / "1.jpg"
    tile.write_bytes(tile.read_bytes()[:-500])
    mpd = title / "manifest.mpd"
    text = mpd.read_text()
    assert 'duration="16000"' in text  # one 4x2 grid of 2 s pictures
    mpd.write_text(text.replace('duration="16000"', 'duration="8000"'))  # 4x2 of 1 s
    codes = sorted(code for code, _ in _codes(title))
    # the broken tile is named once; the DASH grid now claims 1 s pictures, so the 12.02 s
    # period needs 2 tile images, and 2 is missing
    assert codes == ["file.missing", "image.decode"]


def test_validate_refuses_an_image_set_without_its_grid(sample_title: dict, tmp_path: Path) -> None:
    title = _copy(sample_title, tmp_path)
    mpd = title / "manifest.mpd"
    mpd.write_text(re.sub(r"<EssentialProperty [^>]*thumbnail_tile[^>]*/>", "", mpd.read_text()))
    assert _codes(title) == [
        (
            "image.declared",
            f"image Representation {THUMBS} needs a thumbnail_tile EssentialProperty "
            "(COLSxROWS), @width, @height and SegmentTemplate@media with @duration",
        )
    ]


def test_validate_catches_thumbnails_that_stop_early(sample_title: dict, tmp_path: Path) -> None:
    title = _copy(sample_title, tmp_path)
    playlist = title / f"{THUMBS}.m3u8"
    playlist.write_text(re.sub(r"#EXTINF:12\.\d+,", "#EXTINF:6.000000,", playlist.read_text()))
    [(code, message)] = _codes(title)
    assert code == "image.coverage"
    assert re.fullmatch(
        rf"{THUMBS}\.m3u8: thumbnails cover 6\.000 s of a 12\.0\d\d s title", message
    )


def test_byte_budget_re_encodes_only_the_images_above_it(tmp_path: Path) -> None:
    stream = tmp_path / "t.mjpeg"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=960x360:rate=1:duration=2",
         "-vf", "format=yuvj420p", "-c:v", "mjpeg", "-q:v", "2", "-f", "mjpeg", str(stream)],
        check=True,
    )  # fmt: skip
    before = [p.end - p.start for p in pictures(stream.read_bytes())]
    assert len(before) == 2
    budget = min(before) - 1  # both images are above it
    s = ThumbnailSet(name="t", width=320, height=180, interval=2.0, columns=3, rows=2, count=6,
                     jpeg_qscale=2, max_image_bytes=budget)  # fmt: skip
    assert fit_budget(stream, s) == []
    after = list(pictures(stream.read_bytes()))
    assert [(p.width, p.height) for p in after] == [(960, 360), (960, 360)]
    assert all(p.end - p.start <= budget for p in after)
    assert _decode_size(stream) == (960, 360)
    impossible = s.model_copy(update={"max_image_bytes": 600})
    warnings = fit_budget(stream, impossible)
    assert len(warnings) == 2 and warnings[0].startswith("t image 1 is ")
    assert warnings[0].endswith("bytes at JPEG q 31, above the 600 byte budget")


SECRET = b"thumbnail-scope-secret"


def test_thumbnails_are_served_clear_but_only_under_the_titles_token(sample_title: dict) -> None:
    tile = (sample_title["dir"] / THUMBS / "1.jpg").read_bytes()
    now = int(time.time()) - 5
    own = sign_token(SECRET, "/sample/*", start=now, lifetime=300)
    other = sign_token(SECRET, "/other/*", start=now, lifetime=300)
    without_thumbs = encode_grant(["v360p365"], [], "http://api.test/keys", "cred")
    with_thumbs = encode_grant(["v360p365", THUMBS], [], "http://api.test/keys", "cred")
    session = sign_token(SECRET, "/sample/*", start=now, lifetime=300, data=with_thumbs)
    narrow = sign_token(SECRET, "/sample/*", start=now, lifetime=300, data=without_thumbs)

    def url(base: str, token: str, rel: str) -> str:
        return f"{base}{PATH_PREFIX}{quote(token, safe='')}/sample/{rel}"

    with serve_directory(sample_title["origin"], token_secret=SECRET) as base:
        assert fetch(f"{base}/sample/{THUMBS}/1.jpg") == (403, b"token refused: missing\n")
        assert fetch(url(base, other, f"{THUMBS}/1.jpg")) == (403, b"token refused: out_of_scope\n")
        assert fetch(url(base, own, f"{THUMBS}/1.jpg")) == (200, tile)  # clear, as players expect
        assert fetch(url(base, session, f"{THUMBS}/1.jpg")) == (200, tile)
        assert fetch(url(base, narrow, f"{THUMBS}/1.jpg"))[0] == 403  # not in the session grant
        assert fetch(url(base, session, "thumbnails.vtt"))[0] == 200
        status, mpd = fetch(url(base, session, "manifest.mpd"))
        assert status == 200 and b'contentType="image"' in mpd
        status, mpd = fetch(url(base, narrow, "manifest.mpd"))
        assert status == 200 and b'contentType="image"' not in mpd
        status, master = fetch(url(base, session, "master.m3u8"))
        assert status == 200 and master.count(b"#EXT-X-IMAGE-STREAM-INF:") == 1
        status, master = fetch(url(base, narrow, "master.m3u8"))
        assert status == 200 and b"#EXT-X-IMAGE-STREAM-INF:" not in master
