"""Streaming reader for fragmented MP4: top-level boxes by offset, samples fragment by fragment.

Only `moov` and `moof` boxes are read into memory; media data is addressed by file offset and
read by the caller when it needs it, so a multi-gigabyte track never sits in memory.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipeline.mp4.base import Box, parse_box
from pipeline.mp4.fields import BoxFormatError

MAX_HEADER_BOX = 64 * 1024 * 1024  # a moov/moof larger than this is not a sane fragment


@dataclass(frozen=True)
class TopBox:
    type: str
    offset: int
    header_size: int
    size: int


@dataclass
class Sample:
    decode_time: int  # track timescale units
    duration: int
    size: int
    flags: int
    composition_offset: int
    file_offset: int  # where the sample's bytes start in the source file

    @property
    def presentation_time(self) -> int:
        return self.decode_time + self.composition_offset


def iter_top_level(f: BinaryIO, path: str | Path = "") -> Iterator[TopBox]:
    """Yield top-level box headers without reading payloads."""
    f.seek(0, 2)
    end = f.tell()
    off = 0
    while off < end:
        f.seek(off)
        head = f.read(16)
        if len(head) < 8:
            raise BoxFormatError(f"{path}: truncated box header at offset {off}")
        size, raw = struct.unpack_from(">I4s", head)
        hdr = 8
        if size == 1:
            if len(head) < 16:
                raise BoxFormatError(f"{path}: truncated box header at offset {off}")
            size, hdr = struct.unpack_from(">Q", head, 8)[0], 16
        elif size == 0:
            size = end - off
        box_type = raw.decode("latin-1")
        if size < hdr or off + size > end:
            raise BoxFormatError(
                f"{path}: box '{box_type}' at offset {off} claims {size} bytes, "
                f"file has {end - off} left (truncated?)"
            )
        yield TopBox(box_type, off, hdr, size)
        off += size


def read_box(f: BinaryIO, top: TopBox) -> Box:
    if top.size > MAX_HEADER_BOX:
        raise BoxFormatError(f"box '{top.type}' of {top.size} bytes is too large to parse")
    f.seek(top.offset)
    box, _ = parse_box(f.read(top.size))
    return box


def read_init(path: Path) -> tuple[Box | None, Box]:
    """(ftyp, moov) of a fragmented MP4."""
    ftyp = moov = None
    with path.open("rb") as f:
        for top in iter_top_level(f, path):
            if top.type == "ftyp":
                ftyp = read_box(f, top)
            elif top.type == "moov":
                moov = read_box(f, top)
            elif top.type in ("moof", "mdat") and moov is not None:
                break
    if moov is None:
        raise BoxFormatError(f"{path}: no 'moov' box (not an MP4 initialisation segment)")
    return ftyp, moov


def trex_defaults(moov: Box) -> dict[str, int]:
    trex = moov.find("mvex/trex")
    if trex is None:
        return {"duration": 0, "size": 0, "flags": 0}
    return {
        "duration": trex.default_sample_duration,
        "size": trex.default_sample_size,
        "flags": trex.default_sample_flags,
    }


def fragment_samples(moof: Box, moof_offset: int, defaults: dict[str, int]) -> list[Sample]:
    """Samples of every traf in one moof, with absolute file offsets (single-track files)."""
    out: list[Sample] = []
    for traf in moof.find_all("traf"):
        tfhd = traf.find("tfhd")
        tfdt = traf.find("tfdt")
        if tfhd is None:
            raise BoxFormatError("traf without tfhd")
        # Without an explicit base, default-base-is-moof and the first traf of a moof both
        # start from the moof (the only layouts single-track CMAF uses).
        base = tfhd.base_data_offset if tfhd.base_data_offset is not None else moof_offset
        dts = tfdt.base_media_decode_time if tfdt is not None else 0
        d_dur = tfhd.default_sample_duration or defaults["duration"]
        d_size = tfhd.default_sample_size or defaults["size"]
        d_flags = (
            tfhd.default_sample_flags
            if tfhd.default_sample_flags is not None
            else defaults["flags"]
        )
        for trun in traf.find_all("trun"):
            pos = base + (trun.data_offset or 0)
            for i, s in enumerate(trun.samples):
                flags = s.get("flags")
                if flags is None:
                    flags = (
                        trun.first_sample_flags
                        if (i == 0 and trun.first_sample_flags is not None)
                        else d_flags
                    )
                dur = s.get("duration", d_dur)
                size = s.get("size", d_size)
                out.append(Sample(dts, dur, size, flags, s.get("composition_offset") or 0, pos))
                dts += dur
                pos += size
    return out


def iter_samples(path: Path) -> Iterator[Sample]:
    """All samples of a single-track fragmented MP4, in decode order, one moof at a time."""
    _, moov = read_init(path)
    defaults = trex_defaults(moov)
    with path.open("rb") as f:
        tops = list(iter_top_level(f, path))
        for top in tops:
            if top.type == "moof":
                yield from fragment_samples(read_box(f, top), top.offset, defaults)
