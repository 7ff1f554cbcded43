"""FFmpeg command lines and probe readings for delivered mezzanines (issue 13). Pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import TranscodeError
from pipeline.analysis.probe import parse_ffprobe
from pipeline.analysis.stream_ends import stream_ends
from pipeline.encode.audio_cmd import align_chain, join_chain
from pipeline.encode.chunks import Chunk
from pipeline.encode.ffmpeg_cmd import (
    build_chunk_command,
    build_filter_graph,
    build_transcode_command,
)
from pipeline.encode.subtitles import fit_cues, vtt_duration
from pipeline.media.plan import AudioRendition, Plan
from tests.support.common import video_rung

OUT = Path("/out")


def _plan(audio=(), *, video=True, **kw) -> Plan:
    rungs = [video_rung("v360", 640, 360, 700, frame_rate="25/1")] if video else []
    fields = {"source": "/in/s.ts", "video_source_index": 0, "device_classes": ["web"]}
    return Plan(**{**fields, "duration": 6.0, "video": rungs, "audio": list(audio), **kw})


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_every_audio_rendition_is_aligned_to_the_picture_and_ends_with_it():
    late = AudioRendition(name="a-eng-aac2", source_index=1, language="eng", offset=1.378667)
    argv, _ = build_transcode_command(_plan([late]), OUT)
    chain = _option(argv, "-af")
    assert chain == (
        "asetpts=PTS-STARTPTS+1.378667/TB,aresample=async=1:first_pts=0,"
        "apad=whole_dur=6,atrim=end=6"
    )
    assert _option(argv, "-map").startswith("[") and "0:1" in argv  # video label, then audio
    assert align_chain(-0.5, 5.28).startswith("asetpts=PTS-STARTPTS-0.5/TB,")
    assert align_chain(0.0, 5.28).startswith("asetpts=PTS-STARTPTS,")


def test_joined_mono_tracks_go_through_the_complex_graph():
    surround = AudioRendition(
        name="a-und-eac3-6", source_index=1, codec="eac3", channels=6,
        merge_indexes=[1, 2, 3, 4, 5, 6], merge_layout="5.1",
    )  # fmt: skip
    stereo = AudioRendition(
        name="a-und-aac2", source_index=7, merge_indexes=[7, 8], merge_layout="stereo"
    )
    argv, outputs = build_transcode_command(_plan([stereo, surround], video=False), OUT)
    graph = _option(argv, "-filter_complex")
    assert (
        "[0:1][0:2][0:3][0:4][0:5][0:6]join=inputs=6:channel_layout=5.1:"
        "map=0.0-FL|1.0-FR|2.0-FC|3.0-LFE|4.0-BL|5.0-BR,asetpts=PTS-STARTPTS,"
        "aresample=async=1:first_pts=0,apad=whole_dur=6,atrim=end=6[a1]"
    ) in graph
    assert "[0:7][0:8]join=inputs=2:channel_layout=stereo:map=0.0-FL|1.0-FR" in graph
    assert "-af" not in argv
    maps = [argv[i + 1] for i, a in enumerate(argv) if a == "-map"]
    assert maps == ["[a0]", "[a1]"] and list(outputs) == ["a-und-aac2", "a-und-eac3-6"]
    bad = stereo.model_copy(update={"merge_layout": "5.1"})
    with pytest.raises(TranscodeError, match="cannot join 2 tracks into '5.1'"):
        join_chain(bad)


def test_the_picture_starts_at_zero_in_whole_runs_and_chunks_alike():
    """Both read the input's own timestamps (-copyts) and shift the picture's first one."""
    plan = _plan(video_start=1.921333)
    argv, _ = build_transcode_command(plan, OUT)
    assert argv.index("-copyts") < argv.index("-i")
    graph = _option(argv, "-filter_complex")
    assert graph.startswith("[0:0]setpts=PTS-1.921333/TB[n0];[n0]fps=25[n1]")
    argv, _ = build_chunk_command(plan, Chunk(index=1, start=6.0, end=12.0), OUT)
    assert _option(argv, "-ss") == "5" and _option(argv, "-t") == "9.921333"
    assert "-start_at_zero" not in argv and "-copyts" in argv
    assert "setpts=PTS-1.921333/TB" in _option(argv, "-filter_complex")
    early = build_filter_graph(_plan(video_start=-0.02))[0]
    assert early.startswith("[0:0]setpts=PTS+0.02/TB")


def test_field_rate_deinterlacing_always_resamples_to_the_rung_rate():
    plan = _plan(deinterlace="send_field")
    plan.video[0] = plan.video[0].model_copy(update={"frame_rate": "50/1"})
    graph, _ = build_filter_graph(plan)
    assert graph.startswith("[0:0]yadif=mode=send_field:deint=interlaced[n0];[n0]fps=50[n1]")
    frame = _plan(deinterlace="send_frame")
    assert build_filter_graph(frame)[0].startswith("[0:0]yadif=mode=send_frame:deint=interlaced")


def _ffprobe_json(**audio) -> dict:
    return {
        "format": {"format_name": "mpegts", "duration": "6.0", "start_time": "1.480000"},
        "streams": [
            {"index": 0, "codec_type": "video", "codec_name": "h264", "width": 320,
             "height": 240, "r_frame_rate": "25/1", "avg_frame_rate": "25/1",
             "start_time": "1.480000", "duration": "6.000000"},
            {"index": 1, "codec_type": "audio", "codec_name": "aac", "channels": 2,
             "sample_rate": "48000", "start_time": "2.858667", "duration": "4.373333", **audio},
        ],
    }  # fmt: skip


def test_probe_reads_every_start_time():
    info = parse_ffprobe("s.ts", _ffprobe_json())
    assert info.start_time == 1.48
    assert (info.video[0].start_time, info.audio[0].start_time) == (1.48, 2.858667)
    no_start = parse_ffprobe("s.ts", _ffprobe_json(start_time="N/A"))
    assert no_start.audio[0].start_time == 0.0


@pytest.mark.parametrize(
    ("real", "avg", "snapped"),
    [
        ("17/1", "15/1", "24000/1001"),
        ("30/1", "24/1", "30/1"),
        ("90000/1", "5831/100", "60000/1001"),
    ],
)
def test_variable_rates_snap_to_the_nearest_standard_rate(real, avg, snapped):
    data = _ffprobe_json()
    data["streams"][0].update(r_frame_rate=real, avg_frame_rate=avg)
    (video,) = parse_ffprobe("phone.mov", data).video
    assert (video.frame_rate, video.variable_frame_rate) == (snapped, True)


def test_stream_ends_come_from_the_last_packets():
    packets = [
        {"stream_index": 0, "pts_time": "7.440000", "duration_time": "0.040000"},
        {"stream_index": 1, "pts_time": "7.466667", "duration_time": "0.021333"},
        {"stream_index": 1, "pts_time": "7.445333", "duration_time": "0.021333"},
        {"stream_index": 1, "pts_time": "N/A"},
    ]
    assert stream_ends(packets) == pytest.approx({0: 7.48, 1: 7.488})


def test_subtitles_past_the_picture_are_cut_at_its_end():
    vtt = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nOne\n\n"
        "00:00:04.500 --> 00:00:06.000\nTwo\n\n00:00:05.500 --> 00:00:07.000\nThree\n"
    )
    text, cut = fit_cues(vtt, 5.28)
    assert cut == 1.72 and vtt_duration(text) == 5.28
    assert "Three" not in text and "00:00:04.500 --> 00:00:05.280\nTwo" in text
    assert fit_cues(vtt, 8.0) == (vtt, 0.0)
