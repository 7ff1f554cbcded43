"""The command builder is pure: check the argv it builds, no FFmpeg run here."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from core.errors import TranscodeError
from pipeline.encode.ffmpeg_cmd import (
    TONEMAP_CHAIN,
    build_filter_graph,
    build_rung_command,
    build_transcode_command,
    gop_frames,
    keyframe_expr,
    video_timescale,
)
from pipeline.media.info import AudioStream, MediaInfo, VideoStream
from pipeline.media.plan import AudioRendition, Plan, VideoRung
from tests.support.common import video_rung as rung

OUT = Path("/out/title")


def make_plan(video: list[VideoRung], audio: list[AudioRendition] | None = None) -> Plan:
    return Plan(
        source="/src/title.mov",
        video_source_index=0,
        device_classes=["web"],
        duration=60.0,
        video=video,
        audio=audio if audio is not None else [],
    )


def media(fps: str = "30/1", **video_kw) -> MediaInfo:
    video = VideoStream(
        index=0, codec="h264", width=1920, height=1080, frame_rate=fps, fps=float(Fraction(fps))
    )
    video = video.model_copy(update=video_kw)
    audio = AudioStream(index=1, codec="aac", channels=2, sample_rate=48000)
    return MediaInfo(
        path="/src/title.mov", container="mov", duration=60, size=1, video=[video], audio=[audio]
    )


LADDER = [rung("v240", 426, 240, 300), rung("v360", 640, 360, 700), rung("v720", 1280, 720, 3000)]
AUDIO = [
    AudioRendition(name="a-eng-aac2", source_index=1, language="eng"),
    AudioRendition(name="a-fra-eac3", source_index=2, codec="eac3", channels=6, bitrate_kbps=384),
]


def per_output(argv: list[str], outputs: dict[str, Path]) -> dict[str, list[str]]:
    """Split argv into the options that belong to each output file."""
    result: dict[str, list[str]] = {}
    by_path = {str(p): name for name, p in outputs.items()}
    start = argv.index("-filter_complex") + 2 if "-filter_complex" in argv else argv.index("-i") + 2
    for i, arg in enumerate(argv):
        if arg in by_path:
            result[by_path[arg]] = argv[start:i]
            start = i + 1
    return result


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_one_decode_fans_out_to_every_rung():
    argv, outputs = build_transcode_command(make_plan(LADDER, AUDIO), OUT, media=media())
    assert argv[0] == "ffmpeg"
    assert argv.count("-i") == 1 and option(argv, "-i") == "/src/title.mov"
    graph = option(argv, "-filter_complex")
    assert graph.count("split=3") == 1
    assert "fps=" not in graph  # source already 30/1 CFR
    assert "scale=426:240,setsar=1,format=yuv420p" in graph
    assert "scale=1280:720,setsar=1,format=yuv420p" in graph
    assert outputs == {
        name: OUT / f"{name}.mp4" for name in ["v240", "v360", "v720", "a-eng-aac2", "a-fra-eac3"]
    }
    # every output path appears exactly once, at the end of its options
    assert all(argv.count(str(p)) == 1 for p in outputs.values())
    assert argv[-1] == str(outputs["a-fra-eac3"])


def test_video_outputs_have_aligned_closed_gops():
    plan = make_plan(LADDER, AUDIO)
    argv, outputs = build_transcode_command(plan, OUT, media=media())
    args = per_output(argv, outputs)
    _, labels = build_filter_graph(plan, media())
    for r in LADDER:
        a = args[r.name]
        assert option(a, "-map") == labels[r.name]
        assert option(a, "-c:v") == "libx264"
        assert option(a, "-b:v") == f"{r.bitrate_kbps}k"
        assert option(a, "-maxrate") == f"{r.maxrate_kbps}k"
        assert option(a, "-bufsize") == f"{r.bufsize_kbps}k"
        assert option(a, "-force_key_frames") == "expr:gte(t,n_forced*2)"
        assert option(a, "-g") == option(a, "-keyint_min") == "60"
        assert option(a, "-sc_threshold") == "0"
        assert option(a, "-flags") == "+cgop"
        assert option(a, "-forced-idr") == "1"
        assert option(a, "-bf") == "3"
        assert "frag_keyframe" in option(a, "-movflags")
        assert "empty_moov" in option(a, "-movflags")
        assert option(a, "-video_track_timescale") == "90000"
        assert option(a, "-map_metadata") == "-1"
        assert "-an" in a and "-sn" in a
    assert len(set(labels.values())) == len(LADDER)


def test_audio_outputs_map_source_streams():
    argv, outputs = build_transcode_command(make_plan(LADDER, AUDIO), OUT, media=media())
    args = per_output(argv, outputs)
    aac, eac3 = args["a-eng-aac2"], args["a-fra-eac3"]
    assert option(aac, "-map") == "0:1"
    assert option(aac, "-c:a") == "aac" and option(aac, "-profile:a") == "aac_low"
    assert option(aac, "-ac") == "2" and option(aac, "-ar") == "48000"
    assert option(aac, "-b:a") == "128k"
    assert option(aac, "-metadata:s:a:0") == "language=eng"
    assert option(aac, "-frag_duration") == "2000000"
    assert "-vn" in aac
    assert option(eac3, "-map") == "0:2"
    assert option(eac3, "-c:a") == "eac3" and "-profile:a" not in eac3
    assert option(eac3, "-ac") == "6" and option(eac3, "-b:a") == "384k"
    assert "-metadata:s:a:0" not in eac3  # "und" is not written


def test_progress_and_quiet_flags_come_before_input():
    argv, _ = build_transcode_command(make_plan(LADDER), OUT)
    head = argv[: argv.index("-i")]
    assert option(head, "-progress") == "pipe:1"
    assert "-nostats" in head and "-y" in head and "-nostdin" in head
    assert option(head, "-v") == "error"


def test_without_probe_data_fps_is_forced():
    graph, _ = build_filter_graph(make_plan(LADDER))
    assert graph.startswith("[0:0]fps=30[")
    assert graph.count("split=3") == 1


def test_variable_frame_rate_source_gets_fps_filter():
    graph, _ = build_filter_graph(make_plan(LADDER), media(variable_frame_rate=True))
    assert "fps=30" in graph


def test_rungs_at_different_rates_split_by_rate_first():
    ladder = [
        rung("lo", 640, 360, 700, frame_rate="30/1"),
        rung("hi1", 1280, 720, 3000, frame_rate="60/1"),
        rung("hi2", 1920, 1080, 6000, frame_rate="60/1"),
    ]
    graph, labels = build_filter_graph(make_plan(ladder), media("60/1"))
    chains = graph.split(";")
    assert chains[0].startswith("[0:0]split=2")
    assert sum("fps=30" in c for c in chains) == 1
    assert "fps=60" not in graph
    assert graph.count("split=2") == 2  # by rate, then the two 60 fps rungs
    assert len(labels) == 3


def test_ntsc_rates_get_exact_gop_and_timescale():
    argv, outputs = build_transcode_command(
        make_plan([rung("v", 640, 360, 700, frame_rate="24000/1001")]), OUT
    )
    a = per_output(argv, outputs)["v"]
    assert option(a, "-g") == "48"
    assert option(a, "-video_track_timescale") == "24000"
    assert "fps=24000/1001" in option(argv, "-filter_complex")


@pytest.mark.parametrize(
    ("rate", "frames", "timescale"),
    [
        ("30/1", 60, 90000),
        ("25/1", 50, 90000),
        ("30000/1001", 60, 90000),
        ("24000/1001", 48, 24000),
    ],
)
def test_gop_frames_and_timescale(rate, frames, timescale):
    assert gop_frames(2.0, Fraction(rate)) == frames
    assert video_timescale(Fraction(rate)) == timescale
    # every frame duration is a whole number of ticks
    assert (timescale / Fraction(rate)).denominator == 1


def test_keyframe_expr_uses_gop_seconds():
    assert keyframe_expr(2.0) == "expr:gte(t,n_forced*2)"
    assert keyframe_expr(1.001) == "expr:gte(t,n_forced*1.001)"


def test_interlaced_source_is_deinterlaced_once_before_split():
    graph, _ = build_filter_graph(make_plan(LADDER), media(interlaced=True))
    assert graph.count("yadif") == 1
    assert graph.index("yadif") < graph.index("split=3")


def test_tonemap_runs_once_for_all_sdr_rungs():
    ladder = [r.model_copy(update={"tonemap": True}) for r in LADDER]
    graph, _ = build_filter_graph(make_plan(ladder), media())
    assert graph.count(TONEMAP_CHAIN) == 1
    assert graph.index("tonemap=hable") < graph.index("split=3")


def test_mixed_hdr_and_sdr_rungs_split_before_tonemap():
    ladder = [
        rung("sdr", 1280, 720, 3000, tonemap=True),
        rung("hdr", 1920, 1080, 6000, codec="hevc", profile="main10"),
    ]
    graph, labels = build_filter_graph(make_plan(ladder), media())
    assert graph.count("tonemap=hable") == 1
    assert graph.startswith("[0:0]split=2")
    hdr_chain = next(c for c in graph.split(";") if c.endswith(labels["hdr"]))
    assert "format=yuv420p10le" in hdr_chain and "tonemap" not in hdr_chain


def test_hevc_rung_uses_x265_with_hvc1_and_fixed_gop():
    plan = make_plan([rung("h", 1920, 1080, 5800, codec="hevc", profile="main10", level="4.1")])
    argv, outputs = build_transcode_command(plan, OUT, media=media())
    a = per_output(argv, outputs)["h"]
    assert option(a, "-c:v") == "libx265"
    assert option(a, "-tag:v") == "hvc1"
    assert option(a, "-profile:v") == "main10"
    params = option(a, "-x265-params").split(":")
    assert {"keyint=60", "min-keyint=60", "scenecut=0", "open-gop=0", "level-idc=4.1"} <= set(
        params
    )


def test_baseline_profile_has_no_b_frames_and_level_is_passed():
    plan = make_plan([rung("b", 416, 234, 145, profile="baseline", level="3.0")])
    argv, outputs = build_transcode_command(plan, OUT)
    a = per_output(argv, outputs)["b"]
    assert option(a, "-bf") == "0"
    assert option(a, "-level:v") == "3.0"


def test_rung_command_encodes_one_rung_without_split_or_audio():
    plan = make_plan(LADDER, AUDIO)
    argv = build_rung_command(plan, LADDER[1], OUT, media=media())
    graph = option(argv, "-filter_complex")
    assert "split" not in graph
    assert graph == "[0:0]scale=640:360,setsar=1,format=yuv420p[v0]"
    assert argv[-1] == str(OUT / "v360.mp4")
    assert "-c:a" not in argv


def test_audio_only_plan_has_no_filter_graph():
    plan = make_plan([], AUDIO[:1])
    argv, outputs = build_transcode_command(plan, OUT)
    assert "-filter_complex" not in argv
    assert list(outputs) == ["a-eng-aac2"]


def test_unknown_codec_and_duplicate_names_are_refused():
    with pytest.raises(TranscodeError, match="unsupported video codec 'vp9'"):
        build_transcode_command(make_plan([rung("v", 640, 360, 700, codec="vp9")]), OUT)
    with pytest.raises(TranscodeError, match="not unique"):
        build_transcode_command(make_plan([LADDER[0], LADDER[0]]), OUT)
