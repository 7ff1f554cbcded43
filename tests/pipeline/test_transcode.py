"""Real FFmpeg runs on tiny generated sources, checked with ffprobe: what the packager relies on."""

from __future__ import annotations

import io
import json
import re
import signal
import struct
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

import pipeline.encode.transcode as transcode_mod
from core.errors import TranscodeError
from pipeline.encode.progress import ProgressTracker, parse_progress_line, rich_progress_bar
from pipeline.encode.transcode import last_meaningful_line, transcode
from pipeline.media.plan import AudioRendition, Plan, VideoRung
from tests.support.common import video_rung as make_rung

pytestmark = pytest.mark.slow


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args], check=True)


def ffprobe_json(path: Path, *args: str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def video_stream(path: Path) -> dict:
    return ffprobe_json(path, "-select_streams", "v:0", "-count_frames", "-show_streams")[
        "streams"
    ][0]


def key_times(path: Path) -> list[float]:
    """Presentation times of key frames relative to the first frame's."""
    packets = ffprobe_json(
        path, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-show_packets"
    )["packets"]
    first = min(float(p["pts_time"]) for p in packets)
    return [round(float(p["pts_time"]) - first, 3) for p in packets if "K" in p["flags"]]


def first_sample_timing(path: Path) -> tuple[bool, int, int]:
    """(has an edit list, first tfdt, composition offset of the first sample) from the boxes."""
    data = path.read_bytes()
    has_edts = b"edts" in data[: data.index(b"moof")]
    tfdt = data.index(b"tfdt")
    version = data[tfdt + 4]
    base = struct.unpack(">Q" if version else ">I", data[tfdt + 8 : tfdt + (16 if version else 12)])
    trun = data.index(b"trun") + 4
    trun_version, flags = data[trun], int.from_bytes(data[trun + 1 : trun + 4], "big")
    pos = trun + 8 + (4 if flags & 0x1 else 0) + (4 if flags & 0x4 else 0)
    pos += sum(4 for bit in (0x100, 0x200, 0x400) if flags & bit)
    assert flags & 0x800, "no composition offsets in trun"
    cts = struct.unpack(">i" if trun_version else ">I", data[pos : pos + 4])[0]
    return has_edts, base[0], cts


def make_plan(source: Path, video: list[VideoRung], audio=(), duration=7.0) -> Plan:
    return Plan(
        source=str(source),
        video_source_index=0,
        device_classes=["web"],
        duration=duration,
        video=video,
        audio=list(audio),
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """640x360 30 fps, 7 s, stereo 44.1 kHz: a long single GOP so keyframes must be forced."""
    path = tmp_path_factory.mktemp("src") / "src.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", "7", "-c:v", "libx264", "-preset", "ultrafast", "-g", "300",
        "-c:a", "aac", "-ac", "2", str(path),
    )  # fmt: skip
    return path


LADDER = [
    make_rung("v240", 426, 240, 300),
    make_rung("v360lo", 640, 360, 400),
    make_rung("v360hi", 640, 360, 1200),
]


@pytest.fixture(scope="module")
def ladder_run(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("ladder")
    plan = make_plan(source, LADDER, [AudioRendition(name="a-und-aac2", source_index=1)])
    seen: list[float] = []
    outputs = transcode(plan, out, progress=seen.append)
    return outputs, seen


def test_every_rung_has_idr_at_the_same_two_second_marks(ladder_run):
    outputs, _ = ladder_run
    for r in LADDER:
        assert key_times(outputs[r.name]) == [0.0, 2.0, 4.0, 6.0], r.name
    absolute = {
        r.name: [
            p["pts_time"]
            for p in ffprobe_json(outputs[r.name], "-show_packets", "-select_streams", "v:0")[
                "packets"
            ]
            if "K" in p["flags"]
        ]
        for r in LADDER
    }
    assert len({tuple(v) for v in absolute.values()}) == 1


def test_rungs_decode_to_planned_size_and_equal_frame_counts(ladder_run):
    outputs, _ = ladder_run
    streams = {r.name: video_stream(outputs[r.name]) for r in LADDER}
    for r in LADDER:
        s = streams[r.name]
        assert (s["width"], s["height"]) == (r.width, r.height)
        assert s["codec_name"] == "h264" and s["profile"] == "High"
        assert s.get("sample_aspect_ratio", "1:1") == "1:1"
        assert s["r_frame_rate"] == "30/1"
    counts = {int(s["nb_read_frames"]) for s in streams.values()}
    assert counts == {210}


def test_bitrate_follows_the_plan(ladder_run):
    outputs, _ = ladder_run
    assert outputs["v360hi"].stat().st_size > 2 * outputs["v360lo"].stat().st_size


def test_first_frame_starts_at_zero_without_edit_list(ladder_run):
    outputs, _ = ladder_run
    for r in LADDER:
        assert first_sample_timing(outputs[r.name]) == (False, 0, 0), r.name


def test_audio_is_resampled_stereo_aac(ladder_run):
    outputs, _ = ladder_run
    streams = ffprobe_json(outputs["a-und-aac2"], "-show_streams")["streams"]
    assert [s["codec_type"] for s in streams] == ["audio"]
    a = streams[0]
    assert (a["codec_name"], a["profile"], a["channels"], a["sample_rate"]) == (
        "aac",
        "LC",
        2,
        "48000",
    )
    assert abs(float(a["duration"]) - 7.0) < 0.1


def test_progress_increases_to_one(ladder_run):
    _, seen = ladder_run
    assert seen, "progress callback never called"
    assert all(b > a for a, b in zip(seen, seen[1:], strict=False))
    assert 0 < seen[0] <= 1.0
    assert seen[-1] == 1.0


def test_rotated_source_is_encoded_upright(tmp_path):
    """Left half red, right half blue, display matrix 90: portrait output, halves top/bottom."""
    plain, rotated = tmp_path / "plain.mp4", tmp_path / "rotated.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "color=red:size=320x360:rate=30",
        "-f", "lavfi", "-i", "color=blue:size=320x360:rate=30",
        "-filter_complex", "[0][1]hstack", "-t", "1",
        "-c:v", "libx264", "-preset", "ultrafast", str(plain),
    )  # fmt: skip
    # FFmpeg 5.1 writes the rotate tag as a display matrix only when stream-copying.
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v", "rotate=90", str(rotated))
    outputs = transcode(
        make_plan(rotated, [make_rung("portrait", 180, 320, 300)], duration=1.0), tmp_path / "out"
    )
    s = video_stream(outputs["portrait"])
    assert (s["width"], s["height"]) == (180, 320)
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(outputs["portrait"]), "-frames:v", "1"]
        + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    assert len(raw) == 180 * 320 * 3

    def pixel(x: int, y: int) -> tuple[int, ...]:
        i = (y * 180 + x) * 3
        return tuple(raw[i : i + 3])

    # turned, not squashed: each row is one colour, top and bottom differ
    top_left, top_right, bottom = pixel(40, 60), pixel(140, 60), pixel(90, 260)
    assert top_left[2] > 200 and top_right[2] > 200 and top_left[0] < 50  # blue across the top
    assert bottom[0] > 200 and bottom[2] < 50  # red across the bottom


def test_hdr_source_tonemaps_sdr_rung_and_keeps_hdr_rung(tmp_path):
    """PQ 10-bit source -> H.264 SDR BT.709 rung + HEVC Main10 PQ rung from one decode."""
    hdr = tmp_path / "hdr.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "2.5",
        "-pix_fmt", "yuv420p10le", "-c:v", "libx265", "-x265-params", "log-level=error",
        "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc",
        str(hdr),
    )  # fmt: skip
    plan = make_plan(
        hdr,
        [
            make_rung("sdr", 320, 180, 300, tonemap=True),
            make_rung("hdr", 320, 180, 300, codec="hevc", profile="main10"),
        ],
        duration=2.5,
    )
    outputs = transcode(plan, tmp_path / "out")
    sdr, hdr10 = video_stream(outputs["sdr"]), video_stream(outputs["hdr"])
    assert (sdr["codec_name"], sdr["pix_fmt"], sdr["color_transfer"]) == (
        "h264",
        "yuv420p",
        "bt709",
    )
    assert sdr["color_primaries"] == "bt709"
    assert (hdr10["codec_name"], hdr10["codec_tag_string"], hdr10["pix_fmt"]) == (
        "hevc",
        "hvc1",
        "yuv420p10le",
    )
    assert hdr10["profile"] == "Main 10" and hdr10["color_transfer"] == "smpte2084"
    assert key_times(outputs["sdr"]) == key_times(outputs["hdr"]) == [0.0, 2.0]


def test_rungs_at_different_frame_rates_keep_aligned_idrs(source, tmp_path):
    ladder = [make_rung("f30", 320, 180, 200), make_rung("f15", 320, 180, 150, frame_rate="15/1")]
    plan = make_plan(source, ladder)
    outputs = transcode(plan, tmp_path)
    f30, f15 = video_stream(outputs["f30"]), video_stream(outputs["f15"])
    assert (int(f30["nb_read_frames"]), int(f15["nb_read_frames"])) == (210, 105)
    assert key_times(outputs["f30"]) == key_times(outputs["f15"]) == [0.0, 2.0, 4.0, 6.0]


def test_missing_source_raises_with_ffmpeg_stderr(tmp_path):
    plan = make_plan(tmp_path / "nope.mov", LADDER[:1])
    with pytest.raises(TranscodeError) as info:
        transcode(plan, tmp_path / "out")
    err = info.value
    # The exit status is FFmpeg's own (5.1: 1, 9: 254); the cause names the file either way.
    head = re.escape(f"[transcode] {tmp_path / 'nope.mov'}: ffmpeg exited with code ")
    cause = re.escape(f": {tmp_path / 'nope.mov'}: No such file or directory")
    assert re.fullmatch(f"{head}[1-9][0-9]*{cause}", str(err))
    assert "No such file or directory" in err.detail
    assert list((tmp_path / "out").iterdir()) == []


def test_corrupt_source_raises_and_leaves_no_partial_outputs(source, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(source.read_bytes()[:20000])  # moov is at the end: cut off
    with pytest.raises(TranscodeError, match="Invalid data found") as info:
        transcode(make_plan(broken, LADDER[:1]), tmp_path / "out")
    assert "moov atom not found" in info.value.detail
    assert not (tmp_path / "out" / "v240.mp4").exists()


def test_interrupt_kills_ffmpeg(source, tmp_path, monkeypatch):
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started.append(proc)
        return proc

    def interrupt(_fraction: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(transcode_mod.subprocess, "Popen", recording_popen)
    plan = make_plan(source, [make_rung("slow", 640, 360, 800)])
    with pytest.raises(KeyboardInterrupt):
        transcode(plan, tmp_path, progress=interrupt, preset="veryslow")
    assert len(started) == 1
    assert started[0].returncode == -signal.SIGKILL
    assert not (tmp_path / "slow.mp4").exists()


def test_progress_tracker_parses_ffmpeg_blocks():
    seen: list[float] = []
    tracker = ProgressTracker(10.0, seen.append)
    for line in [
        "frame=0\n",
        "out_time_us=N/A\n",
        "progress=continue\n",
        "out_time_us=2500000\n",
        "out_time_ms=2500000\n",  # same instant in the legacy key: not repeated
        "out_time_us=1000000\n",  # never goes backwards
        "out_time_us=7500000\n",
        "garbage line\n",
        "progress=end\n",
    ]:
        tracker.feed(line)
    assert seen == [0.25, 0.75, 1.0]
    assert tracker.ended
    assert parse_progress_line("speed=1.5x") == ("speed", "1.5x")
    assert parse_progress_line("no equals") is None


def test_last_meaningful_line_skips_trailers():
    assert last_meaningful_line(["x: bad thing", "Conversion failed!", ""]) == "x: bad thing"
    # FFmpeg 6+: summaries after the cause, and an input's cause without the file name
    missing = [
        "[in#0 @ 0x55d4c0e0] Error opening input: No such file or directory",
        "Error opening input file /m/a b.mov.",
        "Error opening input files: No such file or directory",
    ]
    assert last_meaningful_line(missing) == "/m/a b.mov: No such file or directory"
    no_filter = [
        "[AVFilterGraph @ 0x5567] No such filter: 'nope'",
        "Error opening output file -.",
        "Error opening output files: Filter not found",
    ]
    assert last_meaningful_line(no_filter) == "[AVFilterGraph @ 0x5567] No such filter: 'nope'"
    only = ["Error opening output files: Invalid argument", "Conversion failed!"]
    assert last_meaningful_line(only) == "Error opening output files: Invalid argument"
    assert last_meaningful_line([]) == "no error output"


def test_rich_progress_bar_renders_to_completion():
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, force_terminal=False)
    with rich_progress_bar("Encoding title", console=console) as update:
        update(0.5)
        update(1.0)
    text = buffer.getvalue()
    assert "Encoding title" in text and "100%" in text
