"""NAL units of length-prefixed AVC/HEVC samples (ISO/IEC 14496-15) and their slice headers.

A `NalContext` holds what reading a sample needs: the codec, the NAL length size and the
parameter sets by id, first from the decoder configuration record (avcC/hvcC), then from any
SPS/PPS carried in the samples (avc3/hev1). Slice headers are measured by parsing them in RBSP
bits, then mapping the bit count back to bytes of the stored (escaped) NAL unit. The byte
holding the last header bit counts as header: for CABAC and HEVC that is exactly the header (it
ends byte aligned), for CAVLC it also holds the first bits of slice data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from pipeline.bitstream import avc, hevc
from pipeline.bitstream.bits import BitstreamError, Truncated
from pipeline.bitstream.rbsp import escaped_size, unescape

HEADER_WINDOW = 512  # escaped bytes tried first; longer headers (big weight tables) retry whole


@dataclass(frozen=True)
class NalContext:
    """What reading a sample needs: codec, NAL length size and the parameter sets by id."""

    codec: str  # "avc" | "hevc"
    length_size: int
    sps: dict[int, avc.AvcSps | hevc.HevcSps] = field(default_factory=dict)
    pps: dict[int, avc.AvcPps | hevc.HevcPps] = field(default_factory=dict)

    @property
    def nal_header_size(self) -> int:
        return 1 if self.codec == "avc" else 2

    def nal_type(self, first_byte: int) -> int:
        return avc.nal_type(first_byte) if self.codec == "avc" else hevc.nal_type(first_byte)

    def is_unsupported_vcl(self, nal_type: int) -> bool:
        return nal_type in (avc.UNSUPPORTED_VCL if self.codec == "avc" else hevc.UNSUPPORTED_VCL)

    def is_slice(self, nal_type: int) -> bool:
        return nal_type in (avc.SLICES if self.codec == "avc" else hevc.SLICES)

    def is_parameter_set(self, nal_type: int) -> bool:
        return nal_type in (avc.PARAMETER_SETS if self.codec == "avc" else hevc.PARAMETER_SETS)

    def learn(self, nal: bytes) -> NalContext:
        """A context that also knows this SPS/PPS NAL unit (other NAL units change nothing)."""
        t = self.nal_type(nal[0])
        if not self.is_parameter_set(t):
            return self
        rbsp, _ = unescape(nal)
        if t in (avc.SPS, hevc.SPS):
            sps = avc.parse_avc_sps(rbsp) if self.codec == "avc" else hevc.parse_hevc_sps(rbsp)
            return replace(self, sps={**self.sps, sps.sps_id: sps})
        pps = avc.parse_avc_pps(rbsp) if self.codec == "avc" else hevc.parse_hevc_pps(rbsp)
        return replace(self, pps={**self.pps, pps.pps_id: pps})

    def header_bits(self, rbsp: bytes) -> int:
        """The slice header's length in RBSP bits; `Truncated` when `rbsp` ends inside it."""
        if self.codec == "avc":
            return avc.avc_slice_header_bits(rbsp, self.sps, self.pps)
        return hevc.hevc_slice_header_bits(rbsp, self.sps, self.pps)


def avc_context(avcc: bytes) -> NalContext:
    """Context from an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)."""
    if len(avcc) < 7:
        raise BitstreamError("avcC too short")
    ctx = NalContext("avc", (avcc[4] & 3) + 1)
    pos = 5
    for count_mask in (0x1F, 0xFF):  # SPS count is 5 bits, PPS count 8
        if pos >= len(avcc):
            raise BitstreamError("avcC truncated")
        count = avcc[pos] & count_mask
        pos += 1
        for _ in range(count):
            size = int.from_bytes(avcc[pos : pos + 2], "big")
            nal = avcc[pos + 2 : pos + 2 + size]
            if len(nal) != size or not size:
                raise BitstreamError("avcC parameter set truncated")
            ctx = ctx.learn(nal)
            pos += 2 + size
    return ctx


def hevc_context(hvcc: bytes) -> NalContext:
    """Context from an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1)."""
    if len(hvcc) < 23:
        raise BitstreamError("hvcC too short")
    ctx = NalContext("hevc", (hvcc[21] & 3) + 1)
    pos = 23
    for _ in range(hvcc[22]):
        count = int.from_bytes(hvcc[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            size = int.from_bytes(hvcc[pos : pos + 2], "big")
            nal = hvcc[pos + 2 : pos + 2 + size]
            if len(nal) != size or len(nal) < 2:
                raise BitstreamError("hvcC parameter set truncated")
            ctx = ctx.learn(nal)
            pos += 2 + size
    return ctx


def iter_nals(sample: bytes, length_size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each NAL unit's bytes (after its length prefix) in a sample."""
    pos, end = 0, len(sample)
    while pos < end:
        if pos + length_size > end:
            raise BitstreamError("truncated NAL length prefix")
        size = int.from_bytes(sample[pos : pos + length_size], "big")
        start = pos + length_size
        if start + size > end:
            raise BitstreamError(f"NAL unit of {size} bytes runs past the sample end")
        yield start, start + size
        pos = start + size


def learn_parameter_sets(sample: bytes, ctx: NalContext) -> NalContext:
    """The context after this sample's in-band SPS/PPS (avc3/hev1), for the samples after it."""
    for start, end in iter_nals(sample, ctx.length_size):
        if end > start and ctx.is_parameter_set(ctx.nal_type(sample[start])):
            ctx = ctx.learn(sample[start:end])
    return ctx


# --- slice header sizes ---------------------------------------------------------------------
def _measure(sample: bytes, start: int, end: int, ctx: NalContext) -> tuple[int, list[int]]:
    """(slice header bits in RBSP, EPB positions) of the NAL unit at sample[start:end].
    A window of the NAL unit is unescaped first; a header longer than that retries whole."""
    stop = min(end, start + HEADER_WINDOW)
    while True:
        rbsp, epbs = unescape(sample[start:stop])
        try:
            return ctx.header_bits(rbsp), epbs
        except Truncated:
            if stop >= end:
                raise BitstreamError("slice header runs past the end of its NAL unit") from None
            stop = end


def header_size_at(sample: bytes, start: int, end: int, ctx: NalContext) -> int:
    """`slice_header_size` of the NAL unit at sample[start:end], without copying it out."""
    bits, epbs = _measure(sample, start, end, ctx)
    return min(escaped_size((bits + 7) // 8, epbs), end - start)


def slice_header_bits(nal: bytes, ctx: NalContext) -> int:
    """Slice header length in RBSP bits, counted from the NAL header's first bit."""
    return _measure(nal, 0, len(nal), ctx)[0]


def slice_header_size(nal: bytes, ctx: NalContext) -> int:
    """Bytes of the stored NAL unit (header included) up to the one holding the last header
    bit: the bytes that must stay clear."""
    return header_size_at(nal, 0, len(nal), ctx)
