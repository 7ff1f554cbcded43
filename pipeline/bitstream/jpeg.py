"""Baseline JPEG (ITU-T T.81) structure: where each picture of a back-to-back stream ends, and
the size its frame header declares. No decoding.

A JPEG is a run of marker segments (FF xx + 16-bit length) up to the start of scan; the
entropy-coded data after it cannot contain FF followed by anything but 00 (stuffing) or a
restart marker (D0-D7), so the next other marker ends the scan. FFmpeg's raw `mjpeg` output
is such pictures one after another; the packager cuts them here without a decoder.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass

Data = bytes | bytearray | mmap.mmap  # anything with find() and int indexing

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
# Start-of-frame markers (every coding process), which carry the picture size.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn have no length field


class JpegError(ValueError):
    """The bytes are not a well-formed JPEG; the message says where and why."""


@dataclass(frozen=True)
class JpegPicture:
    start: int  # offset of its SOI in the stream
    end: int  # offset just past its EOI
    width: int
    height: int
    components: int  # 1 grey, 3 colour


def pictures(view: Data) -> Iterator[JpegPicture]:
    """Every picture in `view` (one JPEG, or several back to back), in order."""
    pos = 0
    while pos < len(view):
        picture = read_picture(view, pos)
        yield picture
        pos = picture.end


def read_picture(view: Data, start: int) -> JpegPicture:
    """The picture whose SOI is at `start`: its end, and the size from its frame header."""
    if _u16(view, start) != 0xFF00 | SOI:
        raise JpegError(f"no JPEG start marker at byte {start}")
    pos = start + 2
    size: tuple[int, int, int] | None = None
    while True:
        marker = _marker(view, pos)
        if marker == EOI:
            break
        if marker in _STANDALONE:
            pos += 2
            continue
        length = _u16(view, pos + 2)
        if length < 2:
            raise JpegError(f"marker FF{marker:02X} at byte {pos} has length {length}")
        if marker in _SOF:
            size = _frame_size(view, pos + 4, length)
        pos += 2 + length
        if marker == SOS:
            pos = _scan_end(view, pos)
    if size is None:
        raise JpegError(f"picture at byte {start} has no frame header (SOF)")
    return JpegPicture(start, pos + 2, size[0], size[1], size[2])


def _marker(view: Data, pos: int) -> int:
    if pos + 2 > len(view):
        raise JpegError(f"stream ends at byte {len(view)} before the end-of-image marker")
    if view[pos] != 0xFF:
        raise JpegError(f"expected a marker at byte {pos}, found {view[pos]:#04x}")
    return view[pos + 1]


def _frame_size(view: Data, pos: int, length: int) -> tuple[int, int, int]:
    if length < 8 or pos + 6 > len(view):
        raise JpegError(f"frame header at byte {pos - 4} is truncated")
    height, width, components = _u16(view, pos + 1), _u16(view, pos + 3), view[pos + 5]
    if not (width and height and components):
        raise JpegError(f"frame header at byte {pos - 4} declares {width}x{height}")
    return width, height, components


def _scan_end(view: Data, pos: int) -> int:
    """Offset of the first marker after entropy-coded data starting at `pos`."""
    end = len(view)
    pos = view.find(b"\xff", pos)
    while 0 <= pos < end - 1:
        following = view[pos + 1]
        if following != 0 and following != 0xFF and following not in _STANDALONE:
            return pos
        pos = view.find(b"\xff", pos + 1)  # stuffing, restart marker or fill byte
    raise JpegError(f"stream ends at byte {end} inside scan data (no end-of-image marker)")


def _u16(view: Data, pos: int) -> int:
    if pos + 2 > len(view):
        raise JpegError(f"stream ends at byte {len(view)}, inside a marker segment")
    return view[pos] << 8 | view[pos + 1]
