"""Crafted AVC NAL units: a bit writer, emulation prevention, a small SPS/PPS and an I slice.

They pin the bit counting where real encoders rarely go (zero runs inside a slice header,
headers longer than the first parsing window).
"""

from __future__ import annotations

from pipeline.bitstream.nal import NalContext, iter_nals


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, value: int) -> BitWriter:
        self.bits += [(value >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def ue(self, value: int) -> BitWriter:
        code = value + 1
        return self.u(code.bit_length() - 1, 0).u(code.bit_length(), code)

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def to_bytes(self, stop_bit: bool = True) -> bytes:
        bits = self.bits + ([1] if stop_bit else [])
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def escape(rbsp: bytes) -> bytes:
    """Insert emulation-prevention bytes (H.264 7.4.1): 00 00 0x (x <= 3) -> 00 00 03 0x."""
    out = bytearray()
    zeros = 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def crafted_sps() -> BitWriter:
    """Baseline SPS with 16-bit frame_num and POC lsb, so headers can hold long zero runs."""
    sps = BitWriter().u(8, 0x67).u(8, 66).u(8, 0).u(8, 30).ue(0)
    sps.ue(12).ue(0).ue(12)  # log2_max_frame_num - 4, POC type 0, log2_max_poc_lsb - 4
    return sps.ue(1).u(1, 0).ue(19).ue(14).u(1, 1).u(1, 1).u(1, 0).u(1, 0)


def crafted_pps() -> BitWriter:
    """CAVLC PPS with deblocking control."""
    pps = BitWriter().u(8, 0x68).ue(0).ue(0).u(1, 0).u(1, 0).ue(0).ue(0).ue(0)
    return pps.u(1, 0).u(2, 0).se(0).se(0).se(0).u(1, 1).u(1, 0).u(1, 0)


def crafted_avc_context() -> NalContext:
    """A 4-byte-length AVC context knowing `crafted_sps` and `crafted_pps`."""
    ctx = NalContext("avc", 4)
    return ctx.learn(escape(crafted_sps().to_bytes())).learn(escape(crafted_pps().to_bytes()))


def crafted_i_slice() -> tuple[bytes, int]:
    """A non-IDR I slice whose 32 zero bits of frame_num + POC need an emulation-prevention
    byte inside the header. Returns (escaped NAL, header bits)."""
    w = BitWriter().u(8, 0x01).ue(0).ue(7).ue(0).u(16, 0).u(16, 0).se(0).ue(1)
    bits = len(w.bits)
    w.u(3, 0b111)
    for b in range(0x40, 0x68):  # slice data
        w.u(8, b)
    return escape(w.to_bytes()), bits


def length_prefixed(*nals: bytes) -> bytes:
    """A sample: each NAL unit after its 4-byte length."""
    return b"".join(len(n).to_bytes(4, "big") + n for n in nals)


def slice_count(sample: bytes, ctx: NalContext) -> int:
    """How many slice NAL units a length-prefixed sample (one picture) holds."""
    return sum(
        ctx.is_slice(ctx.nal_type(sample[start]))
        for start, end in iter_nals(sample, ctx.length_size)
        if end > start
    )
