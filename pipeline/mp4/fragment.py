"""Pure layout of CMAF fragments (moof + mdat) and CMAF headers from sample metadata."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.mp4.base import Box, header
from pipeline.mp4.boxes import (
    NON_SYNC_SAMPLE_FLAGS,
    SYNC_SAMPLE_FLAGS,
    TFHD_DEFAULT_BASE_IS_MOOF,
    Ftyp,
    Mfhd,
    Tfdt,
    Tfhd,
    Trun,
)

CMAF_HEADER_BRANDS = ("cmfc", "iso6", "mp41", "dash")
CMAF_SEGMENT_BRANDS = ("msdh", "msix", "cmfs")
TRACK_ID = 1  # CMAF: one track per file


@dataclass(frozen=True)
class OutSample:
    duration: int
    size: int
    sync: bool
    composition_offset: int = 0


@dataclass
class Fragment:
    """A laid-out fragment: bytes plus where things landed, for manifests and encryption."""

    data: bytes
    moof_size: int
    sample_sizes: list[int] = field(default_factory=list)


def ftyp_cmaf() -> Box:
    return Ftyp(
        major_brand="cmfc",
        minor_version=0,
        compatible_brands=[{"brand": b} for b in CMAF_HEADER_BRANDS],
    )


def styp_cmaf() -> Box:
    return Ftyp(
        "styp",
        major_brand="msdh",
        minor_version=0,
        compatible_brands=[{"brand": b} for b in CMAF_SEGMENT_BRANDS],
    )


def build_moof(
    sequence: int,
    decode_time: int,
    samples: Sequence[OutSample],
    *,
    video: bool,
    traf_extra: Sequence[Box] = (),
) -> Box:
    """moof with one traf. Video carries per-sample flags and signed composition offsets
    (trun v1), audio relies on tfhd's default 'sync' flags."""
    rows = []
    for s in samples:
        row = {"duration": s.duration, "size": s.size}
        if video:
            row["flags"] = SYNC_SAMPLE_FLAGS if s.sync else NON_SYNC_SAMPLE_FLAGS
            row["composition_offset"] = s.composition_offset
        rows.append(row)
    tfhd = Tfhd(
        track_id=TRACK_ID,
        flags=TFHD_DEFAULT_BASE_IS_MOOF,
        default_sample_flags=None if video else SYNC_SAMPLE_FLAGS,
    )
    trun = Trun(version=1 if video else 0, data_offset=0, samples=rows)
    traf = Box(
        "traf",
        children=[tfhd, Tfdt(version=1, base_media_decode_time=decode_time), trun, *traf_extra],
    )
    return Box("moof", children=[Mfhd(sequence_number=sequence), traf])


def layout_fragment(moof: Box, payload: bytes) -> Fragment:
    """Serialise moof + mdat with trun.data_offset pointing at the first payload byte.

    The offset field is fixed-width, so sizing the moof with a placeholder and patching is exact.
    """
    trun = moof.find("traf/trun")
    assert trun is not None
    point_saio_at_senc(moof)
    moof_size = moof.size
    trun.data_offset = moof_size + 8 if len(payload) + 8 <= 0xFFFFFFFF else moof_size + 16
    data = moof.to_bytes() + header("mdat", len(payload)) + payload
    return Fragment(data=data, moof_size=moof_size, sample_sizes=[s["size"] for s in trun.samples])


def point_saio_at_senc(moof: Box) -> None:
    """Set each traf's saio to the moof-relative offset of its first senc entry (senc start
    + 8 header + 4 version/flags + 4 sample_count). saio's size does not depend on the value,
    so this can run before the moof is sized for trun.data_offset."""
    pos = 8  # moof header
    for child in moof.children:
        saio, senc = child.find("saio"), child.find("senc")
        if child.box_type == "traf" and saio is not None and senc is not None:
            at = pos + 8
            for box in child.children:
                if box is senc:
                    break
                at += box.size
            saio.offsets = [{"offset": at + 16}]
        pos += child.size
