"""What a per-title analysis encodes and measures. Pure: plans and numbers in, plans out.

* Trial sizes are the class's fixed-ladder sizes as fitted to the source (so never above it);
  each is tried at `rate_points` bitrates spaced evenly in log(bitrate) over the range where
  that size is useful (TRIAL_BPP bits per pixel), kept within the class's bounds. The trials
  are ordinary rungs of the class plan (same frame rate, profile, level, VBV shape, GOP), so
  they are encoded exactly like the final ladder.
* The sample: a title up to WHOLE_TITLE_SECONDS is tried whole. A longer one is cut into
  windows of whole GOPs, ranked by complexity (bits per pixel of a quick constant-quality
  encode) and sampled at evenly spaced ranks, so easy, typical and hard scenes all count.
* The trial results of all windows are pooled per trial: bitrate and VMAF weighted by the
  window's length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from core.errors import PipelineError
from pipeline.media.plan import Plan, VideoRung
from pipeline.media.quality import ChosenRung, RatePoint, Sample
from pipeline.planning.ladder import Ladder

WHOLE_TITLE_SECONDS = 30.0
# A sample window is one GOP (2 s): the trials of 3 such windows of a two-minute title cost
# about 40 % of its final encode's CPU time (bench/per_title.py --long); 4 s windows cost 86 %.
WINDOW_GOPS = 1
SAMPLE_SHARE = 0.05  # windows cover about a twentieth of a long title...
MIN_WINDOWS, MAX_WINDOWS = 3, 12  # ...but at least 3 and at most 12 windows
TRIAL_BPP = (0.01, 0.2)  # bits per pixel per frame: the useful range of one size
TRIAL_PREFIX = "trial"


def bounds(ladder: Ladder) -> tuple[int, int]:
    """The class's bitrate floor and cap (kbps): its per-title settings, else its fixed
    ladder's lowest and highest rung."""
    rates = [r.bitrate_kbps for r in ladder.rungs]
    low = ladder.per_title.min_kbps or min(rates)
    high = ladder.per_title.max_kbps or max(rates)
    return low, max(low + 1, high)


def trial_rungs(class_plan: Plan, ladder: Ladder) -> list[VideoRung]:
    """The trial encodes for one class: every fitted size of its plan x `rate_points` rates."""
    low, high = bounds(ladder)
    sizes: dict[tuple[int, int], VideoRung] = {}
    for rung in class_plan.video:
        sizes.setdefault((rung.width, rung.height), rung)
    trials: list[VideoRung] = []
    for (width, height), model in sorted(sizes.items(), key=lambda kv: kv[0][0] * kv[0][1]):
        fps = float(Fraction(model.frame_rate))
        for kbps in rate_points(width * height * fps, low, high, ladder.per_title.rate_points):
            maxrate = round(kbps * model.maxrate_kbps / model.bitrate_kbps)
            trials.append(
                model.model_copy(
                    update={
                        "name": f"{TRIAL_PREFIX}{width}x{height}-{kbps}",
                        "bitrate_kbps": kbps,
                        "maxrate_kbps": maxrate,
                        "bufsize_kbps": round(kbps * model.bufsize_kbps / model.bitrate_kbps),
                    }
                )
            )
    return trials


def rate_points(pixels_per_second: float, low: int, high: int, count: int) -> list[int]:
    """`count` bitrates (kbps) evenly spaced in log over this size's useful range, clipped to
    [low, high] and distinct."""
    lo = min(max(low, pixels_per_second * TRIAL_BPP[0] / 1000), high)
    hi = max(min(high, pixels_per_second * TRIAL_BPP[1] / 1000), lo)
    if count == 1 or hi <= lo:
        return [round(hi)]
    ratio = (hi / lo) ** (1 / (count - 1))
    return sorted({round(lo * ratio**k) for k in range(count)})


def windows(duration: float, gop_seconds: float) -> list[Sample]:
    """The title cut into windows of WINDOW_GOPS GOPs (the last may be shorter)."""
    size = WINDOW_GOPS * gop_seconds
    count = max(1, math.ceil(duration / size - 1e-9))
    return [Sample(start=k * size, end=min(duration, (k + 1) * size)) for k in range(count)]


def choose_samples(scored: Sequence[Sample], duration: float) -> list[Sample]:
    """The windows to try: all of a short title (as one sample), else windows at evenly spaced
    complexity ranks (their `complexity` must be set), in time order."""
    if duration <= WHOLE_TITLE_SECONDS or len(scored) <= MIN_WINDOWS:
        return [Sample(start=0.0, end=duration)]
    want = round(duration * SAMPLE_SHARE / max(w.seconds for w in scored))
    count = min(len(scored), max(MIN_WINDOWS, min(MAX_WINDOWS, want)))
    ranked = sorted(scored, key=lambda w: (w.complexity, w.start))
    picked = {ranked[min(len(ranked) - 1, int((k + 0.5) * len(ranked) / count))].start: None
              for k in range(count)}  # fmt: skip
    return sorted((w for w in scored if w.start in picked), key=lambda w: w.start)


def needs_complexity(duration: float, gop_seconds: float) -> bool:
    """True when the title is long enough to be sampled (a complexity pass is worth it)."""
    return duration > WHOLE_TITLE_SECONDS and len(windows(duration, gop_seconds)) > MIN_WINDOWS


def pool(
    trials: Sequence[VideoRung], results: Sequence[dict[str, tuple[float, float]]],
    samples: Sequence[Sample],
) -> list[RatePoint]:  # fmt: skip
    """One point per trial from its (kbps, vmaf) in every sample, weighted by sample length."""
    if len(results) != len(samples):
        raise PipelineError(None, "one trial result per sample is needed", stage="analyse")
    total = sum(s.seconds for s in samples)
    points: list[RatePoint] = []
    for trial in trials:
        got = [(r[trial.name], s.seconds) for r, s in zip(results, samples, strict=True)]
        points.append(
            RatePoint(
                width=trial.width,
                height=trial.height,
                target_kbps=trial.bitrate_kbps,
                kbps=round(sum(k * w for (k, _), w in got) / total, 1),
                vmaf=round(sum(v * w for (_, v), w in got) / total, 3),
            )
        )
    return points


def fixed_sizes(class_plan: Plan) -> list[tuple[int, int]]:
    """Sizes the per-title rungs may take: the class plan's (fitted, never above the source)."""
    return sorted({(r.width, r.height) for r in class_plan.video}, key=lambda s: s[0] * s[1])


def check_rungs(rungs: Sequence[ChosenRung], class_plan: Plan, device_class: str) -> None:
    """Refuse a ladder with a size the class plan does not have (a bug, never the user's)."""
    allowed = set(fixed_sizes(class_plan))
    for rung in rungs:
        if (rung.width, rung.height) not in allowed:
            raise PipelineError(
                class_plan.source,
                f"per-title rung {rung.width}x{rung.height} is not a {device_class} size",
                stage="plan",
            )
