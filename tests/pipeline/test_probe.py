"""probe(): real generated media in, every MediaInfo field checked against what was made."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from core.errors import ProbeError
from pipeline.analysis.probe import is_hdr, parse_ffprobe, probe, probe_json


def _frame(path: Path, *pre: str, vf: str | None = None) -> tuple[bytes, int, int]:
    """First decoded frame as 8-bit grey, plus its size, straight from ffmpeg."""
    filters = f"{vf}," if vf else ""
    cmd = ["ffmpeg", "-v", "error", *pre, "-i", str(path), "-frames:v", "1"]
    cmd += ["-vf", f"{filters}format=gray", "-f", "image2pipe", "-c:v", "pgm", "-"]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    magic, width, height, _maxval, pixels = out.split(maxsplit=4)
    assert magic == b"P5"
    return pixels, int(width), int(height)


def test_basic(media_factory):
    info = probe(media_factory("basic"))
    assert "mp4" in info.container
    assert info.duration == pytest.approx(8.0, abs=0.1)
    assert info.size == media_factory("basic").stat().st_size
    (v,) = info.video
    assert (v.codec, v.width, v.height) == ("h264", 640, 360)
    assert v.profile == "High" and v.level is not None
    assert (v.frame_rate, v.fps, v.variable_frame_rate) == ("30/1", 30.0, False)
    assert (v.sample_aspect_ratio, v.rotation) == ("1:1", 0)
    assert (v.display_width, v.display_height) == (640, 360)
    assert (v.bit_depth, v.hdr, v.interlaced, v.pix_fmt) == (8, False, False, "yuv420p")
    (a,) = info.audio
    assert (a.codec, a.channels, a.sample_rate, a.language) == ("aac", 2, 48000, "eng")
    assert a.channel_layout == "stereo"
    assert info.subtitles == []


def test_anamorphic_has_non_square_pixels(media_factory):
    (v,) = probe(media_factory("anamorphic")).video
    assert (v.width, v.height) == (720, 576)
    assert v.sample_aspect_ratio == "16:15"
    assert v.display_aspect_ratio == "4:3"
    assert (v.display_width, v.display_height) == (768, 576)
    assert v.frame_rate == "25/1"


@pytest.mark.slow  # encodes a clip per angle and decodes it with FFmpeg's autorotate
@pytest.mark.parametrize("cw", [90, 180, 270])
def test_rotation_matches_ffmpeg_autorotate(media_factory, cw):
    """Rotation is clockwise and the display size is what ffmpeg's own autorotate produces."""
    path = media_factory("rotated", rotation_cw=cw)
    (v,) = probe(path).video
    assert (v.width, v.height) == (640, 360)
    assert v.rotation == cw
    rotated, width, height = _frame(path)
    assert (v.display_width, v.display_height) == (width, height)
    # Turning the raw (not autorotated) picture clockwise by `cw` must give ffmpeg's picture.
    turn = {90: "transpose=clock", 180: "hflip,vflip", 270: "transpose=cclock"}[cw]
    ours, _, _ = _frame(path, "-noautorotate", vf=turn)
    assert ours == rotated


def test_rotated_fixture_is_portrait(media_factory):
    (v,) = probe(media_factory("rotated")).video
    assert v.rotation == 90
    assert (v.display_width, v.display_height) == (360, 640)


def test_two_languages(media_factory):
    info = probe(media_factory("two_languages"))
    assert [a.language for a in info.audio] == ["eng", "fra"]
    assert [a.index for a in info.audio] == [1, 2]


def test_surround(media_factory):
    (a,) = probe(media_factory("surround")).audio
    assert (a.channels, a.sample_rate) == (6, 48000)
    assert a.channel_layout is not None and a.channel_layout.startswith("5.1")


def test_noaudio_and_audio_only(media_factory):
    assert probe(media_factory("noaudio")).audio == []
    info = probe(media_factory("audio_only"))
    assert info.video == [] and len(info.audio) == 1
    assert not is_hdr(info)


def test_short_duration(media_factory):
    assert probe(media_factory("short")).duration == pytest.approx(2.5, abs=0.1)


def test_hdr(media_factory):
    info = probe(media_factory("hdr"))
    (v,) = info.video
    assert v.codec == "hevc" and v.bit_depth == 10
    assert (v.color_primaries, v.color_transfer) == ("bt2020", "smpte2084")
    assert v.color_space == "bt2020nc"
    assert v.hdr and is_hdr(info) and is_hdr(v)
    assert not is_hdr(probe(media_factory("basic")))


def test_interlaced(media_factory):
    (v,) = probe(media_factory("interlaced")).video
    assert v.interlaced
    assert v.frame_rate == "25/1"


def test_variable_frame_rate(media_factory):
    (v,) = probe(media_factory("vfr")).video
    assert v.variable_frame_rate
    assert v.frame_rate == "30/1"  # the capture rate, not the (lower) average


def test_subtitle_stream(media_factory):
    (s,) = probe(media_factory("subtitled")).subtitles
    assert (s.codec, s.language) == ("mov_text", "eng")


def test_bundled_sample(sample_mov):
    assert sample_mov.stat().st_size < 3_000_000
    info = probe(sample_mov)
    assert info.duration == pytest.approx(12.0, abs=0.1)
    (v,) = info.video
    assert (v.codec, v.profile, v.width, v.height, v.frame_rate) == (
        "h264",
        "High",
        1280,
        720,
        "30/1",
    )
    (a,) = info.audio
    assert (a.codec, a.channels, a.language) == ("aac", 2, "eng")


def test_probe_json_is_serialisable_with_display_size(media_factory):
    data = probe_json(probe(media_factory("rotated")))
    again = json.loads(json.dumps(data))
    assert again["video"][0]["display_width"] == 360
    assert again["video"][0]["display_height"] == 640
    assert again["audio"][0]["language"] == "eng"


# --- bad inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        ("zero_byte", "empty"),
        ("truncated", "truncated"),
        ("truncated_nomoov", "truncated"),
        ("text_as_mov", "not a media file"),
        ("no_streams", "no audio or video streams"),
    ],
)
def test_bad_inputs_raise_probe_error(media_factory, kind, cause):
    path = media_factory(kind)
    with pytest.raises(ProbeError) as err:
        probe(path)
    message = str(err.value)
    assert path.name in message
    assert cause in message
    assert "\n" not in message
    assert err.value.stage == "probe"


def test_truncated_keeps_ffprobe_stderr_in_detail(media_factory):
    with pytest.raises(ProbeError) as err:
        probe(media_factory("truncated_nomoov"))
    assert "moov atom not found" in err.value.detail


def test_truncated_matroska(media_factory, tmp_path):
    whole = tmp_path / "whole.mkv"
    cmd = ["ffmpeg", "-v", "error", "-i", str(media_factory("basic")), "-c", "copy", str(whole)]
    subprocess.run(cmd, check=True)
    assert probe(whole).duration == pytest.approx(8.0, abs=0.1)  # the whole one is fine
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ProbeError, match=r"cut\.mkv: file is truncated"):
        probe(cut)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ProbeError, match=r"nope\.mp4: file not found"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(ProbeError, match="is a directory"):
        probe(tmp_path)


def test_trailing_padding_is_not_truncation(media_factory, tmp_path):
    padded = tmp_path / "padded.mp4"
    padded.write_bytes(media_factory("basic").read_bytes() + b"\0" * 7)
    assert probe(padded).video


# --- parsing ffprobe JSON (cases FFmpeg 5.1 cannot easily produce) ---------------------------


def _video_json(**extra):
    stream = {
        "index": 0,
        "codec_type": "video",
        "codec_name": "h264",
        "width": 1920,
        "height": 1080,
        "r_frame_rate": "30000/1001",
        "avg_frame_rate": "30000/1001",
        "pix_fmt": "yuv420p",
    }
    stream.update(extra)
    return {"format": {"format_name": "mov", "duration": "10.0", "size": "1"}, "streams": [stream]}


@pytest.mark.parametrize(
    ("extra", "rotation"),
    [
        ({"tags": {"rotate": "90"}}, 90),  # legacy tag: clockwise already
        ({"tags": {"rotate": "270"}}, 270),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}, 90),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 90}]}, 270),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -180}]}, 180),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 89.9}]}, 270),
        ({}, 0),
    ],
)
def test_rotation_sources(extra, rotation):
    (v,) = parse_ffprobe("x.mov", _video_json(**extra)).video
    assert v.rotation == rotation
    portrait = rotation in (90, 270)
    assert (v.display_width, v.display_height) == ((1080, 1920) if portrait else (1920, 1080))


def test_frame_rate_parsing():
    (v,) = parse_ffprobe("x", _video_json()).video
    assert (v.frame_rate, v.variable_frame_rate) == ("30000/1001", False)
    assert v.fps == pytest.approx(29.97, abs=0.01)
    # A time base in r_frame_rate: variable rate, average snapped to the nearest standard rate.
    (v,) = parse_ffprobe("x", _video_json(r_frame_rate="90000/1", avg_frame_rate="2997/100")).video
    assert (v.frame_rate, v.variable_frame_rate) == ("30000/1001", True)
    # Interlaced streams may report the field rate: not variable.
    (v,) = parse_ffprobe(
        "x", _video_json(r_frame_rate="50/1", avg_frame_rate="25/1", field_order="tt")
    ).video
    assert (v.frame_rate, v.variable_frame_rate, v.interlaced) == ("25/1", False, True)


def test_stream_details_parsing():
    data = _video_json(
        pix_fmt="yuv420p10le", sample_aspect_ratio="0:1", color_transfer="arib-std-b67"
    )
    data["streams"].append(
        {"index": 1, "codec_type": "video", "codec_name": "mjpeg", "width": 300, "height": 300,
         "disposition": {"attached_pic": 1}, "r_frame_rate": "90000/1"}
    )  # fmt: skip
    data["streams"].append(
        {"index": 2, "codec_type": "audio", "codec_name": "ac3", "channels": 6,
         "sample_rate": "48000", "tags": {"LANGUAGE": "deu", "title": "Surround"}}
    )  # fmt: skip
    data["streams"].append({"index": 3, "codec_type": "audio", "channels": 2, "sample_rate": "1"})
    info = parse_ffprobe("x", data)
    (v,) = info.video  # cover art is not a video stream
    assert (v.bit_depth, v.sample_aspect_ratio, v.hdr) == (10, "1:1", True)
    assert [(a.language, a.title) for a in info.audio] == [("deu", "Surround"), ("und", None)]


def test_no_duration_is_an_error():
    data = _video_json()
    del data["format"]["duration"]
    with pytest.raises(ProbeError, match="duration"):
        parse_ffprobe("clip.mp4", data)


# --- the fixture generator itself -------------------------------------------------------------


def test_generator_caches_by_kind_and_parameters(media_factory):
    from fixtures.generate import generate

    first = media_factory("short")
    stamp = first.stat().st_mtime_ns
    assert generate("short", first.parent) == first
    assert first.stat().st_mtime_ns == stamp  # reused, not rebuilt
    longer = media_factory("short", duration=3.5)
    assert longer != first
    assert probe(longer).duration == pytest.approx(3.5, abs=0.1)
    with pytest.raises(ValueError, match="unknown fixture kind"):
        generate("nope", first.parent)
    with pytest.raises(ValueError, match="no parameter"):
        generate("short", first.parent, colour="red")
