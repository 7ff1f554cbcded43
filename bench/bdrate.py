"""Bjøntegaard delta rate (BD-rate) of two ladders, with VMAF as the quality axis.

    from bench.bdrate import bd_rate
    bd_rate([(300, 70.1), (1200, 88.0), (4500, 95.2)], [(250, 71.0), (1000, 88.4), (4000, 95.5)])

Each ladder is a list of (kbps, vmaf) points. Per ladder, log(kbps) is fitted over VMAF with a
monotone piecewise cubic (PCHIP, so no overshoot between rungs); both fits are integrated over
the common VMAF range [max of the minima, min of the maxima]; the result is the mean bitrate
difference of `test` against `reference` in percent: negative = `test` needs fewer bits for
the same quality. Points that cannot be on a ladder's rate-quality curve (a rung with more bits
but no better VMAF than a cheaper one, repeated VMAF values) are dropped first: only the upper
envelope is kept, so log(kbps) is a strictly increasing function of VMAF.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

Point = tuple[float, float]  # (kbps, vmaf)


def upper_envelope(points: Iterable[Sequence[float]]) -> list[Point]:
    """The points not dominated by a cheaper one: ascending kbps with strictly rising VMAF.

    Of points with the same VMAF only the cheapest survives; a point with more bits and no more
    VMAF than some cheaper point is dropped. The result is sorted by VMAF (and so by kbps).
    """
    clean: list[Point] = []
    for p in points:
        if len(p) != 2:
            raise ValueError(f"a ladder point is (kbps, vmaf), got {tuple(p)!r}")
        kbps, vmaf = float(p[0]), float(p[1])
        if not (math.isfinite(kbps) and math.isfinite(vmaf)) or kbps <= 0:
            raise ValueError(f"a ladder point needs a positive kbps and a finite VMAF: {p!r}")
        clean.append((kbps, vmaf))
    envelope: list[Point] = []
    for kbps, vmaf in sorted(clean, key=lambda p: (p[0], -p[1])):
        if not envelope or vmaf > envelope[-1][1]:
            envelope.append((kbps, vmaf))
    return envelope


def bd_rate(reference: Sequence[Sequence[float]], test: Sequence[Sequence[float]]) -> float:
    """Mean bitrate difference (percent) of `test` vs `reference` at equal VMAF (see module)."""
    from scipy.interpolate import PchipInterpolator

    curves = []
    for label, ladder in (("reference", reference), ("test", test)):
        env = upper_envelope(ladder)
        if len(env) < 2:
            raise ValueError(
                f"BD-rate needs at least 2 points of distinct quality per ladder; the {label} "
                f"ladder has {len(env)} (from {len(ladder)} given)"
            )
        vmaf = [v for _, v in env]
        log_rate = [math.log(k) for k, _ in env]
        curves.append((vmaf[0], vmaf[-1], PchipInterpolator(vmaf, log_rate, extrapolate=False)))
    (ref_lo, ref_hi, ref_fit), (test_lo, test_hi, test_fit) = curves
    lo, hi = max(ref_lo, test_lo), min(ref_hi, test_hi)
    if hi <= lo:
        raise ValueError(
            f"the ladders share no VMAF range: reference covers {ref_lo:.2f}..{ref_hi:.2f}, "
            f"test {test_lo:.2f}..{test_hi:.2f}"
        )
    mean_diff = (float(test_fit.integrate(lo, hi)) - float(ref_fit.integrate(lo, hi))) / (hi - lo)
    return (math.exp(mean_diff) - 1.0) * 100.0
