"""Subsample maps for CENC video: which bytes of an AVC/HEVC sample stay clear, which are protected.

Common encryption leaves NAL length prefixes, NAL headers and slice headers clear so that
players can parse and route the bitstream without the key (ISO/IEC 23001-7 10.2). The
bitstream itself (NAL units, parameter sets, slice header sizes) is read by
`pipeline.bitstream`; this module only decides, per scheme, how those bytes become
(clear, protected) pairs. Audio has no subsamples: its whole-block rule lives in `cipher`.
"""

from __future__ import annotations

from pipeline.bitstream.bits import BitstreamError
from pipeline.bitstream.nal import NalContext, header_size_at, iter_nals

Subsample = tuple[int, int]  # (BytesOfClearData, BytesOfProtectedData)

MAX_CLEAR = 0xFFFF  # BytesOfClearData is a u16 in senc


class SubsampleError(BitstreamError):
    """The sample cannot be mapped safely (a VCL NAL unit we cannot measure).

    A `BitstreamError`, so bad input (422) and a ValueError; failures to read the bitstream
    itself surface as the `BitstreamError` they are.
    """


def subsample_map(sample: bytes, ctx: NalContext, *, align16: bool) -> list[Subsample]:
    """(clear, protected) pairs covering the sample: slice data protected, the rest clear.

    `align16` (cenc): each protected range is cut to a multiple of 16 bytes and the remainder
    joins the leading clear range (moving it to the end broke real TV decryptors). cbcs starts
    protection right after the slice header. Parameter sets carried in the sample apply from
    there on.
    """
    out: list[Subsample] = []
    clear = 0
    n = ctx.length_size
    for start, end in iter_nals(sample, n):
        nal_type = ctx.nal_type(sample[start]) if end > start else -1
        if not ctx.is_slice(nal_type):
            if ctx.is_unsupported_vcl(nal_type):
                raise SubsampleError(f"cannot encrypt {ctx.codec} NAL unit type {nal_type}")
            if ctx.is_parameter_set(nal_type):
                ctx = ctx.learn(sample[start:end])
            clear += n + end - start
            continue
        protected = end - start - header_size_at(sample, start, end, ctx)
        if align16:
            protected -= protected % 16
        clear += n + end - start - protected
        if protected:
            out.extend(_split_clear(clear, protected))
            clear = 0
    if clear or not out:
        out.extend(_split_clear(clear, 0))
    return out


def _split_clear(clear: int, protected: int) -> list[Subsample]:
    """BytesOfClearData is 16-bit: longer clear runs become extra clear-only subsamples."""
    out: list[Subsample] = []
    while clear > MAX_CLEAR:
        out.append((MAX_CLEAR, 0))
        clear -= MAX_CLEAR
    out.append((clear, protected))
    return out
