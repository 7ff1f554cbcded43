"""Audio channel layout read from the decoder configuration, never from the sample entry.

In ISO BMFF the `AudioSampleEntry.channelcount` of AAC, AC-3 and E-AC-3 is 2 whatever the
real layout (ISO/IEC 14496-12 fixes it for most codecs), so a 5.1 AAC track says "2" there.
The truth is in the AudioSpecificConfig inside `esds` (ISO/IEC 14496-3 1.6.2.1:
`channelConfiguration`, 0 meaning a program_config_element follows) and in `dac3`/`dec3`
(ETSI TS 102 366 annex F: `acmod` + `lfeon`, dependent substreams' `chan_loc`, and the
`flag_ec3_extension_type_a` that marks Dolby Atmos JOC).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.mp4.base import Box
from pipeline.mp4.codecs import decoder_specific_info, original_format

# channelConfiguration -> number of channels (ISO/IEC 14496-3 table 1.19; 23001-8 CICP)
AAC_CHANNELS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8, 11: 7, 12: 8, 13: 24, 14: 8}
AC3_ACMOD_CHANNELS = (2, 1, 2, 3, 3, 4, 4, 5)
# dec3 chan_loc bits, most significant first: Lc/Rc, Lrs/Rrs, Cs, Ts, Lsd/Rsd, Lw/Rw, Lvh/Rvh,
# Cvh, LFE2 (TS 102 366 table E.1.4): pairs add two channels.
CHAN_LOC_WIDTHS = (2, 2, 1, 1, 2, 2, 2, 1, 1)


@dataclass(frozen=True)
class ChannelLayout:
    """What players and manifests need: how many channels, and whether it is Atmos JOC."""

    channels: int
    lfe: bool = False
    joc: bool = False  # E-AC-3 with Joint Object Coding (Dolby Atmos): HLS CHANNELS="16/JOC"


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]  # IndexError on truncation: callers turn it into None
            value = (value << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value


def aac_layout(asc: bytes) -> ChannelLayout | None:
    """Channel layout from an AudioSpecificConfig; None when it cannot be read."""
    try:
        bits = _Bits(asc)
        aot = bits.read(5)
        if aot == 31:
            aot = 32 + bits.read(6)
        if bits.read(4) == 0xF:  # samplingFrequencyIndex escape: explicit 24-bit rate
            bits.read(24)
        config = bits.read(4)
        if config:
            channels = AAC_CHANNELS.get(config)
            return (
                ChannelLayout(channels, lfe=config in (6, 7, 11, 12, 13, 14)) if channels else None
            )
        if aot not in (1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23):  # GASpecificConfig types
            return None
        bits.read(1)  # frameLengthFlag
        if bits.read(1):  # dependsOnCoreCoder
            bits.read(14)
        bits.read(1)  # extensionFlag
        return _pce_layout(bits)
    except IndexError:
        return None


def _pce_layout(bits: _Bits) -> ChannelLayout:
    """Count the channels a program_config_element declares (14496-3 4.4.1.1)."""
    bits.read(4 + 2 + 4)  # element_instance_tag, object_type, sampling_frequency_index
    front, side, back = bits.read(4), bits.read(4), bits.read(4)
    lfe = bits.read(2)
    assoc, cc = bits.read(3), bits.read(4)
    for _ in range(3):  # mono / stereo / matrix mixdown: present flag + index
        if bits.read(1):
            bits.read(4 if _ < 2 else 3)
    channels = 0
    for _ in range(front + side + back):
        is_cpe = bits.read(1)
        bits.read(4)
        channels += 2 if is_cpe else 1
    for _ in range(lfe):
        bits.read(4)
    del assoc, cc  # data and coupling elements carry no output channels
    return ChannelLayout(channels + lfe, lfe=lfe > 0)


def ac3_layout(dac3: bytes) -> ChannelLayout | None:
    """AC-3 from `dac3`: fscod(2) bsid(5) bsmod(3) acmod(3) lfeon(1) ..."""
    if len(dac3) < 3:
        return None
    bits = int.from_bytes(dac3[:3], "big")
    acmod, lfe = (bits >> 11) & 0x7, (bits >> 10) & 0x1
    return ChannelLayout(AC3_ACMOD_CHANNELS[acmod] + lfe, lfe=bool(lfe))


def eac3_layout(dec3: bytes) -> ChannelLayout | None:
    """E-AC-3 from `dec3`: the first independent substream plus its dependent substreams'
    channel locations; JOC from the extension after the substreams."""
    try:
        bits = _Bits(dec3)
        bits.read(13)  # data_rate
        substreams = bits.read(3) + 1
        channels, lfe_any = 0, False
        for index in range(substreams):
            bits.read(2 + 5 + 1 + 1 + 3)  # fscod, bsid, reserved, asvc, bsmod
            acmod, lfe = bits.read(3), bits.read(1)
            bits.read(3)
            dependents = bits.read(4)
            extra = 0
            if dependents:
                loc = bits.read(9)
                shift = 9
                for width in CHAN_LOC_WIDTHS:
                    shift -= 1
                    if loc >> shift & 1:
                        extra += width
            else:
                bits.read(1)
            if index == 0:
                channels, lfe_any = AC3_ACMOD_CHANNELS[acmod] + lfe + extra, bool(lfe)
        joc = False
        if len(dec3) * 8 - bits.pos >= 16:
            bits.read(7)
            joc = bool(bits.read(1))
        return ChannelLayout(channels, lfe=lfe_any, joc=joc)
    except IndexError:
        return None


def sample_entry_layout(entry: Box) -> ChannelLayout:
    """The layout of an audio sample entry (clear or `enca`), from its configuration box;
    the entry's own channel count only when the codec has no configuration to read."""
    fmt = original_format(entry)
    layout: ChannelLayout | None = None
    if fmt == "mp4a":
        esds = entry.find("esds")
        asc = decoder_specific_info(esds.descriptors) if esds is not None else None
        layout = aac_layout(asc) if asc else None
    elif fmt in ("ac-3", "ec-3"):
        box = entry.find("dac3" if fmt == "ac-3" else "dec3")
        if box is not None:
            layout = ac3_layout(box.data) if fmt == "ac-3" else eac3_layout(box.data)
    return layout or ChannelLayout(entry.channel_count)
