"""Reading primitives the AVC and HEVC parsers share: bits, Exp-Golomb codes, their errors.

Parsers read RBSP (emulation-prevention bytes already removed, see `rbsp`). Running out of
bits is not an error by itself: `Truncated` tells the caller to retry with more bytes of the
NAL unit, and only a NAL unit that is whole and still too short becomes a `BitstreamError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol, TypeVar

from core.errors import BadInput


class _PictureParameterSet(Protocol):
    @property
    def sps_id(self) -> int: ...


S = TypeVar("S")
P = TypeVar("P", bound=_PictureParameterSet)


class BitstreamError(BadInput, ValueError):
    """The bitstream cannot be parsed (truncated NAL, unknown parameter set, corrupt header).

    Also a ValueError, so callers that turn bad media into their own errors keep catching it.
    """

    def __init__(self, cause: str, path: str | None = None):
        super().__init__(path, cause)


class Truncated(Exception):
    """The header runs past the bytes given to the reader (retry with more, or it is corrupt)."""


class BitReader:
    """Exp-Golomb reader over RBSP bytes. The bytes become one integer so each read is a shift."""

    __slots__ = ("_value", "_size", "pos")

    def __init__(self, rbsp: bytes, pos: int = 0):
        self._value = int.from_bytes(rbsp, "big")
        self._size = len(rbsp) * 8
        self.pos = pos

    def u(self, n: int) -> int:
        if n == 0:
            return 0
        end = self.pos + n
        if end > self._size:
            raise Truncated
        self.pos = end
        return (self._value >> (self._size - end)) & ((1 << n) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def skip(self, n: int) -> None:
        if self.pos + n > self._size:
            raise Truncated
        self.pos += n

    def ue(self) -> int:
        left = self._size - self.pos
        tail = self._value & ((1 << left) - 1)
        if tail == 0:
            raise Truncated
        zeros = left - tail.bit_length()
        if zeros > 31:
            raise BitstreamError("Exp-Golomb code longer than 32 bits")
        self.pos += zeros
        return self.u(zeros + 1) - 1

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def ceil_log2(n: int) -> int:
    return (n - 1).bit_length() if n > 1 else 0


@contextmanager
def whole(what: str) -> Iterator[None]:
    """Parameter sets arrive whole: running out of bits inside one means it is truncated."""
    try:
        yield
    except Truncated:
        raise BitstreamError(f"truncated {what}") from None


def active_sets(pps_id: int, sps_by_id: Mapping[int, S], pps_by_id: Mapping[int, P]) -> tuple[S, P]:
    """(SPS, PPS) a slice refers to through its PPS id; unknown ids are errors."""
    pps = pps_by_id.get(pps_id)
    if pps is None:
        raise BitstreamError("slice refers to an unknown PPS")
    sps = sps_by_id.get(pps.sps_id)
    if sps is None:
        raise BitstreamError("PPS refers to an unknown SPS")
    return sps, pps
