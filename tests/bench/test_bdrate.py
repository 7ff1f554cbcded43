"""bench/bdrate.py: BD-rate of two ladders over their common VMAF range."""

from __future__ import annotations

import math

import pytest

from bench.bdrate import bd_rate, upper_envelope

REFERENCE = [(235, 62.0), (750, 78.5), (1750, 88.0), (3000, 92.4), (5800, 96.1)]


def _scaled(ladder: list[tuple[float, float]], factor: float) -> list[tuple[float, float]]:
    return [(kbps * factor, vmaf) for kbps, vmaf in ladder]


def test_same_quality_for_80_percent_of_the_bits_is_minus_20() -> None:
    assert bd_rate(REFERENCE, _scaled(REFERENCE, 0.8)) == pytest.approx(-20.0, abs=0.1)


def test_identical_ladders_give_zero() -> None:
    assert bd_rate(REFERENCE, list(REFERENCE)) == pytest.approx(0.0, abs=1e-9)


def test_more_bits_for_the_same_quality_is_positive() -> None:
    assert bd_rate(REFERENCE, _scaled(REFERENCE, 1.25)) == pytest.approx(25.0, abs=0.1)


def test_better_quality_at_the_same_bits_is_negative() -> None:
    better = [(kbps, min(vmaf + 3, 99.0)) for kbps, vmaf in REFERENCE]
    assert bd_rate(REFERENCE, better) < 0 < bd_rate(better, REFERENCE)


def test_only_the_common_quality_range_counts() -> None:
    # log(kbps) linear in VMAF (fitted exactly on any subset); the test ladder covers 60..90
    # only, at 0.8x the bits there.
    reference = [(100 * math.exp(v / 20), v) for v in (40.0, 60.0, 80.0, 90.0, 97.0)]
    part = [(k * 0.8, v) for k, v in reference if 60 <= v <= 90]
    assert bd_rate(reference, part) == pytest.approx(-20.0, abs=0.1)


def test_point_order_duplicates_and_dominated_points_do_not_matter() -> None:
    messy = [*reversed(REFERENCE), (800, 78.5), (4000, 90.0), (1750, 88.0)]
    assert bd_rate(REFERENCE, messy) == pytest.approx(0.0, abs=1e-9)


def test_upper_envelope_keeps_the_cheapest_point_per_quality() -> None:
    pts = [(1000, 80.0), (500, 70.0), (1200, 80.0), (1500, 79.0), (2000, 85.0)]
    assert upper_envelope(pts) == [(500.0, 70.0), (1000.0, 80.0), (2000.0, 85.0)]


def test_no_overlap_raises() -> None:
    low = [(200, 40.0), (400, 55.0)]
    high = [(2000, 80.0), (4000, 90.0)]
    with pytest.raises(ValueError, match="share no VMAF range"):
        bd_rate(low, high)


def test_fewer_than_two_distinct_points_raise() -> None:
    for ladder in ([], [(1000, 80.0)], [(1000, 80.0), (2000, 80.0)]):
        with pytest.raises(ValueError, match="at least 2 points"):
            bd_rate(REFERENCE, ladder)
        with pytest.raises(ValueError, match="at least 2 points"):
            bd_rate(ladder, REFERENCE)


def test_a_non_positive_bitrate_raises() -> None:
    with pytest.raises(ValueError, match="positive kbps"):
        bd_rate(REFERENCE, [(0, 50.0), (1000, 80.0)])
