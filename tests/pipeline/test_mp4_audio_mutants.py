"""Audio channel layouts (pipeline/mp4/audio.py) edges that mutation testing
(scripts/mutation.sh pipeline/mp4/audio.py) found untested: every channelConfiguration of
ISO/IEC 14496-3 table 1.19 (and which carry an LFE), the object types that carry a
GASpecificConfig, dependsOnCoreCoder, program_config_element mixdown fields and back/LFE
elements, every AC-3 acmod, every E-AC-3 chan_loc bit (ETSI TS 102 366 table E.1.4), only the
first independent substream counted, the JOC extension threshold, and the fallbacks of
sample_entry_layout. Bitstreams are packed here field by field from the specs' syntax."""

from __future__ import annotations

import pytest

from pipeline.mp4.audio import (
    ChannelLayout,
    _Bits,
    aac_layout,
    ac3_layout,
    eac3_layout,
    sample_entry_layout,
)
from pipeline.mp4.base import Box
from pipeline.mp4.boxes import AudioSampleEntry, ConfigBox, Esds, Frma


def bits(*fields: tuple[int, int]) -> bytes:
    """Pack (value, width) fields MSB-first, zero-padded to whole bytes."""
    out, n = 0, 0
    for value, width in fields:
        out, n = (out << width) | (value & ((1 << width) - 1)), n + width
    pad = -n % 8
    return (out << pad).to_bytes((n + pad) // 8, "big")


def test_bit_reader_msb_first_across_bytes() -> None:
    r = _Bits(b"\xa5\x0f")
    assert (r.read(3), r.read(6), r.read(0), r.read(7)) == (0b101, 0b001010, 0, 0b0001111)
    assert r.pos == 16
    with pytest.raises(IndexError):
        r.read(1)


def test_channel_layout_defaults() -> None:
    assert ChannelLayout(2) == ChannelLayout(2, lfe=False, joc=False)


# --- AAC -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "channels", "lfe"),
    [(1, 1, False), (2, 2, False), (3, 3, False), (4, 4, False), (5, 5, False), (6, 6, True),
     (7, 8, True), (11, 7, True), (12, 8, True), (13, 24, True), (14, 8, True)],
)  # fmt: skip
def test_every_aac_channel_configuration(config: int, channels: int, lfe: bool) -> None:
    assert aac_layout(bits((2, 5), (3, 4), (config, 4))) == ChannelLayout(channels, lfe=lfe)


@pytest.mark.parametrize("config", [8, 9, 10, 15])
def test_reserved_aac_channel_configurations_give_none(config: int) -> None:
    assert aac_layout(bits((2, 5), (3, 4), (config, 4), (0, 8))) is None


def test_explicit_sampling_frequency_is_skipped() -> None:
    assert aac_layout(bits((2, 5), (0xF, 4), (0xFFFFFF, 24), (6, 4))) == ChannelLayout(6, lfe=True)
    assert aac_layout(bits((2, 5), (0xE, 4), (6, 4))) == ChannelLayout(6, lfe=True)


def test_escaped_object_type_reads_six_more_bits() -> None:
    # AOT 31 escape + 6 bits; then index and config: a 5-bit AOT would misread the config
    assert aac_layout(bits((31, 5), (5, 6), (3, 4), (1, 4))) == ChannelLayout(1)
    # escaped AOT 32 + 30 = 62 has no GASpecificConfig: config 0 gives None
    assert aac_layout(bits((31, 5), (30, 6), (3, 4), (0, 4), (0, 32))) is None


PCE_51 = [(0, 4), (1, 2), (3, 4),  # tag, object type, sampling index
          (2, 4), (1, 4), (0, 4), (1, 2), (0, 3), (0, 4),  # front, side, back, lfe, assoc, cc
          (0, 1), (0, 1), (0, 1),  # no mixdowns
          (0, 1), (0, 4), (1, 1), (1, 4),  # front: SCE, CPE
          (1, 1), (2, 4),  # side: CPE
          (0, 4)]  # fmt: skip


def ga(aot: int, *pce: tuple[int, int], core: bool = False) -> bytes:
    head = [(aot, 5), (3, 4), (0, 4), (0, 1), (int(core), 1)]
    if core:
        head.append((0x3FFF, 14))  # coreCoderDelay
    return bits(*head, (0, 1), *pce, (0, 16))


@pytest.mark.parametrize("aot", [1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23])
def test_object_types_with_a_ga_specific_config_read_the_pce(aot: int) -> None:
    assert aac_layout(ga(aot, *PCE_51)) == ChannelLayout(6, lfe=True)


@pytest.mark.parametrize("aot", [5, 8, 9, 16, 18, 24, 29, 0])
def test_other_object_types_with_config_0_give_none(aot: int) -> None:
    assert aac_layout(ga(aot, *PCE_51)) is None


def test_depends_on_core_coder_skips_the_14_bit_delay() -> None:
    assert aac_layout(ga(2, *PCE_51, core=True)) == ChannelLayout(6, lfe=True)


def test_pce_with_mixdowns_back_elements_and_two_lfe() -> None:
    pce = [(5, 4), (1, 2), (3, 4),
           (1, 4), (0, 4), (2, 4), (2, 2), (1, 3), (1, 4),  # 1 front, 0 side, 2 back, 2 lfe
           (1, 1), (0xF, 4),  # mono mixdown present + element number
           (1, 1), (0xF, 4),  # stereo mixdown present + element number
           (1, 1), (0x7, 3),  # matrix mixdown present + idx(2) + pseudo surround(1)
           (0, 1), (0, 4),  # front: SCE
           (1, 1), (1, 4), (0, 1), (2, 4),  # back: CPE, SCE
           (0, 4), (1, 4)]  # two LFE elements  # fmt: skip
    assert aac_layout(ga(2, *pce)) == ChannelLayout(1 + 2 + 1 + 2, lfe=True)


def test_pce_without_lfe_and_a_truncated_pce() -> None:
    pce = [(0, 4), (1, 2), (3, 4), (1, 4), (0, 4), (0, 4), (0, 2), (0, 3), (0, 4),
           (0, 1), (0, 1), (0, 1), (1, 1), (0, 4)]  # one CPE only  # fmt: skip
    assert aac_layout(ga(2, *pce)) == ChannelLayout(2, lfe=False)
    assert aac_layout(ga(2, *PCE_51)[:4]) is None


# --- AC-3 ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("acmod", "channels"), [(0, 2), (1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (6, 4), (7, 5)]
)
@pytest.mark.parametrize("lfe", [0, 1])
def test_every_ac3_acmod(acmod: int, channels: int, lfe: int) -> None:
    dac3 = bits((1, 2), (8, 5), (7, 3), (acmod, 3), (lfe, 1), (0x1F, 5), (0, 5))
    assert ac3_layout(dac3) == ChannelLayout(channels + lfe, lfe=bool(lfe))


def test_ac3_needs_three_bytes() -> None:
    dac3 = bits((0, 2), (8, 5), (0, 3), (2, 3), (0, 1), (0, 5), (0, 5))
    assert len(dac3) == 3 and ac3_layout(dac3) == ChannelLayout(2)
    assert ac3_layout(dac3[:2]) is None


# --- E-AC-3 --------------------------------------------------------------------------------
def substream(acmod: int, lfe: int, dependents: int = 0, chan_loc: int = 0) -> list:
    out = [(2, 2), (16, 5), (0, 1), (1, 1), (7, 3), (acmod, 3), (lfe, 1), (0, 3), (dependents, 4)]
    out.append((chan_loc, 9) if dependents else (1, 1))
    return out


def dec3(*subs: list, ext: list | None = None) -> bytes:
    fields = [(0x1FFF, 13), (len(subs) - 1, 3)]
    for s in subs:
        fields += s
    return bits(*fields, *(ext or []))


@pytest.mark.parametrize(
    ("bit", "width"), [(8, 2), (7, 2), (6, 1), (5, 1), (4, 2), (3, 2), (2, 2), (1, 1), (0, 1)]
)
def test_every_chan_loc_bit(bit: int, width: int) -> None:
    layout = eac3_layout(dec3(substream(7, 1, dependents=1, chan_loc=1 << bit)))
    assert layout == ChannelLayout(6 + width, lfe=True)


def test_all_chan_loc_bits_and_no_lfe() -> None:
    assert eac3_layout(dec3(substream(2, 0, dependents=2, chan_loc=0x1FF))) == ChannelLayout(16)


def test_only_the_first_independent_substream_counts() -> None:
    layout = eac3_layout(dec3(substream(2, 0), substream(7, 1, dependents=1, chan_loc=0x1FF)))
    assert layout == ChannelLayout(2, lfe=False)
    layout = eac3_layout(dec3(substream(7, 1, dependents=1, chan_loc=1 << 7), substream(1, 0)))
    assert layout == ChannelLayout(8, lfe=True)


def test_joc_flag_needs_sixteen_bits_after_the_substreams() -> None:
    base = substream(7, 1)
    assert eac3_layout(dec3(base, ext=[(0, 7), (1, 1), (0, 8)])) == ChannelLayout(6, True, True)
    assert eac3_layout(dec3(base, ext=[(0x7F, 7), (0, 1), (0xFF, 8)])).joc is False
    # one spare byte is padding, not the extension, even with its last bit set
    assert eac3_layout(dec3(base, ext=[(1, 8)])) == ChannelLayout(6, lfe=True, joc=False)


def test_truncated_dec3_gives_none() -> None:
    full = dec3(substream(7, 1, dependents=1, chan_loc=1))
    assert eac3_layout(full[:-1]) is None
    assert eac3_layout(b"") is None


# --- from a sample entry -------------------------------------------------------------------
def config(box_type: str, data: bytes) -> Box:
    box = ConfigBox(box_type)
    box.data = data
    return box


def esds_for(asc: bytes) -> Esds:
    dsi = b"\x05" + bytes([len(asc)]) + asc
    dcd = b"\x04" + bytes([13 + len(dsi)]) + bytes(13) + dsi
    return Esds(descriptors=b"\x03" + bytes([3 + len(dcd)]) + b"\x00\x01\x00" + dcd)


def sinf(fmt: str) -> Box:
    return Box("sinf", children=[Frma(data_format=fmt)])


DAC3_51 = bits((0, 2), (8, 5), (0, 3), (7, 3), (1, 1), (0, 5), (0, 5))
DEC3_JOC = dec3(substream(7, 1), ext=[(0, 7), (1, 1), (0, 8)])


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (AudioSampleEntry("mp4a", children=[esds_for(bits((2, 5), (3, 4), (6, 4)))]),
         ChannelLayout(6, lfe=True)),
        (AudioSampleEntry("mp4a", channel_count=3), ChannelLayout(3)),
        (AudioSampleEntry("mp4a", channel_count=4, children=[Esds(descriptors=b"")]),
         ChannelLayout(4)),
        (AudioSampleEntry("mp4a", channel_count=5, children=[esds_for(b"")]), ChannelLayout(5)),
        (AudioSampleEntry("mp4a", channel_count=7,
                          children=[esds_for(bits((2, 5), (3, 4), (9, 4)))]),
         ChannelLayout(7)),
        (AudioSampleEntry("ac-3", children=[config("dac3", DAC3_51)]), ChannelLayout(6, lfe=True)),
        (AudioSampleEntry("ac-3", children=[config("dec3", DAC3_51)]), ChannelLayout(2)),
        (AudioSampleEntry("ac-3", channel_count=1, children=[config("dac3", b"")]),
         ChannelLayout(1)),
        (AudioSampleEntry("ec-3", children=[config("dec3", DEC3_JOC)]),
         ChannelLayout(6, lfe=True, joc=True)),
        (AudioSampleEntry("ec-3", children=[config("dac3", DAC3_51)]), ChannelLayout(2)),
        (AudioSampleEntry("ec-3", channel_count=8), ChannelLayout(8)),
        (AudioSampleEntry("Opus", channel_count=6, children=[config("dac3", DAC3_51)]),
         ChannelLayout(6)),
        (AudioSampleEntry("enca", children=[config("dec3", DEC3_JOC),
                                            sinf("ec-3")]),
         ChannelLayout(6, lfe=True, joc=True)),
        (AudioSampleEntry("enca", children=[esds_for(bits((2, 5), (3, 4), (1, 4))),
                                            sinf("mp4a")]),
         ChannelLayout(1)),
        (AudioSampleEntry("enca", channel_count=2, children=[config("dac3", DAC3_51),
                                                            sinf("ac-3")]),
         ChannelLayout(6, lfe=True)),
    ],
)  # fmt: skip
def test_sample_entry_layout(entry: Box, expected: ChannelLayout) -> None:
    assert sample_entry_layout(entry) == expected


def test_pce_lfe_element_tags_must_be_present() -> None:
    """Six front SCEs and one LFE: the config ends on a byte boundary just before the LFE
    element's 4-bit tag, so a config cut there is unreadable (None), not 7 channels."""
    head = [(2, 5), (3, 4), (0, 4), (0, 1), (0, 1), (0, 1)]
    pce = [(0, 4), (1, 2), (3, 4), (6, 4), (0, 4), (0, 4), (1, 2), (0, 3), (0, 4),
           (0, 1), (0, 1), (0, 1)] + [(0, 1), (0, 4)] * 6  # fmt: skip
    cut = bits(*head, *pce)
    assert len(cut) == 10
    assert aac_layout(cut) is None
    assert aac_layout(bits(*head, *pce, (0, 4))) == ChannelLayout(7, lfe=True)


def test_pce_mono_mixdown_element_number_is_four_bits() -> None:
    pce = [(0, 4), (1, 2), (3, 4), (2, 4), (0, 4), (0, 4), (0, 2), (0, 3), (0, 4),
           (1, 1), (0, 4), (0, 1), (0, 1),  # mono mixdown present, element 0
           (1, 1), (0, 4), (0, 1), (0, 4)]  # CPE, SCE  # fmt: skip
    assert aac_layout(ga(2, *pce)) == ChannelLayout(3)


def test_pce_lfe_tag_is_four_bits() -> None:
    """Two SCEs and one LFE end exactly on a byte boundary: nothing is left to over-read."""
    head = [(2, 5), (3, 4), (0, 4), (0, 1), (0, 1), (0, 1)]
    pce = [(0, 4), (1, 2), (3, 4), (2, 4), (0, 4), (0, 4), (1, 2), (0, 3), (0, 4),
           (0, 1), (0, 1), (0, 1), (0, 1), (0, 4), (0, 1), (0, 4), (0, 4)]  # fmt: skip
    data = bits(*head, *pce)
    assert len(data) == 8
    assert aac_layout(data) == ChannelLayout(3, lfe=True)


def test_dac3_bytes_after_the_third_are_ignored() -> None:
    dac3 = bits((0, 2), (8, 5), (0, 3), (7, 3), (1, 1), (0, 5), (0, 5))
    assert ac3_layout(dac3 + b"\xff") == ChannelLayout(6, lfe=True)


def test_one_spare_byte_after_long_substreams_is_not_the_joc_extension() -> None:
    subs = (substream(7, 1, dependents=1, chan_loc=0), substream(2, 0, dependents=1, chan_loc=0))
    data = dec3(*subs, ext=[(1, 8)])
    assert len(data) == 11
    assert eac3_layout(data) == ChannelLayout(6, lfe=True, joc=False)
