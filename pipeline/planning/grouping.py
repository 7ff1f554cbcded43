"""Helpers shared by the video and audio planners and the plan display: near-equal bitrates
are one encode, rendition names are unique, frame rates have one short label. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import TypeVar

MERGE_TOLERANCE = 0.10  # bitrates within 10% of each other are the same rendition
T = TypeVar("T")


def cluster(items: Iterable[T], key: Callable[[T], int]) -> list[list[T]]:
    """Sort by `key` and group values within MERGE_TOLERANCE of the group's smallest."""
    clusters: list[list[T]] = []
    for item in sorted(items, key=key):
        if clusters and key(item) - key(clusters[-1][0]) <= MERGE_TOLERANCE * key(item):
            clusters[-1].append(item)
        else:
            clusters.append([item])
    return clusters


def uniquify(names: list[str]) -> list[str]:
    """Append -2, -3 ... to repeated names."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 2
        while candidate in seen:
            candidate, n = f"{name}-{n}", n + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def fps_label(frame_rate: str) -> str:
    """'30/1' -> '30', '30000/1001' -> '29.97' (rendition names and plan tables)."""
    rate = Fraction(frame_rate)
    return (
        str(rate.numerator)
        if rate.denominator == 1
        else f"{float(rate):.2f}".rstrip("0").rstrip(".")
    )
