"""The only place FFmpeg command lines are built: pure functions from a Plan to argv.

One FFmpeg run per title decodes the source once and fans the decoded picture out to every
rung through a single filter graph, so the expensive parts (decode, deinterlace, tone-map)
happen once. Every rung gets closed GOPs with IDR frames forced at the same timestamps, which
is what lets the packager cut aligned segments without re-encoding.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from core.errors import TranscodeError
from pipeline.encode.audio_cmd import align_chain, audio_graph
from pipeline.encode.chunks import Chunk
from pipeline.encode.thumbnail_cmd import thumbnail_chains, thumbnail_output_args
from pipeline.media.info import MediaInfo, VideoStream
from pipeline.media.plan import AudioRendition, Plan, VideoRung

B_FRAMES = 3
AUDIO_FRAGMENT_US = 2_000_000
# HDR (PQ/HLG) -> SDR BT.709: linearise, tone-map in float RGB, re-encode as limited-range 709.
TONEMAP_CHAIN = (
    "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"
    "tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
)
# Fragment at every IDR (video), never write an edit list the packager has to interpret:
# negative CTS offsets keep the first frame at pts 0 even with B-frames.
VIDEO_MOVFLAGS = "+frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets"
# delay_moov: (E-)AC-3 parameters are only known after the first packets are parsed.
AUDIO_MOVFLAGS = "+frag_keyframe+empty_moov+default_base_moof+delay_moov"
# Chunks keep the title's absolute timeline: with -copyts the frames carry absolute timestamps
# and frag_discont makes the muxer write the first packet's time as tfdt instead of zero.
CHUNK_MOVFLAGS = "+frag_discont"
# A chunk decodes this much source before its start and after its end, so the filters that
# look at neighbouring frames (fps, yadif) pick the same frames at its edges as a full run.
CHUNK_MARGIN_SECONDS = 1.0
VIDEO_ENCODERS = {"h264": "libx264", "hevc": "libx265"}
AUDIO_ENCODERS = {"aac": "aac", "eac3": "eac3", "ac3": "ac3"}


def build_transcode_command(
    plan: Plan,
    out_dir: Path,
    *,
    media: MediaInfo | None = None,
    preset: str = "veryfast",
) -> tuple[list[str], dict[str, Path]]:
    """Argv for one FFmpeg run producing every rendition, and rendition name -> output file."""
    outputs = output_paths(plan, out_dir)
    argv = global_args(plan, input_args=["-copyts"])  # input times: see build_filter_graph
    graphs: list[str] = []
    labels: dict[str, str] = {}
    if plan.video or plan.thumbnails:
        graph, labels = build_filter_graph(plan, media)
        graphs.append(graph)
    joined: dict[str, str] = {}  # renditions made of joined mono tracks need the complex graph
    for k, rendition in enumerate(plan.audio):
        if rendition.merge_indexes:
            joined[rendition.name] = f"[a{k}]"
            graphs.append(audio_graph(rendition, plan.duration, joined[rendition.name]))
    if graphs:
        argv += ["-filter_complex", ";".join(graphs)]
    for rung in plan.video:
        argv += video_output_args(plan, rung, labels[rung.name], preset=preset)
        argv.append(str(outputs[rung.name]))
    for rendition in plan.audio:
        argv += audio_output_args(rendition, plan.duration, label=joined.get(rendition.name))
        argv.append(str(outputs[rendition.name]))
    for thumbs in plan.thumbnails:
        argv += thumbnail_output_args(thumbs, labels[thumbs.name])
        argv.append(str(outputs[thumbs.name]))
    return argv, outputs


def build_rung_command(
    plan: Plan,
    rung: VideoRung,
    out_dir: Path,
    *,
    media: MediaInfo | None = None,
    preset: str = "veryfast",
) -> list[str]:
    """Argv encoding a single rung in its own process (the decode-per-rung baseline)."""
    single = plan.model_copy(update={"video": [rung], "audio": []})
    argv, _ = build_transcode_command(single, out_dir, media=media, preset=preset)
    return argv


def build_chunk_command(
    plan: Plan,
    chunk: Chunk,
    out_dir: Path,
    *,
    media: MediaInfo | None = None,
    preset: str = "veryfast",
) -> tuple[list[str], dict[str, Path]]:
    """Argv encoding one chunk of every video rung, and rung name -> chunk file.

    Audio is not chunked (encode it once with the video-less plan). Timestamps stay the
    input's own (-copyts, as in the un-chunked run; the graph moves the picture's first frame to
    0), so fps, the forced-IDR expression and the muxer see the same times as in one long run.
    The
    input is seeked frame-accurately (`-ss` before `-i`, accurate seek) to a margin before the
    chunk and read (-t) to a margin after it; a `trim` after fps then keeps exactly the output
    frames in [start, end): the frame grid of the full run, even when the source rate differs
    or its frames fall between the boundaries. The last chunk runs to the end of the source.
    """
    if not plan.video:
        raise TranscodeError(plan.source, "plan has no video rungs to encode in chunks")
    gops = round(chunk.start / plan.gop_seconds)
    if abs(gops * plan.gop_seconds - chunk.start) > 1e-6:
        raise TranscodeError(plan.source, f"chunk {chunk.index} does not start on a GOP boundary")
    plan = plan.model_copy(update={"thumbnails": []})  # made by a part of their own
    outputs = chunk_output_paths(plan, chunk, out_dir)
    argv = global_args(plan, input_args=[*chunk_seek_args(plan, chunk), "-copyts"])
    end = None if chunk.last else chunk.end
    graph, labels = build_filter_graph(plan, media, start=chunk.start, end=end)
    argv += ["-filter_complex", graph]
    for rung in plan.video:
        argv += video_output_args(plan, rung, labels[rung.name], preset=preset, start=chunk.start)
        argv.append(str(outputs[rung.name]))
    return argv, outputs


def chunk_seek_args(plan: Plan, chunk: Chunk) -> list[str]:
    """Input options reading the source from a margin before `chunk` to a margin after it."""
    read_from = max(0.0, chunk.start - CHUNK_MARGIN_SECONDS)
    seek = ["-accurate_seek", "-ss", _num(read_from)]
    if not chunk.last:  # -ss counts from the container's start, at most `video_start` earlier
        late = max(0.0, plan.video_start)
        seek += ["-t", _num(chunk.end + late + CHUNK_MARGIN_SECONDS - read_from)]
    return seek


def chunk_output_paths(plan: Plan, chunk: Chunk, out_dir: Path) -> dict[str, Path]:
    """Where a chunk of each video rung is written: out_dir/<rung>.c<index>.mp4."""
    names = [r.name for r in plan.video]
    if len(set(names)) != len(names):
        raise TranscodeError(plan.source, f"rendition names are not unique: {names}")
    return {name: Path(out_dir) / f"{name}.c{chunk.index:05d}.mp4" for name in names}


def output_paths(plan: Plan, out_dir: Path) -> dict[str, Path]:
    """Where each rendition is written: out_dir/<name>.mp4 (thumbnails: <name>.mjpeg)."""
    names = [r.name for r in plan.video] + [a.name for a in plan.audio]
    thumbs = [t.name for t in plan.thumbnails]
    if len(set(names + thumbs)) != len(names + thumbs):
        raise TranscodeError(plan.source, f"rendition names are not unique: {names + thumbs}")
    paths = {name: Path(out_dir) / f"{name}.mp4" for name in names}
    return paths | {name: Path(out_dir) / f"{name}.mjpeg" for name in thumbs}


def gop_frames(gop_seconds: float, rate: Fraction) -> int:
    """Frames per GOP, rounded up so the forced IDR always arrives before keyint would fire."""
    return max(1, math.ceil(Fraction(gop_seconds).limit_denominator(1000) * rate))


def video_timescale(rate: Fraction) -> int:
    """90 kHz when every frame lands on a whole tick, else the rate's numerator (24000/1001)."""
    if (90000 * rate.denominator) % rate.numerator == 0:
        return 90000
    return rate.numerator


def keyframe_expr(gop_seconds: float) -> str:
    """IDR at the first frame at or after every multiple of the GOP duration."""
    return f"expr:gte(t,n_forced*{gop_seconds:g})"


def chunk_keyframe_expr(gop_seconds: float, start: float, rate: Fraction) -> str:
    """`keyframe_expr` for a chunk starting at `start` (a GOP multiple), same IDR times.

    FFmpeg's `t` counts from the chunk's first frame, which sits at `first` (the first frame
    of the rate grid at or after `start`: later than `start` at 30000/1001), and `n_forced`
    from the chunk's first IDR; both are put back on the title's timeline. `first` is rounded
    up by a microsecond or two so a frame exactly on a GOP boundary cannot miss it by a
    rounding error (frames before a boundary are at least 1/numerator s = 10+ us before it).
    """
    if not start:
        return keyframe_expr(gop_seconds)
    gops = round(start / gop_seconds)
    first = math.ceil(_first_frame_at(start, rate) * 1_000_000 + 1) / 1_000_000
    return f"expr:gte(t+{_num(first)},(n_forced+{gops})*{gop_seconds:g})"


def build_filter_graph(
    plan: Plan,
    media: MediaInfo | None = None,
    *,
    start: float | None = None,
    end: float | None = None,
) -> tuple[str, dict[str, str]]:
    """The -filter_complex text and rung name -> output label.

    Decoded source -> [shift to 0] [deinterlace] -> per frame rate: [fps] [trim] -> per
    tone-map choice: [tonemap] -> split -> per rung scale/setsar/format. Splits of one are left
    out. FFmpeg reads the input's own timestamps (-copyts): its time zero otherwise depends on
    the container and, for MPEG-TS, on which streams a run maps (a video-only part and a run
    with audio would disagree). The shift to 0 (`plan.video_start`, the picture's first
    timestamp) is a constant, so chunks and a whole run put every frame at the same time.
    `start`/`end` (a chunk, absolute seconds): keep only the frames in [start, end) of each
    output frame rate; either may be None (open). The cuts sit a quarter frame before the first
    frame kept / dropped, so rounding to the filter's time base cannot move them by a frame.
    """
    if plan.video_source_index is None:
        raise TranscodeError(plan.source, "plan has video rungs but no video source stream")
    source = _source_stream(plan, media)
    chains: list[str] = []
    counter = itertools.count()

    def node(inp: str, filters: list[str]) -> str:
        if not filters:
            return inp
        label = f"[n{next(counter)}]"
        chains.append(f"{inp}{','.join(filters)}{label}")
        return label

    def fan_out(inp: str, n: int) -> list[str]:
        if n == 1:
            return [inp]
        labels = [f"[n{next(counter)}]" for _ in range(n)]
        chains.append(f"{inp}split={n}{''.join(labels)}")
        return labels

    head = f"[0:{plan.video_source_index}]"
    first = [f"setpts=PTS{_signed(-plan.video_start)}/TB"] if plan.video_start else []
    deinterlace = _deinterlacer(plan, source)
    head = node(head, first + ([deinterlace] if deinterlace else []))
    field_rate = plan.deinterlace == "send_field"  # frame rate doubled: fps always follows

    rung_number = itertools.count()
    by_rate: dict[Fraction, list[VideoRung]] = {}
    for rung in plan.video:
        by_rate.setdefault(parse_rate(rung.frame_rate), []).append(rung)

    out_labels: dict[str, str] = {}
    branches = fan_out(head, len(by_rate) + bool(plan.thumbnails))
    if plan.thumbnails:  # the last branch: scrubbing thumbnails from the same decode
        more, out_labels = thumbnail_chains(
            plan.thumbnails, branches.pop(), lambda: f"[n{next(counter)}]", TONEMAP_CHAIN
        )
        chains += more
    for (rate, rungs), rate_in in zip(by_rate.items(), branches, strict=True):
        keep = _same_rate(source, rate) and not field_rate
        filters = [] if keep else [f"fps={_fmt_rate(rate)}"]
        bounds = [
            f"{key}={_num(_cut_before(seconds, rate))}"
            for key, seconds in (("start", start), ("end", end))
            if seconds is not None and seconds > 0
        ]
        if bounds:
            filters.append("trim=" + ":".join(bounds))
        rate_head = node(rate_in, filters)
        tonemapped = [r for r in rungs if r.tonemap]
        untouched = [r for r in rungs if not r.tonemap]
        groups = [g for g in (tonemapped, untouched) if g]
        for group, group_in in zip(groups, fan_out(rate_head, len(groups)), strict=True):
            group_head = node(group_in, [TONEMAP_CHAIN] if group[0].tonemap else [])
            for rung, rung_in in zip(group, fan_out(group_head, len(group)), strict=True):
                pix_fmt = "yuv420p10le" if rung.profile == "main10" else "yuv420p"
                label = f"[v{next(rung_number)}]"
                chains.append(
                    f"{rung_in}scale={rung.width}:{rung.height},setsar=1,format={pix_fmt}{label}"
                )
                out_labels[rung.name] = label
    return ";".join(chains), out_labels


def video_output_args(
    plan: Plan, rung: VideoRung, label: str, *, preset: str, start: float | None = None
) -> list[str]:
    """Encoder and muxer options for one video rung (output path not included).

    `start`: set for a chunk (its absolute start time, see `build_chunk_command`).
    """
    encoder = VIDEO_ENCODERS.get(rung.codec)
    if encoder is None:
        raise TranscodeError(plan.source, f"unsupported video codec {rung.codec!r} for {rung.name}")
    rate = parse_rate(rung.frame_rate)
    gop = gop_frames(plan.gop_seconds, rate)
    bframes = 0 if rung.profile == "baseline" else B_FRAMES
    if start is None:
        keyframes = keyframe_expr(plan.gop_seconds)
    else:
        keyframes = chunk_keyframe_expr(plan.gop_seconds, start, rate)
    args = ["-map", label, "-an", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"]
    args += ["-c:v", encoder, "-preset", preset, "-profile:v", rung.profile]
    args += [
        "-b:v", f"{rung.bitrate_kbps}k",
        "-maxrate", f"{rung.maxrate_kbps}k",
        "-bufsize", f"{rung.bufsize_kbps}k",
        "-g", str(gop),
        "-keyint_min", str(gop),
        "-sc_threshold", "0",
        "-bf", str(bframes),
        "-flags", "+cgop",
        "-forced-idr", "1",
        "-force_key_frames", keyframes,
    ]  # fmt: skip
    if encoder == "libx264":
        if rung.level:
            args += ["-level:v", rung.level]
        args += ["-x264-params", "open-gop=0:scenecut=0"]
    else:
        x265 = [
            f"keyint={gop}",
            f"min-keyint={gop}",
            "scenecut=0",
            "open-gop=0",
            f"bframes={bframes}",
            "log-level=error",
        ]
        if rung.level:
            x265.append(f"level-idc={rung.level}")
        args += ["-x265-params", ":".join(x265), "-tag:v", "hvc1"]
    movflags = VIDEO_MOVFLAGS if start is None else VIDEO_MOVFLAGS + CHUNK_MOVFLAGS
    args += ["-f", "mp4", "-movflags", movflags]
    args += ["-video_track_timescale", str(video_timescale(rate))]
    return args


def audio_output_args(
    rendition: AudioRendition, duration: float, *, label: str | None = None
) -> list[str]:
    """Encoder and muxer options for one audio rendition (output path not included).

    The audio is aligned to the picture and made `duration` (the programme's) long; `label`
    is its joined-tracks chain in the complex graph, which aligns it already."""
    encoder = AUDIO_ENCODERS.get(rendition.codec)
    if encoder is None:
        raise TranscodeError(
            rendition.name, f"unsupported audio codec {rendition.codec!r} for {rendition.name}"
        )
    args = ["-map", label or f"0:{rendition.source_index}", "-vn", "-sn", "-dn"]
    if label is None:
        args += ["-af", align_chain(rendition.offset, duration)]
    args += ["-map_metadata", "-1", "-map_chapters", "-1", "-c:a", encoder]
    if encoder == "aac":
        args += ["-profile:a", "aac_low"]
    args += [
        "-ac", str(rendition.channels),
        "-ar", str(rendition.sample_rate),
        "-b:a", f"{rendition.bitrate_kbps}k",
    ]  # fmt: skip
    if rendition.language and rendition.language != "und":
        args += ["-metadata:s:a:0", f"language={rendition.language}"]
    args += ["-f", "mp4", "-movflags", AUDIO_MOVFLAGS, "-frag_duration", str(AUDIO_FRAGMENT_US)]
    return args


def parse_rate(text: str) -> Fraction:
    """'30000/1001' or '25' -> exact Fraction; refuses zero and negatives."""
    rate = Fraction(text)
    if rate <= 0:
        raise ValueError(f"frame rate must be positive: {text!r}")
    return rate


def global_args(plan: Plan, input_args: Sequence[str] = ()) -> list[str]:
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-v", "error",
        "-progress", "pipe:1", "-y", *input_args, "-i", plan.source,
    ]  # fmt: skip


def _first_frame_at(seconds: float, rate: Fraction) -> Fraction:
    """Time of the first frame of the `rate` grid at or after `seconds`."""
    return Fraction(math.ceil(Fraction(seconds).limit_denominator(1000) * rate)) / rate


def _cut_before(seconds: float, rate: Fraction) -> Fraction:
    """A quarter frame before the first frame of the `rate` grid at or after `seconds`."""
    return _first_frame_at(seconds, rate) - Fraction(1, 4) / rate


def _signed(seconds: float) -> str:
    return ("+" if seconds >= 0 else "-") + _num(abs(seconds))


def _num(seconds: float | Fraction) -> str:
    """Seconds for FFmpeg options: plain decimal (never exponent notation), microsecond precise."""
    return f"{float(seconds):.6f}".rstrip("0").rstrip(".")


def _source_stream(plan: Plan, media: MediaInfo | None) -> VideoStream | None:
    if media is None:
        return None
    return next((v for v in media.video if v.index == plan.video_source_index), None)


def _deinterlacer(plan: Plan, source: VideoStream | None) -> str | None:
    """yadif in the plan's mode; a plan made without one still deinterlaces an interlaced
    source, one frame per frame. Frames not flagged interlaced pass through untouched."""
    if plan.deinterlace:
        return f"yadif=mode={plan.deinterlace}:deint=interlaced"
    if source is not None and source.interlaced:
        return "yadif=deint=interlaced"
    return None


def _same_rate(source: VideoStream | None, rate: Fraction) -> bool:
    """True when the fps filter can be skipped: a known constant source rate equal to the rung's.

    Without probe data the fps filter is always inserted, which also makes the output CFR.
    """
    if source is None or source.variable_frame_rate:
        return False
    try:
        return parse_rate(source.frame_rate) == rate
    except (ValueError, ZeroDivisionError):
        return False


def _fmt_rate(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"
