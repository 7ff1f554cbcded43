"""Mutation-driven tests for the scrubbing-thumbnail modules (issue 18): JPEG cutting (T.81
marker structure), the HLS image playlist / WebVTT storyboard, thumbnail planning, the FFmpeg
thumbnail chains, thumbnail packaging and the DASH image AdaptationSet. Expected values come
from the specs and the inputs, not from the code's output."""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace

import pytest
from lxml import etree

from core.errors import PackageError
from pipeline.bitstream.jpeg import JpegError, pictures, read_picture
from pipeline.encode.thumbnail_cmd import thumbnail_chains
from pipeline.manifest.dash import write_mpd
from pipeline.manifest.hls import write_hls
from pipeline.manifest.images import image_playlist, layout, storyboard_vtt
from pipeline.media.info import VideoStream
from pipeline.media.plan import ThumbnailSet
from pipeline.media.presentation import Segment, Track
from pipeline.package.thumbnails import package_thumbnails
from pipeline.planning.ladder import Thumbnails, ThumbnailSize
from pipeline.planning.thumbnails import fit_thumbnail, plan_thumbnails
from tests.pipeline.test_thumbnails import MPD, _av_presentation, _image_track


def _jpeg(
    width: int = 16,
    height: int = 16,
    *,
    components: int = 3,
    between: bytes = b"",
    scan: bytes = b"\x12\xff\x00\x34",
    sof_length: int | None = None,
) -> bytes:
    """SOI, APP0 (bytes 2-19), `between`, SOF0, SOS, scan data, EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    length = sof_length if sof_length is not None else 8 + 3 * components
    body = struct.pack(">BHHB", 8, height, width, components) + b"\x01\x22\x00" * components
    sof = b"\xff\xc0" + struct.pack(">H", length) + body[: length - 2]
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app0 + between + sof + sos + scan + b"\xff\xd9"


# --- JPEG (ITU-T T.81) ---------------------------------------------------------------------


def test_jpeg_reports_components_grey_and_colour():
    grey, colour = _jpeg(8, 4, components=1), _jpeg(8, 4, components=3)
    assert [(p.width, p.height, p.components) for p in pictures(grey + colour)] == [
        (8, 4, 1),
        (8, 4, 3),
    ]


def test_jpeg_frame_header_of_exactly_eight_bytes_is_enough():
    """Lf = 8 holds P, Y, X, Nf: the size is readable (no component specs needed)."""
    data = _jpeg(40, 30, components=1, sof_length=8)
    [p] = pictures(data)
    assert (p.start, p.end, p.width, p.height, p.components) == (0, len(data), 40, 30, 1)


def test_jpeg_frame_header_shorter_than_eight_is_truncated_at_its_marker():
    data = _jpeg(40, 30, components=1, sof_length=7)  # SOF marker at byte 20
    with pytest.raises(JpegError, match=r"^frame header at byte 20 is truncated$"):
        read_picture(data, 0)


def test_jpeg_frame_header_cut_by_the_stream_end():
    data = b"\xff\xd8\xff\xc0\x00\x11\x08\x00"  # Lf = 17 but the stream stops after P
    with pytest.raises(JpegError, match=r"^frame header at byte 2 is truncated$"):
        read_picture(data, 0)


def test_jpeg_zero_size_names_the_frame_header_offset():
    with pytest.raises(JpegError, match=r"^frame header at byte 20 declares 0x16$"):
        read_picture(_jpeg(0, 16), 0)


@pytest.mark.parametrize("cut", [0, 1])
def test_jpeg_stream_ending_right_after_a_segment(cut):
    full = _jpeg()
    sof_end = 20 + 2 + 17  # SOF0 with 3 components: Lf = 8 + 3 * 3 = 17
    data = full[: sof_end + cut]
    with pytest.raises(
        JpegError, match=rf"^stream ends at byte {sof_end + cut} before the end-of-image marker$"
    ):
        read_picture(data, 0)


def test_jpeg_non_marker_byte_is_named():
    with pytest.raises(JpegError, match=r"^expected a marker at byte 2, found 0x00$"):
        read_picture(b"\xff\xd8\x00\x00", 0)


def test_jpeg_scan_ending_on_a_lone_ff_is_inside_scan_data():
    data = _jpeg(scan=b"\x12\x34")[:-2] + b"\xff"
    with pytest.raises(JpegError, match=rf"^stream ends at byte {len(data)} inside scan data"):
        read_picture(data, 0)


def test_jpeg_fill_byte_before_the_end_marker():
    """T.81 B.1.1.2: any marker may be preceded by fill bytes FF."""
    data = _jpeg(scan=b"\x12\xff")
    assert read_picture(data, 0).end == len(data)


@pytest.mark.parametrize("standalone", [b"\xff\x01", b"\xff\xd0", b"\xff\xd7"])
def test_jpeg_standalone_markers_between_segments_are_two_bytes(standalone):
    """TEM and RSTn carry no length; the SOF after them still gives the size."""
    data = _jpeg(64, 48, between=standalone)
    p = list(pictures(data + _jpeg(8, 8)))[0]
    assert (p.end, p.width, p.height) == (len(data), 64, 48)


def test_jpeg_segment_of_length_two_is_empty_not_broken():
    data = _jpeg(between=b"\xff\xe1\x00\x02")  # an APP1 with no payload
    assert read_picture(data, 0).end == len(data)


@pytest.mark.parametrize("length", [0, 1])
def test_jpeg_segment_length_below_two_is_refused(length):
    data = _jpeg(between=b"\xff\xe1" + struct.pack(">H", length))
    with pytest.raises(JpegError, match=rf"^marker FFE1 at byte 20 has length {length}$"):
        read_picture(data, 0)


# --- HLS image playlist / storyboard -------------------------------------------------------


def _track(*, start_ms: int = 0, duration_ms: int = 50_000, layout_: str | None = "5x5") -> Track:
    return Track(
        id="thumbs320x180", kind="image", codecs="jpeg", timescale=1000,
        segment_template="thumbs320x180/$Number$.jpg",
        segments=[
            Segment(uri="thumbs320x180/1.jpg", number=1, start=start_ms, duration=duration_ms,
                    size=90_000),
        ],
        bandwidth=16_000, average_bandwidth=14_667, width=320, height=180,
        tile_layout=layout_, tile_seconds=2.0,
    )  # fmt: skip


def test_storyboard_times_roll_over_minutes_and_hours():
    t = _track(start_ms=3_598_000, duration_ms=4_000, layout_="2x1")
    vtt = storyboard_vtt(t, 3602.0)
    assert vtt == (
        "WEBVTT\n\n"
        "00:59:58.000 --> 01:00:00.000\nthumbs320x180/1.jpg#xywh=0,0,320,180\n\n"
        "01:00:00.000 --> 01:00:02.000\nthumbs320x180/1.jpg#xywh=320,0,320,180\n"
    )
    t = _track(start_ms=58_000, duration_ms=4_000, layout_="1x2")
    assert "00:00:58.000 --> 00:01:00.000\n" in storyboard_vtt(t, 62.0)
    assert "00:01:00.000 --> 00:01:02.000\nthumbs320x180/1.jpg#xywh=0,180,320,180\n" in (
        storyboard_vtt(t, 62.0)
    )


def test_storyboard_has_no_empty_cue_when_the_title_ends_on_a_step():
    vtt = storyboard_vtt(_track(duration_ms=6_000, layout_="5x1"), 6.0)
    cues = vtt.strip().split("\n\n")[1:]
    assert [c.split("\n")[0] for c in cues] == [
        "00:00:00.000 --> 00:00:02.000",
        "00:00:02.000 --> 00:00:04.000",
        "00:00:04.000 --> 00:00:06.000",
    ]
    # a remainder under a microsecond (float noise in the duration) makes no cue either
    assert storyboard_vtt(_track(duration_ms=6_000, layout_="5x1"), 6.0 + 1e-6) == vtt


@pytest.mark.parametrize("bad", ["5x", "x5", "0x5", "5x0", "5by5", None])
def test_tile_layout_needs_two_positive_numbers(bad):
    with pytest.raises(PackageError) as err:
        layout(_track(layout_=bad))
    assert err.value.path == "thumbs320x180"
    assert f"image track has no valid tile layout ({bad})" in str(err.value)


def test_incomplete_image_track_refusal_names_the_track():
    t = _track().model_copy(update={"width": None})
    with pytest.raises(PackageError) as err:
        image_playlist(t, 7)
    assert err.value.path == "thumbs320x180"
    assert "image track lacks tile images, thumbnail size or timing" in str(err.value)
    assert "XX" not in str(err.value)


# --- planning ------------------------------------------------------------------------------


def _video(width=1920, height=1080, *, hdr=False) -> VideoStream:
    return VideoStream(
        index=0, codec="h264", width=width, height=height, sample_aspect_ratio="1:1",
        rotation=0, frame_rate="25/1", fps=25.0, hdr=hdr,
    )  # fmt: skip


def _ladder(*sizes: tuple[int, int], interval=2.0, qscale=5, max_kb=400, cols=5, rows=5):
    config = Thumbnails(
        interval_seconds=interval, sizes=[ThumbnailSize(width=w, height=h) for w, h in sizes],
        columns=cols, rows=rows, jpeg_qscale=qscale, max_image_kb=max_kb,
    )  # fmt: skip
    return SimpleNamespace(thumbnails=config)


def test_thumbnail_never_thinner_than_two_pixels():
    assert fit_thumbnail(1920, 2, 320, 180) == (320, 2)


def test_same_size_sets_get_numbered_names():
    ladders = {"a": _ladder((320, 180)), "b": _ladder((320, 180), qscale=6),
               "c": _ladder((320, 180), qscale=7)}  # fmt: skip
    sets = plan_thumbnails(_video(), 60.0, ladders, ["a", "b", "c"], gop_seconds=2.0)
    assert [(s.name, s.jpeg_qscale, s.device_classes) for s in sets] == [
        ("thumbs320x180", 5, ["a"]),
        ("thumbs320x180-2", 6, ["b"]),
        ("thumbs320x180-3", 7, ["c"]),
    ]


def test_plan_carries_the_ladders_quality_and_byte_budget():
    [s] = plan_thumbnails(
        _video(), 60.0, {"a": _ladder((320, 180), qscale=9, max_kb=100)}, ["a"], gop_seconds=2.0
    )
    assert (s.jpeg_qscale, s.max_image_bytes) == (9, 100 * 1024)


def test_very_short_title_gets_one_thumbnail_and_zero_gets_none():
    ladders = {"a": _ladder((320, 180))}
    [s] = plan_thumbnails(_video(), 1.0, ladders, ["a"], gop_seconds=2.0)
    assert (s.count, s.columns, s.rows) == (1, 1, 1)
    assert plan_thumbnails(_video(), 0.0, ladders, ["a"], gop_seconds=2.0) == []


def test_count_is_exact_when_duration_plus_slack_is_on_the_grid():
    """59.9 s + 0.1 s slack = 60 s = exactly 30 intervals of 2 s: 30, not 31."""
    [s] = plan_thumbnails(_video(), 59.9, {"a": _ladder((320, 180))}, ["a"], gop_seconds=2.0)
    assert s.count == 30


def test_a_class_without_thumbnails_does_not_stop_the_others():
    ladders = {"none": SimpleNamespace(thumbnails=None), "a": _ladder((320, 180))}
    sets = plan_thumbnails(_video(), 60.0, ladders, ["none", "a"], gop_seconds=2.0)
    assert [(s.name, s.device_classes) for s in sets] == [("thumbs320x180", ["a"])]


def test_a_shared_size_does_not_drop_the_class_other_sizes():
    ladders = {"a": _ladder((320, 180)), "b": _ladder((320, 180), (480, 270))}
    sets = plan_thumbnails(_video(), 60.0, ladders, ["a", "b"], gop_seconds=2.0)
    assert [(s.name, s.device_classes) for s in sets] == [
        ("thumbs320x180", ["a", "b"]),
        ("thumbs480x270", ["b"]),
    ]


def test_sets_are_ordered_by_area_before_interval():
    ladders = {"a": _ladder((480, 270), interval=2.0), "b": _ladder((320, 180), interval=4.0)}
    sets = plan_thumbnails(_video(), 60.0, ladders, ["a", "b"], gop_seconds=2.0)
    assert [(s.name, s.interval) for s in sets] == [("thumbs320x180", 4.0), ("thumbs480x270", 2.0)]


# --- FFmpeg chains -------------------------------------------------------------------------


def _tset(name, width, height, interval, count) -> ThumbnailSet:
    return ThumbnailSet(name=name, width=width, height=height, interval=interval, columns=5,
                        rows=5, count=count)  # fmt: skip


def test_chains_split_per_interval_then_per_size():
    sets = [
        _tset("thumbs320x180", 320, 180, 2.0, 30),
        _tset("thumbs480x270", 480, 270, 2.0, 30),
        _tset("thumbs320x180-2", 320, 180, 4.0, 15),
    ]
    n = iter(range(100))
    chains, labels = thumbnail_chains(sets, "[v]", lambda: f"[t{next(n)}]", "tonemap")
    tile = "scale={}:{}:out_range=full,setsar=1,format=yuvj420p,tile=5x5"
    sel = (
        "tpad=stop_mode=clone:stop_duration={0},"
        "select='gte(t+0.0005\\,selected_n*{0})*lt(selected_n\\,{1})'"
    )
    assert chains == [
        "[v]split=2[t0][t1]",
        "[t0]" + sel.format(2, 30) + "[t2]",
        "[t2]split=2[t3][t4]",
        "[t3]" + tile.format(320, 180) + "[t5]",
        "[t4]" + tile.format(480, 270) + "[t6]",
        "[t1]" + sel.format(4, 15) + "[t7]",
        "[t7]" + tile.format(320, 180) + "[t8]",
    ]
    assert labels == {"thumbs320x180": "[t5]", "thumbs480x270": "[t6]", "thumbs320x180-2": "[t8]"}


# --- packaging -----------------------------------------------------------------------------


def test_package_twice_into_the_same_folder_and_template(tmp_path: Path):
    """A retried package overwrites its tile images; the template is `<set>/$Number$.jpg`."""
    s = ThumbnailSet(name="thumbs8x8", width=8, height=8, interval=2.0, columns=2, rows=1,
                     count=2)  # fmt: skip
    stream = tmp_path / "t.mjpeg"
    stream.write_bytes(_jpeg(16, 8))
    for _ in range(2):
        [track] = package_thumbnails([s], {s.name: stream}, tmp_path / "title", 4.0)
    assert track.segment_template == "thumbs8x8/$Number$.jpg"
    assert (tmp_path / "title/thumbs8x8/1.jpg").read_bytes() == _jpeg(16, 8)


# --- DASH / HLS image tracks ---------------------------------------------------------------


def _image_sets(p) -> tuple[list, etree._Element]:
    root = etree.fromstring(write_mpd(p).encode())
    sets = list(root.iter(f"{MPD}AdaptationSet"))
    [image] = [a for a in sets if a.get("contentType") == "image"]
    return sets, image


def test_dash_image_set_takes_the_next_set_id():
    p = _av_presentation()
    p.tracks.append(_image_track(p.duration))
    sets, image = _image_sets(p)
    others = [int(a.get("id")) for a in sets if a is not image]
    assert image.get("id") == str(max(others) + 1)


def test_dash_image_template_and_start_number_come_from_the_track():
    p = _av_presentation()
    t = _image_track(p.duration)
    t = t.model_copy(update={
        "segment_template": "img/$Number$.jpg",
        "segments": [g.model_copy(update={"number": g.number + 2}) for g in t.segments],
    })  # fmt: skip
    p.tracks.append(t)
    _, image = _image_sets(p)
    tmpl = image.find(f"{MPD}Representation/{MPD}SegmentTemplate")
    assert (tmpl.get("media"), tmpl.get("startNumber")) == ("img/$Number$.jpg", "3")


def test_dash_image_template_defaults_to_the_track_folder():
    p = _av_presentation()
    p.tracks.append(_image_track(p.duration).model_copy(update={"segment_template": None}))
    _, image = _image_sets(p)
    tmpl = image.find(f"{MPD}Representation/{MPD}SegmentTemplate")
    assert tmpl.get("media") == "thumbs320x180/$Number$.jpg"


def test_hls_writes_every_playlist_when_the_image_track_comes_first():
    p = _av_presentation()
    p.tracks.insert(0, _image_track(p.duration))
    out = write_hls(p)
    assert {"thumbs320x180.m3u8", "v360p365.m3u8", "a-eng.m3u8"} <= set(out)


# --- plan display --------------------------------------------------------------------------


def test_plan_thumbnail_table_headers_and_classes():
    from pipeline.planning.display import plan_tables
    from tests.pipeline.test_thumbnails import _plan, _set

    plan = _plan([_set(device_classes=["web", "mobile"])])
    thumbs = plan_tables(plan)[-1]
    assert thumbs.title == "Thumbnails (1)"
    assert [c.header for c in thumbs.columns] == [
        "name", "size", "every", "grid", "images", "jpeg q", "classes",
    ]  # fmt: skip
    assert [list(c.cells)[0] for c in thumbs.columns] == [
        "thumbs320x180", "320x180", "2 s", "5x5", "2", "5", "web, mobile",
    ]  # fmt: skip
