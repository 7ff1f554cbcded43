"""Measuring picture quality with libvmaf: trial points for per-title ladders, and the quality
report of a finished title. The FFmpeg runs (commands from `encode.quality_cmd`) and the
reading of what they wrote (`analysis.quality`) meet here.

Which FFmpeg: `VOD_FFMPEG` (default: the imageio-ffmpeg wheel's FFmpeg 9, which has libvmaf);
one that lacks libvmaf is refused with a clear message before any encode.
"""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from fractions import Fraction
from functools import cache
from pathlib import Path

from core.errors import PipelineError
from core.settings import ffmpeg_exe
from pipeline.analysis.quality import mean, percentile, vmaf_scores
from pipeline.encode.chunks import Chunk
from pipeline.encode.quality_cmd import vmaf_command
from pipeline.encode.transcode import run_ffmpeg
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan, VideoRung
from pipeline.media.quality import QualityReport, RenditionQuality
from pipeline.mp4.reader import iter_top_level
from pipeline.planning.ladder import Ladder, load_ladder

FRAMES_SCORED_PER_SECOND = 5  # the report scores every n-th frame: about 5 a second


def subsample_for(frame_rate: str) -> int:
    """Every n-th frame is scored: n keeps about FRAMES_SCORED_PER_SECOND frames a second
    (libvmaf's `n_subsample`; a 25-30 fps title: every 5th-6th frame)."""
    return max(1, int(Fraction(frame_rate) / FRAMES_SCORED_PER_SECOND))


@cache
def _has_libvmaf(ffmpeg: str) -> bool:
    try:
        done = subprocess.run(
            [ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(line.split()[1:2] == ["libvmaf"] for line in done.stdout.splitlines())


def require_libvmaf(source: str) -> None:
    """Refuse, before hours of work, when the configured FFmpeg cannot measure VMAF."""
    ffmpeg = ffmpeg_exe()
    if not _has_libvmaf(ffmpeg):
        raise PipelineError(
            source,
            f"{ffmpeg} has no libvmaf filter, so quality cannot be measured: set VOD_FFMPEG to "
            "an FFmpeg built with libvmaf (default `auto`: the imageio-ffmpeg wheel's)",
            stage="quality",
        )


@contextmanager
def child_cpu(into: dict[str, float], key: str) -> Iterator[None]:
    """Adds the CPU seconds of the child processes (FFmpeg) finished inside the block."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        yield
    finally:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        into[key] = round(into.get(key, 0.0) + spent, 2)


def media_kbps(encoded: Path | Sequence[Path], seconds: float) -> float:
    """The media bitrate of an encode (a file, or its chunk files): `mdat` payload bits over
    `seconds`."""
    payload = 0
    for path in [encoded] if isinstance(encoded, Path) else encoded:
        with path.open("rb") as f:
            payload += sum(
                b.size - b.header_size for b in iter_top_level(f, path) if b.type == "mdat"
            )
    return payload * 8 / 1000 / seconds if seconds > 0 else 0.0


def _input(encoded: Path | Sequence[Path], name: str, logs: Path) -> Path:
    """One input per encode: the file, or a concat list of its chunk files (`.concat`)."""
    if isinstance(encoded, Path):
        return encoded
    if len(encoded) == 1:
        return encoded[0]
    listing = logs / f"{name}.concat"
    listing.write_text("".join(f"file '{concat_quote(p)}'\n" for p in encoded), encoding="utf-8")
    return listing


def concat_quote(path: Path) -> str:
    """A path inside single quotes of an FFmpeg concat list."""
    return str(path.resolve()).replace("'", "'\\''")


def score(
    plan: Plan,
    encodes: Sequence[tuple[VideoRung, Path | Sequence[Path]]],
    display: tuple[int, int],
    *,
    media: MediaInfo | None,
    window: Chunk | None = None,
    subsample: int = 1,
    progress: Callable[[float], None] | None = None,
) -> dict[str, list[float]]:
    """Per-frame VMAF of each encode against the source (at `display`), by rung name."""
    require_libvmaf(plan.source)
    with tempfile.TemporaryDirectory(prefix="vod-vmaf-") as logs:
        inputs = [(rung, _input(encoded, rung.name, Path(logs))) for rung, encoded in encodes]
        argv, outputs = vmaf_command(
            plan, inputs, display, Path(logs), media=media, window=window,
            subsample=subsample, threads=os.cpu_count() or 2,
        )  # fmt: skip
        seconds = window.duration if window else plan.duration
        run_ffmpeg(argv, source=plan.source, duration=seconds, progress=progress)
        return {
            name: vmaf_scores(log.read_text(encoding="utf-8"), f"{plan.source} ({name})")
            for name, log in outputs.items()
        }


def display_size(plan: Plan) -> tuple[int, int]:
    """The size quality is judged at: the largest rung's (never above the source)."""
    top = max(plan.video, key=lambda r: (r.width * r.height, r.bitrate_kbps))
    return top.width, top.height


def quality_report(
    plan: Plan,
    outputs: Mapping[str, Path | Sequence[Path]],
    *,
    media: MediaInfo | None,
    ladders: Mapping[str, Ladder] | None = None,
    mode: str = "fixed",
    progress: Callable[[float], None] | None = None,
) -> QualityReport:
    """VMAF mean and 5th percentile of every video rendition of the title against the source."""
    display = display_size(plan)
    ladders = ladders or {c: load_ladder(c) for c in plan.device_classes}
    subsample = subsample_for(max(plan.video, key=lambda r: Fraction(r.frame_rate)).frame_rate)
    scores = score(
        plan, [(r, outputs[r.name]) for r in plan.video], display,
        media=media, subsample=subsample, progress=progress,
    )  # fmt: skip
    renditions = []
    for rung in plan.video:
        floors = [
            ladders[c].min_vmaf for c in rung.device_classes if ladders[c].min_vmaf is not None
        ]
        frames = scores[rung.name]
        renditions.append(
            RenditionQuality(
                name=rung.name,
                width=rung.width,
                height=rung.height,
                bitrate_kbps=rung.bitrate_kbps,
                measured_kbps=round(media_kbps(outputs[rung.name], plan.duration), 1),
                vmaf_mean=round(mean(frames), 3),
                vmaf_p5=round(percentile(frames, 0.05), 3),
                frames=len(frames),
                min_vmaf=max(floors) if floors else None,  # type: ignore[type-var]
            )
        )
    return QualityReport(
        display_width=display[0],
        display_height=display[1],
        subsample=subsample,
        renditions=renditions,
        ladder=mode,
    )
