"""Per-title analysis: trial encodes of a sample of the title, scored with VMAF, and the ladder
chosen on their hull (`vod ladder optimize`, `vod ingest --ladder per-title`).

Per class: the fixed plan gives the sizes (fitted to the source) and encoder settings; a long
title is sampled by complexity (one quick constant-quality pass); every trial rung is encoded
over each sample window in one FFmpeg run (one decode, the same commands as a chunk of the
final encode), then scored in one more run per window. The rungs are chosen by
`planning.hull.choose_rungs`. `sample_windows` / `trial_window` are the units the Celery driver
fans out over the encode queue; `analyse_class` runs them in sequence.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.analysis.quality import frame_sizes, mean, score_windows
from pipeline.encode.chunks import Chunk
from pipeline.encode.ffmpeg_cmd import build_chunk_command
from pipeline.encode.quality_cmd import complexity_command
from pipeline.encode.transcode import run_ffmpeg
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan
from pipeline.media.quality import LadderAnalysis, Sample
from pipeline.planning.hull import choose_rungs, upper_hull
from pipeline.planning.ladder import Ladder, load_ladder
from pipeline.planning.per_title import (
    bounds,
    check_rungs,
    choose_samples,
    needs_complexity,
    pool,
    trial_rungs,
    windows,
)
from pipeline.planning.planner import plan as make_plan
from pipeline.workflow.quality import (
    child_cpu,
    display_size,
    media_kbps,
    require_libvmaf,
    score,
    subsample_for,
)

Report = Callable[[str, float], None]


def class_plan(
    media: MediaInfo, device_class: str, *, segment_seconds: float = 6.0,
    audio_map: Sequence[str] | None = None, ladder: Ladder | None = None,
) -> Plan:  # fmt: skip
    """The fixed plan of one class, video only: the sizes and settings the trials use."""
    ladders = {device_class: ladder} if ladder is not None else None
    full = make_plan(
        media, [device_class], ladders, segment_seconds=segment_seconds, audio_map=audio_map
    )
    return full.model_copy(update={"audio": [], "thumbnails": []})


def sample_windows(plan: Plan, media: MediaInfo, work: Path) -> list[Sample]:
    """The stretches of the title to try: all of a short title, else windows by complexity."""
    if not needs_complexity(plan.duration, plan.gop_seconds):
        return choose_samples([], plan.duration)
    smallest = min(plan.video, key=lambda r: r.width * r.height)
    listing = work / "complexity.framecrc"
    argv = complexity_command(plan, smallest, listing, media=media)
    run_ffmpeg(argv, source=plan.source, duration=plan.duration)
    packets = frame_sizes(listing.read_text(encoding="utf-8"), plan.source)
    listing.unlink(missing_ok=True)
    scored = score_windows(
        windows(plan.duration, plan.gop_seconds), packets, smallest.width * smallest.height
    )
    return choose_samples(scored, plan.duration)


def trial_window(
    plan: Plan, ladder: Ladder, sample: Sample, index: int, work: Path, *,
    media: MediaInfo | None, preset: str, progress: Callable[[float], None] | None = None,
) -> dict[str, tuple[float, float]]:  # fmt: skip
    """Encode every trial rung over `sample` and score it: trial name -> (kbps, mean VMAF)."""
    trials = trial_rungs(plan, ladder)
    trial_plan = plan.model_copy(update={"video": trials})
    last = sample.end >= plan.duration - 1e-6
    chunk = Chunk(index=index, start=sample.start, end=sample.end, last=last)
    argv, outputs = build_chunk_command(trial_plan, chunk, work, media=media, preset=preset)
    half = (lambda f: progress(f / 2)) if progress else None
    run_ffmpeg(argv, source=plan.source, duration=sample.seconds, progress=half)
    subsample = subsample_for(plan.video[0].frame_rate)
    scores = score(
        trial_plan, [(t, outputs[t.name]) for t in trials], display_size(plan),
        media=media, window=chunk, subsample=subsample,
        progress=(lambda f: progress(0.5 + f / 2)) if progress else None,
    )  # fmt: skip
    result = {t.name: (media_kbps(outputs[t.name], sample.seconds), mean(scores[t.name]))
              for t in trials}  # fmt: skip
    for path in outputs.values():
        path.unlink(missing_ok=True)
    return result


def choose(
    plan: Plan, ladder: Ladder, samples: Sequence[Sample],
    results: Sequence[dict[str, tuple[float, float]]], cpu_seconds: float = 0.0,
) -> LadderAnalysis:  # fmt: skip
    """The analysis of one class from its trial results (pure)."""
    device_class = plan.device_classes[0]
    points = pool(trial_rungs(plan, ladder), results, samples)
    low, high = bounds(ladder)
    settings = ladder.per_title
    rungs = choose_rungs(
        points, target_vmaf=settings.target_vmaf, step_vmaf=settings.step_vmaf,
        min_kbps=low, max_kbps=high, max_rungs=settings.max_rungs,
    )  # fmt: skip
    check_rungs(rungs, plan, device_class)
    display = display_size(plan)
    notes = [
        f"{len(points)} trials on {sum(s.seconds for s in samples):.1f} s of "
        f"{plan.duration:.1f} s ({len(samples)} window{'s' * (len(samples) != 1)})",
    ]
    if rungs and rungs[-1].predicted_vmaf < settings.target_vmaf:
        notes.append(
            f"the top rung reaches VMAF {rungs[-1].predicted_vmaf:.1f}, below the target "
            f"{settings.target_vmaf:g}, within the {high} kbps cap"
        )
    return LadderAnalysis(
        source=plan.source, device_class=device_class,
        display_width=display[0], display_height=display[1],
        samples=list(samples), points=points, hull=upper_hull(points), rungs=rungs,
        target_vmaf=settings.target_vmaf, step_vmaf=settings.step_vmaf,
        min_kbps=low, max_kbps=high, analysis_cpu_seconds=round(cpu_seconds, 2), notes=notes,
    )  # fmt: skip


def analyse_class(
    media: MediaInfo, device_class: str, *, preset: str = "veryfast",
    segment_seconds: float = 6.0, audio_map: Sequence[str] | None = None,
    ladder: Ladder | None = None, report: Report | None = None,
) -> LadderAnalysis:  # fmt: skip
    """The whole analysis of one class in this process."""
    require_libvmaf(media.path)
    ladder = ladder or load_ladder(device_class)
    plan = class_plan(
        media, device_class, segment_seconds=segment_seconds, audio_map=audio_map, ladder=ladder
    )
    spent: dict[str, float] = {}
    stage = f"analyse {device_class}"
    with tempfile.TemporaryDirectory(prefix="vod-trials-") as tmp, child_cpu(spent, "cpu"):
        work = Path(tmp)
        samples = sample_windows(plan, media, work)
        results = []
        for k, sample in enumerate(samples):

            def step(f: float, k: int = k) -> None:
                if report is not None:
                    report(stage, (k + f) / len(samples))

            results.append(
                trial_window(
                    plan, ladder, sample, k, work, media=media, preset=preset, progress=step
                )  # fmt: skip
            )
    return choose(plan, ladder, samples, results, spent["cpu"])
