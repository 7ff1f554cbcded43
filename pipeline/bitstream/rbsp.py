"""Emulation prevention: stored NAL units (EBSP) to RBSP and back to stored byte counts.

An encoder inserts 0x03 after every two zero bytes that would otherwise be followed by a byte
<= 3 (H.264 7.4.1, H.265 7.4.2). Headers are parsed in RBSP bits; what stays clear in a sample
is counted in stored bytes, so the removed positions are kept to map one onto the other.
"""

from __future__ import annotations

from collections.abc import Sequence

EPB = b"\x00\x00\x03"


def unescape(ebsp: bytes) -> tuple[bytes, list[int]]:
    """RBSP of an escaped NAL unit, and the positions (in `ebsp`) of the removed 0x03 bytes."""
    i = ebsp.find(EPB)
    if i < 0:
        return bytes(ebsp), []
    parts: list[bytes] = []
    positions: list[int] = []
    start = 0
    while i >= 0:
        parts.append(ebsp[start : i + 2])
        positions.append(i + 2)
        start = i + 3
        i = ebsp.find(EPB, start)
    parts.append(ebsp[start:])
    return b"".join(parts), positions


def escaped_size(rbsp_size: int, epb_positions: Sequence[int]) -> int:
    """Escaped bytes that hold the first `rbsp_size` RBSP bytes (each earlier 0x03 adds one)."""
    size = rbsp_size
    for p in epb_positions:
        if p >= size:
            break
        size += 1
    return size
