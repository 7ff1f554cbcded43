"""The rate-quality hull of a title and the rungs chosen on it. Pure: points in, rungs out.

Every trial encode is a point (bitrate, VMAF) of one size. At any bitrate the best size is the
one whose own curve is highest there; the upper convex hull of all points is the efficient
frontier (a point under it wastes bits). Rungs are chosen on it: the top rung where quality
reaches the target (or the hull's best within the bitrate cap), each lower rung one quality
step (about a just-noticeable difference) below the previous, down to the bitrate floor.
A rung's size is the size whose own curve is best at the rung's bitrate, and its predicted
VMAF is that curve's value there (what an encode of that size actually gives, not the hull's
straight line between two sizes).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from pipeline.media.quality import ChosenRung, RatePoint

# Bitrates are chosen to this resolution (kbps), and rungs closer than this share are one rung.
KBPS_GRID = 1
MIN_RUNG_SPACING = 1.15


def upper_hull(points: Sequence[RatePoint]) -> list[RatePoint]:
    """The upper convex hull of (kbps, VMAF), ascending bitrate, cut after its highest VMAF:
    monotone (quality never falls as bits rise) and concave (each extra kbps buys less)."""
    ordered = sorted(points, key=lambda p: (p.kbps, -p.vmaf))
    hull: list[RatePoint] = []
    for p in ordered:
        if hull and p.kbps == hull[-1].kbps:
            continue  # same bitrate, lower quality (sorted by -vmaf)
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    best = max(range(len(hull)), key=lambda i: (hull[i].vmaf, -i), default=-1)
    return hull[: best + 1]


def _cross(a: RatePoint, b: RatePoint, c: RatePoint) -> float:
    """> 0 when c lies above the line a-b (b is then not on the upper hull)."""
    return (b.kbps - a.kbps) * (c.vmaf - a.vmaf) - (b.vmaf - a.vmaf) * (c.kbps - a.kbps)


def size_curves(points: Sequence[RatePoint]) -> dict[tuple[int, int], list[RatePoint]]:
    """Each size's points, ascending bitrate, made monotone (a point below an earlier, cheaper
    one is measurement noise: it gets that quality)."""
    by_size: dict[tuple[int, int], list[RatePoint]] = defaultdict(list)
    for p in sorted(points, key=lambda p: p.kbps):
        curve = by_size[(p.width, p.height)]
        if curve and p.vmaf < curve[-1].vmaf:
            p = p.model_copy(update={"vmaf": curve[-1].vmaf})
        curve.append(p)
    return dict(by_size)


def curve_vmaf(curve: Sequence[RatePoint], kbps: float) -> float | None:
    """VMAF of one size at `kbps`, linear in log(bitrate) between its points; None below its
    cheapest point (never extrapolated down), its best value above its dearest (saturated)."""
    if not curve or kbps < curve[0].kbps:
        return None
    for lo, hi in zip(curve, curve[1:], strict=False):
        if kbps <= hi.kbps:
            span = math.log(hi.kbps) - math.log(lo.kbps)
            share = (math.log(kbps) - math.log(lo.kbps)) / span if span > 0 else 1.0
            return lo.vmaf + (hi.vmaf - lo.vmaf) * share
    return curve[-1].vmaf


def best_at(
    curves: dict[tuple[int, int], list[RatePoint]], kbps: float
) -> tuple[tuple[int, int], float] | None:
    """The size whose curve is highest at `kbps` (ties: the smaller size), and its VMAF."""
    scored = [
        (vmaf, -size[0] * size[1], size)
        for size, curve in curves.items()
        if (vmaf := curve_vmaf(curve, kbps)) is not None
    ]
    if not scored:
        return None
    vmaf, _, size = max(scored)
    return size, vmaf


def kbps_for(
    curves: dict[tuple[int, int], list[RatePoint]], vmaf: float, low: int, high: int
) -> int:
    """The smallest bitrate in [low, high] whose best size reaches `vmaf` (bisection on the
    envelope, which is monotone), else `high`."""
    if _envelope(curves, high) < vmaf:
        return high
    lo, hi = low, high
    if _envelope(curves, lo) >= vmaf:
        return lo
    while hi - lo > KBPS_GRID:
        mid = (lo + hi) // 2
        if _envelope(curves, mid) >= vmaf:
            hi = mid
        else:
            lo = mid
    return hi


def _envelope(curves: dict[tuple[int, int], list[RatePoint]], kbps: float) -> float:
    found = best_at(curves, kbps)
    return found[1] if found else -math.inf


def choose_rungs(
    points: Sequence[RatePoint],
    *,
    target_vmaf: float,
    step_vmaf: float,
    min_kbps: int,
    max_kbps: int,
    max_rungs: int,
) -> list[ChosenRung]:
    """The per-title ladder, ascending bitrate (see the module docstring).

    The top rung is the cheapest bitrate whose best size reaches `target_vmaf`, or `max_kbps`
    when none does (or the bitrate where the hull stops improving, if lower). Each lower rung
    targets the previous rung's VMAF minus `step_vmaf`; the ladder ends with a rung at
    `min_kbps` (when the cheapest trial reaches it). More than `max_rungs` rungs: the steps
    widen evenly between the top and the floor."""
    if not points:
        return []
    curves = size_curves(points)
    hull = upper_hull(points)
    floor = max(min_kbps, math.ceil(min(p.kbps for p in points)))
    ceiling = max(floor, min(max_kbps, math.ceil(hull[-1].kbps)))
    top_kbps = kbps_for(curves, target_vmaf, floor, ceiling)
    top_vmaf = _envelope(curves, top_kbps)
    bottom_vmaf = _envelope(curves, floor)
    steps = max(0, math.ceil((top_vmaf - bottom_vmaf) / step_vmaf - 1e-9))
    if steps + 1 > max_rungs:
        step = (top_vmaf - bottom_vmaf) / max(1, max_rungs - 1)
        steps = max_rungs - 1
    else:
        step = step_vmaf
    chosen: list[int] = [top_kbps]
    for k in range(1, steps):
        kbps = kbps_for(curves, top_vmaf - k * step, floor, chosen[-1])
        if kbps * MIN_RUNG_SPACING <= chosen[-1] and kbps > floor * MIN_RUNG_SPACING:
            chosen.append(kbps)
    if max_rungs > 1 and chosen[-1] > floor * MIN_RUNG_SPACING:
        chosen.append(floor)
    rungs: list[ChosenRung] = []
    for kbps in chosen:  # top down: a cheaper rung never gets a bigger picture than a dearer one
        limit = rungs[-1].width * rungs[-1].height if rungs else None
        rungs.append(_rung(curves, kbps, limit))
    return rungs[::-1]


def _rung(
    curves: dict[tuple[int, int], list[RatePoint]], kbps: int, max_area: int | None
) -> ChosenRung:
    allowed = {s: c for s, c in curves.items() if max_area is None or s[0] * s[1] <= max_area}
    found = best_at(allowed, kbps) or best_at(curves, kbps)
    assert found is not None  # every chosen bitrate is at or above the cheapest trial
    (width, height), vmaf = found
    return ChosenRung(
        width=width,
        height=height,
        bitrate_kbps=encoder_target(curves[(width, height)], kbps),
        kbps=kbps,
        predicted_vmaf=round(vmaf, 2),
    )


def encoder_target(curve: Sequence[RatePoint], kbps: float) -> int:
    """The target to give the encoder so it spends `kbps`: rate control over- or undershoots
    by a share that the size's trials measured (interpolated between them in log bitrate)."""
    ratios = [(p.kbps, p.target_kbps / p.kbps) for p in curve if p.kbps > 0]
    if not ratios:
        return round(kbps)
    if kbps <= ratios[0][0]:
        return round(kbps * ratios[0][1])
    for (lo, r_lo), (hi, r_hi) in zip(ratios, ratios[1:], strict=False):
        if kbps <= hi:
            share = math.log(kbps / lo) / math.log(hi / lo) if hi > lo else 1.0
            return round(kbps * (r_lo + (r_hi - r_lo) * share))
    return round(kbps * ratios[-1][1])
