"""FFmpeg command lines of the quality measurements: pure functions from a Plan to argv.

* Complexity pass: the whole title, decoded like the ladder (shift, deinterlace, frame rate),
  scaled to the class's smallest size and encoded at constant quality with x264 ultrafast; the
  per-frame packet sizes (`framecrc`) tell how hard each stretch is to encode.
* Trial encodes: ordinary chunk encodes (`build_chunk_command`) of the trial rungs.
* VMAF: the reference is the source through the same graph as the rungs (so the same frames,
  tone-mapped like the SDR rungs when HDR) scaled to the display size; each encode is decoded,
  upscaled (bicubic) to that size and scored frame by frame by libvmaf against it. One FFmpeg
  run decodes the source once for every encode of one window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from core.errors import TranscodeError
from pipeline.encode.chunks import Chunk
from pipeline.encode.ffmpeg_cmd import (
    build_filter_graph,
    chunk_seek_args,
    global_args,
    gop_frames,
    parse_rate,
)
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan, VideoRung
from pipeline.media.quality import VMAF_MODEL

COMPLEXITY_CRF = 28
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._+-]+")
VMAF_PIX_FMT = "yuv420p"  # both sides 8-bit 4:2:0: the model's training format


def complexity_command(
    plan: Plan, rung: VideoRung, out: Path, *, media: MediaInfo | None = None
) -> list[str]:
    """Argv writing one `framecrc` line per frame of a constant-quality encode of the title at
    `rung`'s size and rate to `out`."""
    probe = plan.model_copy(update={"video": [rung], "audio": [], "thumbnails": []})
    graph, labels = build_filter_graph(probe, media)
    gop = gop_frames(plan.gop_seconds, parse_rate(rung.frame_rate))
    argv = global_args(probe, input_args=["-copyts"])
    argv += ["-filter_complex", graph, "-map", labels[rung.name], "-an", "-sn", "-dn"]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", str(COMPLEXITY_CRF)]
    argv += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    argv += ["-f", "framecrc", str(out)]
    return argv


def vmaf_command(
    plan: Plan,
    encodes: Sequence[tuple[VideoRung, Path]],
    display: tuple[int, int],
    logs: Path,
    *,
    media: MediaInfo | None = None,
    window: Chunk | None = None,
    subsample: int = 1,
    threads: int = 2,
) -> tuple[list[str], dict[str, Path]]:
    """Argv scoring every encode against the source, and rung name -> its libvmaf JSON log.

    `window`: the encodes are chunk encodes of this time range (trials); None: whole title."""
    if not encodes:
        raise TranscodeError(plan.source, "no encodes to score")
    width, height = display
    by_rate: dict[Fraction, list[tuple[VideoRung, Path]]] = {}
    for rung, path in encodes:
        by_rate.setdefault(parse_rate(rung.frame_rate), []).append((rung, path))
    references = [
        VideoRung(
            name=f"reference{k}",
            width=width,
            height=height,
            bitrate_kbps=1,
            maxrate_kbps=1,
            bufsize_kbps=1,
            frame_rate=group[0][0].frame_rate,
            tonemap=any(rung.tonemap for rung, _ in group),
        )
        for k, group in enumerate(by_rate.values())
    ]
    ref_plan = plan.model_copy(update={"video": references, "audio": [], "thumbnails": []})
    start, end = (window.start, None if window.last else window.end) if window else (None, None)
    graph, labels = build_filter_graph(ref_plan, media, start=start, end=end)
    seek = chunk_seek_args(plan, window) if window else []
    argv = global_args(ref_plan, input_args=[*seek, "-copyts"])
    chains = [graph]
    outputs: dict[str, Path] = {}
    maps: list[str] = []
    number = 1  # input 0 is the source
    for reference, group in zip(references, by_rate.values(), strict=True):
        refs = [f"[r{number + k}]" for k in range(len(group))]
        chains.append(
            f"{labels[reference.name]}setpts=PTS-STARTPTS,split={len(group)}{''.join(refs)}"
        )
        for (rung, path), ref in zip(group, refs, strict=True):
            if path.suffix == ".concat":  # chunk files, in order
                argv += ["-f", "concat", "-safe", "0"]
            argv += ["-i", str(path)]
            log = logs / f"{rung.name}.vmaf.json"
            outputs[rung.name] = log
            chains.append(
                f"[{number}:v:0]scale={width}:{height}:flags=bicubic,setsar=1,"
                f"format={VMAF_PIX_FMT},setpts=PTS-STARTPTS[d{number}]"
            )
            options = (
                f"model=version={VMAF_MODEL}:n_threads={threads}:n_subsample={subsample}"
                f":log_fmt=json:log_path={filter_path(log)}"
            )
            chains.append(f"[d{number}]{ref}libvmaf={options}[o{number}]")
            maps += ["-map", f"[o{number}]"]
            number += 1
    argv += ["-filter_complex", ";".join(chains), *maps, "-f", "null", "-"]
    return argv, outputs


def filter_path(path: Path) -> str:
    """A path as a filter option value. Filter graphs have two levels of escaping; rather than
    get them subtly wrong, only plain paths are accepted (the logs go to a private temp dir)."""
    text = str(path)
    if not _PLAIN_PATH.fullmatch(text):
        raise TranscodeError(text, "VMAF log path must be plain (letters, digits, / . _ + -)")
    return text
