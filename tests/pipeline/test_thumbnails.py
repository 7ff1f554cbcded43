"""Scrubbing thumbnails, the pure parts: planning (size, interval, grid), the FFmpeg branch and
parts, JPEG stream cutting, packaging into numbered tile images, and the HLS / DASH / WebVTT
text. The encode, validation and players are in test_thumbnails_ingest.py and
test_thumbnails_play.py."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
from lxml import etree

from core.errors import LadderError, PackageError
from pipeline.bitstream.jpeg import JpegError, pictures
from pipeline.encode.chunks import Chunk
from pipeline.encode.ffmpeg_cmd import build_chunk_command, build_transcode_command
from pipeline.encode.parts import part_plan, plan_parts
from pipeline.encode.thumbnail_cmd import select_filter, thumbnail_output_args, tile_filters
from pipeline.manifest.dash import write_mpd
from pipeline.manifest.hls import write_hls
from pipeline.manifest.images import image_playlist, image_stream_inf, storyboard_vtt
from pipeline.media.info import VideoStream
from pipeline.media.plan import Plan, ThumbnailSet, VideoRung
from pipeline.media.presentation import KeyFrame, Presentation, Segment, Track
from pipeline.package.thumbnails import package_thumbnails
from pipeline.planning.ladder import load_ladder, load_ladder_file
from pipeline.planning.thumbnails import (
    fit_thumbnail,
    plan_thumbnails,
    thumbnail_interval,
    tile_grid,
)
from tests.support.presentations import (
    audio_bounds,
    audio_track,
    frame_bounds,
    segments,
    video_track,
)

MPD = "{urn:mpeg:dash:schema:mpd:2011}"


def _video(width=1920, height=1080, *, sar="1:1", rotation=0, hdr=False) -> VideoStream:
    return VideoStream(
        index=0, codec="h264", width=width, height=height, sample_aspect_ratio=sar,
        rotation=rotation, frame_rate="25/1", fps=25.0, hdr=hdr,
    )  # fmt: skip


def _set(**over) -> ThumbnailSet:
    base = dict(name="thumbs320x180", width=320, height=180, interval=2.0, columns=5, rows=5,
                count=30, jpeg_qscale=5, max_image_bytes=400 * 1024)  # fmt: skip
    return ThumbnailSet(**(base | over))


# --- planning ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "box", "expected"),
    [
        ((1920, 1080), (320, 180), (320, 180)),  # 16:9 fits the box exactly
        ((1080, 1920), (320, 180), (180, 320)),  # portrait stays portrait
        ((1920, 800), (320, 180), (320, 134)),  # scope: the width limits (133.3 -> even 134)
        ((1440, 1080), (320, 180), (240, 180)),  # 4:3: the height limits
        ((160, 90), (320, 180), (160, 90)),  # never larger than the source
        ((480, 270), (480, 270), (480, 270)),
    ],
)
def test_thumbnail_size_keeps_the_display_aspect(source, box, expected):
    assert fit_thumbnail(*source, *box) == expected


def test_anamorphic_and_rotated_sources_get_square_pixel_thumbnails():
    ladders = {"web": load_ladder("web")}
    pal_wide = _video(720, 576, sar="64:45")  # 16:9 PAL: 1024x576 displayed
    [wide] = plan_thumbnails(pal_wide, 60.0, ladders, ["web"], gop_seconds=2.0)
    assert (wide.width, wide.height) == (320, 180)
    phone = _video(1920, 1080, rotation=90)
    [upright] = plan_thumbnails(phone, 60.0, ladders, ["web"], gop_seconds=2.0)
    assert (upright.width, upright.height, upright.name) == (180, 320, "thumbs180x320")


@pytest.mark.parametrize(
    ("wanted", "gop", "expected"),
    [(2.0, 2.0, 2.0), (3.0, 2.0, 4.0), (2.9, 2.0, 2.0), (0.5, 2.0, 2.0), (5.0, 1.0, 5.0)],
)
def test_interval_is_whole_gops(wanted, gop, expected):
    assert thumbnail_interval(wanted, gop) == expected


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, (1, 1)), (3, (3, 1)), (5, (5, 1)), (6, (3, 2)), (7, (4, 2)), (11, (4, 3)),
     (24, (5, 5)), (25, (5, 5)), (26, (5, 5)), (900, (5, 5))],
)  # fmt: skip
def test_grid_shrinks_for_short_titles_only(count, expected):
    assert tile_grid(count, 5, 5) == expected


def test_plan_counts_thumbnails_and_images():
    ladders = {"web": load_ladder("web")}
    [s] = plan_thumbnails(_video(), 59.0, ladders, ["web"], gop_seconds=2.0)
    assert (s.count, s.columns, s.rows, s.images, s.per_image) == (30, 5, 5, 2, 25)
    [s] = plan_thumbnails(_video(), 58.95, ladders, ["web"], gop_seconds=2.0)
    assert s.count == 30  # the last 0.95 s gets its own thumbnail
    # a picture ending on the grid gets one more (its last frame, held), so the thumbnails
    # reach past audio that ends a codec frame later
    [s] = plan_thumbnails(_video(), 60.0, ladders, ["web"], gop_seconds=2.0)
    assert s.count == 31
    [s] = plan_thumbnails(_video(), 50.0, ladders, ["web"], gop_seconds=2.0)
    assert (s.count, s.images) == (26, 2)
    assert s.max_image_bytes == 400 * 1024 and s.jpeg_qscale == 5
    assert s.device_classes == ["web"] and not s.tonemap


def test_classes_share_a_size_and_hdr_sources_are_tonemapped():
    ladders = {c: load_ladder(c) for c in ("web", "mobile", "tv")}
    sets = plan_thumbnails(
        _video(hdr=True), 20.0, ladders, ["web", "mobile", "tv"], gop_seconds=2.0
    )
    assert [(s.name, s.device_classes) for s in sets] == [
        ("thumbs320x180", ["web", "mobile"]),
        ("thumbs480x270", ["tv"]),
    ]
    assert all(s.tonemap for s in sets)


def _web_without_thumbnails() -> str:
    text = (Path(__file__).parents[2] / "ladders" / "web.yaml").read_text()
    return text.split("# Scrubbing thumbnails")[0]


def test_a_ladder_without_thumbnails_plans_none(tmp_path: Path):
    plain = tmp_path / "web.yaml"
    plain.write_text(_web_without_thumbnails())
    ladder = load_ladder_file(plain)
    assert ladder.thumbnails is None
    assert plan_thumbnails(_video(), 60.0, {"web": ladder}, ["web"], gop_seconds=2.0) == []


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ("thumbnails:\n  sizes: [{width: 321, height: 180}]\n", "must be even"),
        ("thumbnails:\n  sizes: []\n", "at least 1 item"),
        ("thumbnails:\n  sizes: [{width: 320, height: 180}]\n  colums: 4\n", "unknown key"),
        ("thumbnails:\n  sizes: [{width: 320, height: 180}]\n  jpeg_qscale: 1\n", "jpeg_qscale"),
    ],
)
def test_ladder_thumbnail_blocks_are_checked(tmp_path: Path, block, problem):
    path = tmp_path / "web.yaml"
    path.write_text(_web_without_thumbnails() + block)
    with pytest.raises(LadderError) as err:
        load_ladder_file(path)
    assert problem in str(err.value) and "thumbnails" in str(err.value)


# --- the encode branch --------------------------------------------------------------------


def _plan(thumbnails, *, video=True) -> Plan:
    rung = VideoRung(name="v360p365", width=640, height=360, bitrate_kbps=365, maxrate_kbps=548,
                     bufsize_kbps=730, frame_rate="25/1")  # fmt: skip
    return Plan(source="/in.mp4", video_source_index=0, device_classes=["web"], duration=60.0,
                video=[rung] if video else [], thumbnails=thumbnails)  # fmt: skip


def test_select_keeps_the_first_frame_at_each_interval_and_no_more():
    assert select_filter(2.0, 30) == "select='gte(t+0.0005\\,selected_n*2)*lt(selected_n\\,30)'"
    assert tile_filters(_set(columns=3, rows=2)) == (
        "scale=320:180:out_range=full,setsar=1,format=yuvj420p,tile=3x2"
    )
    assert thumbnail_output_args(_set(jpeg_qscale=7), "[n4]") == [
        "-map", "[n4]", "-an", "-sn", "-dn", "-map_metadata", "-1", "-c:v", "mjpeg",
        "-q:v", "7", "-fps_mode", "passthrough", "-f", "mjpeg",
    ]  # fmt: skip


def test_thumbnails_branch_off_the_same_decode_as_the_rungs(tmp_path: Path):
    small, big = _set(), _set(name="thumbs480x270", width=480, height=270)
    argv, outputs = build_transcode_command(_plan([small, big]), tmp_path)
    assert argv.count("-i") == 1  # one decode for rungs and thumbnails
    graph = argv[argv.index("-filter_complex") + 1]
    assert graph.startswith("[0:0]split=2[n0][n1];")  # rung branch and thumbnail branch
    hold = "tpad=stop_mode=clone:stop_duration=2"
    assert f"[n1]{hold},select='gte(t+0.0005\\,selected_n*2)*lt(selected_n\\,30)'[n2]" in graph
    assert "[n2]split=2[n3][n4]" in graph  # one select shared by both sizes
    assert "[n3]scale=320:180:out_range=full,setsar=1,format=yuvj420p,tile=5x5[n5]" in graph
    assert "[n4]scale=480:270:out_range=full,setsar=1,format=yuvj420p,tile=5x5[n6]" in graph
    assert outputs["thumbs320x180"] == tmp_path / "thumbs320x180.mjpeg"
    assert argv[argv.index("[n5]") - 1] == "-map"
    assert argv[argv.index("[n6]") + 13 + 1] == str(tmp_path / "thumbs480x270.mjpeg")


def test_hdr_thumbnails_are_tonemapped_after_the_select(tmp_path: Path):
    argv, _ = build_transcode_command(_plan([_set(tonemap=True)], video=False), tmp_path)
    graph = argv[argv.index("-filter_complex") + 1]
    select_at, tonemap_at = graph.index("select="), graph.index("tonemap=hable")
    assert select_at < tonemap_at < graph.index("tile=5x5")


def test_chunks_never_carry_thumbnails(tmp_path: Path):
    chunk = Chunk(index=0, start=0.0, end=30.0, last=False)
    argv, outputs = build_chunk_command(_plan([_set()]), chunk, tmp_path)
    assert "tile=" not in " ".join(argv) and set(outputs) == {"v360p365"}


def test_parts_put_thumbnails_with_the_first_rung_or_alone_when_chunked():
    plan = _plan([_set()])
    assert plan_parts(plan) == [
        {"name": "v360p365", "kind": "video", "renditions": ["v360p365", "thumbs320x180"]}
    ]
    chunked = plan_parts(plan, chunk_seconds=20.0)
    assert [p["name"][0] for p in chunked[:-1]] == ["c"] * (len(chunked) - 1) != []
    assert chunked[-1] == {"name": "thumbnails", "kind": "video", "renditions": ["thumbs320x180"]}
    sub = part_plan(plan, chunked[-1])
    assert (sub.video, [t.name for t in sub.thumbnails]) == ([], ["thumbs320x180"])
    assert part_plan(plan, chunked[0]).thumbnails == []


# --- JPEG cutting ---------------------------------------------------------------------------


def _jpeg(width: int, height: int, scan: bytes = b"\x12\xff\x00\x34\xff\xd3\x56") -> bytes:
    """A structurally valid JPEG (not decodable): SOI, APP0, SOF0, SOS, scan data, EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00" * 3
    sos = b"\xff\xda" + struct.pack(">HB", 12, 3) + b"\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    return b"\xff\xd8" + app0 + sof + sos + scan + b"\xff\xd9"


def test_back_to_back_jpegs_are_cut_at_their_end_markers():
    first, second = _jpeg(1600, 900), _jpeg(960, 360, scan=b"\xff\xff\xff\x00\x01")
    found = list(pictures(first + second))
    assert [(p.start, p.end, p.width, p.height) for p in found] == [
        (0, len(first), 1600, 900),
        (len(first), len(first) + len(second), 960, 360),
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x00\x01", "no JPEG start marker at byte 0"),
        (_jpeg(16, 16)[:-2], "inside scan data"),
        (_jpeg(16, 16)[:30], "stream ends at byte 30 before the end-of-image marker"),
        (_jpeg(16, 16)[:23], "stream ends at byte 23, inside a marker segment"),
        (b"\xff\xd8\xff\xd9", "has no frame header"),
        (_jpeg(0, 16), "declares 0x16"),
    ],
)
def test_broken_jpeg_streams_say_where(data, problem):
    with pytest.raises(JpegError, match=problem):
        list(pictures(data))


# --- packaging -------------------------------------------------------------------------------


def test_package_cuts_numbered_tile_images_with_measured_timing(tmp_path: Path):
    s = _set(columns=5, rows=5, count=30)  # 60 s: one full image (50 s) and one of 10 s
    stream = tmp_path / "thumbs320x180.mjpeg"
    images = [_jpeg(1600, 900, scan=b"\x01" * 1000), _jpeg(1600, 900, scan=b"\x02" * 200)]
    stream.write_bytes(b"".join(images))
    [track] = package_thumbnails([s], {s.name: stream}, tmp_path / "title", 60.0)
    assert (tmp_path / "title/thumbs320x180/1.jpg").read_bytes() == images[0]
    assert (tmp_path / "title/thumbs320x180/2.jpg").read_bytes() == images[1]
    assert [(g.uri, g.number, g.start, g.duration, g.size) for g in track.segments] == [
        ("thumbs320x180/1.jpg", 1, 0, 50_000, len(images[0])),
        ("thumbs320x180/2.jpg", 2, 50_000, 10_000, len(images[1])),
    ]
    assert (track.kind, track.codecs, track.timescale, track.tile_layout) == (
        "image", "jpeg", 1000, "5x5",
    )  # fmt: skip
    assert (track.width, track.height, track.tile_seconds) == (320, 180, 2.0)
    peak = max(len(images[0]) * 8 / 50, len(images[1]) * 8 / 10)
    assert track.bandwidth == math.ceil(peak)
    assert track.average_bandwidth == -(-sum(map(len, images)) * 8 // 60)


@pytest.mark.parametrize(
    ("images", "problem"),
    [
        ([_jpeg(1600, 900)], "1 tile images for thumbs320x180, planned 2"),
        ([_jpeg(1600, 900), _jpeg(1600, 720)], "tile image 2 is 1600x720, expected 1600x900"),
        ([b"garbage"], "thumbnail stream is not valid JPEG"),
    ],
)
def test_package_refuses_a_stream_that_is_not_the_plan(tmp_path: Path, images, problem):
    s = _set(count=30)
    stream = tmp_path / "t.mjpeg"
    stream.write_bytes(b"".join(images))
    with pytest.raises(PackageError, match=problem) as err:
        package_thumbnails([s], {s.name: stream}, tmp_path / "title", 60.0)
    assert err.value.path == str(stream)


# --- manifests ---------------------------------------------------------------------------------


def _image_track(duration_s: float = 60.0) -> Track:
    return Track(
        id="thumbs320x180", kind="image", codecs="jpeg", timescale=1000,
        segment_template="thumbs320x180/$Number$.jpg",
        segments=[
            Segment(uri="thumbs320x180/1.jpg", number=1, start=0, duration=50_000, size=90_000),
            Segment(uri="thumbs320x180/2.jpg", number=2, start=50_000,
                    duration=round(duration_s * 1000) - 50_000, size=20_000),
        ],
        bandwidth=16_000, average_bandwidth=14_667, width=320, height=180,
        tile_layout="5x5", tile_seconds=2.0,
    )  # fmt: skip


def test_hls_image_stream_and_playlist_follow_the_roku_spec():
    t = _image_track()
    assert image_stream_inf(t) == (
        "#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=16000,AVERAGE-BANDWIDTH=14667,"
        'RESOLUTION=320x180,CODECS="jpeg",URI="thumbs320x180.m3u8"'
    )
    assert image_playlist(t, 7) == (
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:50\n#EXT-X-MEDIA-SEQUENCE:1\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-IMAGES-ONLY\n"
        "#EXTINF:50.000000,\n#EXT-X-TILES:RESOLUTION=320x180,LAYOUT=5x5,DURATION=2.000\n"
        "thumbs320x180/1.jpg\n"
        "#EXTINF:10.000000,\n#EXT-X-TILES:RESOLUTION=320x180,LAYOUT=5x5,DURATION=2.000\n"
        "thumbs320x180/2.jpg\n#EXT-X-ENDLIST\n"
    )


def _av_presentation() -> Presentation:
    """60 s of 25 fps video (10 segments of 6 s, a key frame each) and AAC audio."""
    bounds = frame_bounds(1500, 150, 3600)
    video = video_track(
        "v360p365", 640, 360, "avc1.64001e", 90000, "25",
        segments("v360p365", bounds, lambda n, d: 270_000),
        key_frames=[
            KeyFrame(segment_number=n, offset=0, length=20_000, start=b, duration=540_000)
            for n, b in enumerate(bounds[:-1], 1)
        ],
    )  # fmt: skip
    abounds = audio_bounds(bounds, 90000, 1024)
    audio = audio_track(
        "a-eng", "mp4a.40.2", "eng", 2, segments("a-eng", abounds, lambda n, d: 96_000)
    )
    return Presentation(title_id="t", duration=60.0, tracks=[video, audio])


def test_master_lists_image_streams_after_the_iframe_streams():
    p = _av_presentation()
    p.tracks.append(_image_track(p.duration))
    out = write_hls(p)
    master = out["master.m3u8"].splitlines()
    assert master[-1].startswith("#EXT-X-IMAGE-STREAM-INF:") and master[-2] == ""
    assert "#EXT-X-I-FRAME-STREAM-INF" in master[-3]
    assert out["thumbs320x180.m3u8"].startswith("#EXTM3U\n#EXT-X-VERSION:7\n")


def test_dash_image_set_per_dash_if_iop():
    p = _av_presentation()
    p.tracks.append(_image_track(p.duration))
    root = etree.fromstring(write_mpd(p).encode())
    [aset] = [a for a in root.iter(f"{MPD}AdaptationSet") if a.get("contentType") == "image"]
    assert aset.get("mimeType") == "image/jpeg"
    assert aset.findall(f"{MPD}EssentialProperty") == []
    [prop] = aset.findall(f"{MPD}Representation/{MPD}EssentialProperty")
    assert (prop.get("schemeIdUri"), prop.get("value")) == (
        "http://dashif.org/thumbnail_tile",
        "5x5",
    )
    [rep] = aset.findall(f"{MPD}Representation")
    assert dict(rep.attrib) == {
        "id": "thumbs320x180", "bandwidth": "16000", "width": "1600", "height": "900",
    }  # fmt: skip
    [tmpl] = rep.findall(f"{MPD}SegmentTemplate")
    assert dict(tmpl.attrib) == {
        "media": "thumbs320x180/$Number$.jpg", "duration": "50000", "timescale": "1000",
        "startNumber": "1",
    }  # fmt: skip
    assert tmpl.find(f"{MPD}SegmentTimeline") is None and "initialization" not in tmpl.attrib


def test_storyboard_has_a_cue_per_thumbnail_up_to_the_end():
    vtt = storyboard_vtt(_image_track(55.0), 55.0)
    blocks = vtt.strip().split("\n\n")
    assert blocks[0] == "WEBVTT" and len(blocks) == 1 + 28  # 27 full 2 s steps + 1 s
    assert blocks[1] == "00:00:00.000 --> 00:00:02.000\nthumbs320x180/1.jpg#xywh=0,0,320,180"
    assert blocks[7] == "00:00:12.000 --> 00:00:14.000\nthumbs320x180/1.jpg#xywh=320,180,320,180"
    assert blocks[25] == "00:00:48.000 --> 00:00:50.000\nthumbs320x180/1.jpg#xywh=1280,720,320,180"
    assert blocks[26] == "00:00:50.000 --> 00:00:52.000\nthumbs320x180/2.jpg#xywh=0,0,320,180"
    assert blocks[28] == "00:00:54.000 --> 00:00:55.000\nthumbs320x180/2.jpg#xywh=640,0,320,180"


@pytest.mark.parametrize(
    ("change", "problem"),
    [({"tile_layout": "5by5"}, "no valid tile layout"), ({"tile_seconds": None}, "lacks")],
)
def test_image_writers_refuse_incomplete_tracks(change, problem):
    t = _image_track().model_copy(update=change)
    with pytest.raises(PackageError, match=problem):
        image_playlist(t, 7)


def test_plan_text_lists_thumbnails_and_keeps_brackets_in_names():
    from pipeline.planning.display import format_plan
    from pipeline.planning.grouping import fps_label

    plan = _plan([_set(), _set(name="thumbs480x270", width=480, height=270, device_classes=["tv"])])
    plan = plan.model_copy(
        update={"source": "/in/title [v2].mov", "notes": ["kept [as is]"], "warnings": ["[x]"]}
    )
    text = format_plan(plan)
    assert text.startswith("/in/title [v2].mov: 60.00 s, classes web")
    assert "note: kept [as is]" in text and "warning: [x]" in text
    rows = [line for line in text.splitlines() if "thumbs" in line]
    assert [row.split("│")[1:8] for row in rows] == [
        [" thumbs320x180 ", " 320x180 ", " 2 s   ", " 5x5  ", " 2      ", " 5      ", "         "],
        [" thumbs480x270 ", " 480x270 ", " 2 s   ", " 5x5  ", " 2      ", " 5      ", " tv      "],
    ]
    assert "Thumbnails (2)" in text
    assert fps_label("1000000/33333") == "30"  # 30.0003 -> "30", never "30."


def test_device_class_names_refuse_a_trailing_newline():
    with pytest.raises(LadderError, match="unknown device class 'tv\\\\n'"):
        load_ladder("tv\n")


@pytest.mark.parametrize(
    "change", [{"width": None}, {"tile_seconds": None}, {"segments": []}, {"tile_layout": None}]
)
def test_dash_refuses_an_image_track_it_cannot_describe(change):
    p = _av_presentation()
    p.tracks.append(_image_track(p.duration).model_copy(update=change))
    with pytest.raises(PackageError) as err:
        write_mpd(p)
    assert err.value.path == "thumbs320x180"
