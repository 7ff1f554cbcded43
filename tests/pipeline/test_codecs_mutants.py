"""RFC 6381 codec strings (pipeline/mp4/codecs.py) edges that mutation testing
(scripts/mutation.sh pipeline/mp4/codecs.py) found untested: avcC profile/constraints/level
as two lower-case hex digits each, the hvcC fields of ISO/IEC 14496-15 annex E (profile
space letter, tier, bit-reversed compatibility flags, decimal level, trailing zero constraint
bytes dropped), every sample entry family, encrypted entries read through sinf/frma, the
ES_Descriptor optional fields and multi-byte lengths of 14496-1, and the exact refusals."""

from __future__ import annotations

import pytest

from pipeline.mp4.base import Box, RawBox
from pipeline.mp4.boxes import AudioSampleEntry, ConfigBox, Esds, Frma, Stsd, VisualSampleEntry
from pipeline.mp4.codecs import (
    _decoder_specific_info,
    aac_object_type,
    avc_codec,
    codec_string,
    decoder_specific_info,
    hevc_codec,
    original_format,
    sample_entry,
)


def moov_with(entry: Box | None) -> Box:
    stsd = Stsd(children=[entry] if entry is not None else [])
    path = ["trak", "mdia", "minf", "stbl"]
    node: Box = stsd
    for t in reversed(path):
        node = Box(t, children=[node])
    return Box("moov", children=[node])


def config(box_type: str, data: bytes) -> Box:
    box = ConfigBox(box_type)
    box.data = data
    return box


def video(fmt: str, *children: Box) -> Box:
    return VisualSampleEntry(fmt, width=1, height=1, children=list(children))


def esds(asc: bytes) -> bytes:
    dsi = b"\x05" + bytes([len(asc)]) + asc
    dcd = b"\x04" + bytes([13 + len(dsi)]) + bytes([0x40, 0x15]) + bytes(11) + dsi
    return b"\x03" + bytes([3 + len(dcd)]) + b"\x00\x01\x00" + dcd


def encrypted(kind: str, fmt: str, *children: Box) -> Box:
    sinf = Box("sinf", children=[Frma(data_format=fmt)])
    if kind == "encv":
        return VisualSampleEntry("encv", width=1, height=1, children=[*children, sinf])
    return AudioSampleEntry("enca", children=[*children, sinf])


# --- sample entry lookup -------------------------------------------------------------------
def test_sample_entry_is_the_first_stsd_child() -> None:
    first, second = RawBox("avc1"), RawBox("hvc1")
    moov = moov_with(first)
    moov.find("trak/mdia/minf/stbl/stsd").children.append(second)
    assert sample_entry(moov) is first


@pytest.mark.parametrize("moov", [Box("moov"), moov_with(None)])
def test_sample_entry_missing_is_refused(moov: Box) -> None:
    with pytest.raises(ValueError) as err:
        sample_entry(moov)
    assert str(err.value) == "no sample description (stsd) in moov"


def test_original_format_of_clear_and_encrypted_entries() -> None:
    assert original_format(RawBox("avc1")) == "avc1"
    assert original_format(encrypted("encv", "hvc1")) == "hvc1"
    assert original_format(encrypted("enca", "ec-3")) == "ec-3"
    assert original_format(VisualSampleEntry("encv", width=1, height=1)) == "encv"
    # a clear entry carrying a stray sinf/frma keeps its own type
    clear = VisualSampleEntry(
        "avc1", width=1, height=1, children=[Box("sinf", children=[Frma(data_format="hvc1")])]
    )
    assert original_format(clear) == "avc1"


# --- codec strings -----------------------------------------------------------------------
AVCC = bytes([1, 0x4D, 0x40, 0x1E, 0xFF])
HVCC = bytes([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93])


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (video("avc1", config("avcC", AVCC)), "avc1.4d401e"),
        (video("avc3", config("avcC", AVCC)), "avc3.4d401e"),
        (video("hvc1", config("hvcC", HVCC)), "hvc1.1.6.L93.90"),
        (video("hev1", config("hvcC", HVCC)), "hev1.1.6.L93.90"),
        (encrypted("encv", "avc1", config("avcC", AVCC)), "avc1.4d401e"),
        (encrypted("encv", "hev1", config("hvcC", HVCC)), "hev1.1.6.L93.90"),
        (AudioSampleEntry("mp4a"), "mp4a.40.2"),
        (AudioSampleEntry("mp4a", children=[Esds(descriptors=esds(b"\x28\x00"))]), "mp4a.40.5"),
        (encrypted("enca", "mp4a", Esds(descriptors=esds(b"\xe8\x00"))), "mp4a.40.29"),
        (AudioSampleEntry("ac-3"), "ac-3"),
        (AudioSampleEntry("ec-3"), "ec-3"),
        (encrypted("enca", "ec-3"), "ec-3"),
        (VisualSampleEntry("av01", width=1, height=1), "av01"),
    ],
)  # fmt: skip
def test_codec_string_per_sample_entry(entry: Box, expected: str) -> None:
    assert codec_string(moov_with(entry)) == expected


@pytest.mark.parametrize("fmt", ["vp09", "Opus", "fLaC"])
def test_unsupported_sample_entry_is_refused(fmt: str) -> None:
    with pytest.raises(ValueError) as err:
        codec_string(moov_with(RawBox(fmt)))
    assert str(err.value) == f"unsupported sample entry '{fmt}'"


def test_missing_configuration_names_the_entry_and_box() -> None:
    with pytest.raises(ValueError) as err:
        codec_string(moov_with(VisualSampleEntry("avc3", width=1, height=1)))
    assert str(err.value) == "sample entry 'avc3' has no avcC"
    with pytest.raises(ValueError) as err:
        codec_string(moov_with(encrypted("encv", "hvc1")))
    assert str(err.value) == "sample entry 'encv' has no hvcC"


def test_avc_codec_hex_digits_and_minimum_length() -> None:
    assert avc_codec("avc1", bytes([1, 0x42, 0xC0, 0x0A])) == "avc1.42c00a"
    assert avc_codec("avc1", bytes([1, 0x64, 0x00, 0x33])) == "avc1.640033"
    with pytest.raises(ValueError) as err:
        avc_codec("avc1", bytes([1, 0x42, 0xC0]))
    assert str(err.value) == "avcC too short"


def test_hevc_codec_main_profile() -> None:
    assert hevc_codec("hvc1", HVCC) == "hvc1.1.6.L93.90"


@pytest.mark.parametrize(
    ("byte1", "prefix"),
    [(0x01, "1"), (0x41, "A1"), (0x81, "B1"), (0xC1, "C1"), (0x21, "1"), (0x02, "2"), (0x1F, "31")],
)
def test_hevc_profile_space_letter_and_profile(byte1: int, prefix: str) -> None:
    assert hevc_codec("hvc1", bytes([1, byte1]) + HVCC[2:]).split(".")[1] == prefix


def test_hevc_high_tier_reversed_compat_and_inner_zero_constraints() -> None:
    # space 2 ('B'), high tier, profile 2 (Main 10), compatibility flag 2 only (0x20000000
    # reversed is 0x4), level 153 (5.1), constraint bytes b0 00 00 00 01 00 -> "b0.0.0.0.1"
    hvcc = bytes([1, 0x80 | 0x20 | 0x02, 0x20, 0, 0, 0, 0xB0, 0, 0, 0, 0x01, 0, 153])
    assert hevc_codec("hev1", hvcc) == "hev1.B2.4.H153.b0.0.0.0.1"
    # compatibility flag 31 reversed is 0x80000000; no constraint bytes at all
    hvcc = bytes([1, 0x01, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 120])
    assert hevc_codec("hvc1", hvcc) == "hvc1.1.80000000.L120"
    hvcc = bytes([1, 0x1F, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0A, 0])
    assert hevc_codec("hvc1", hvcc) == "hvc1.31.7fffffff.L0.ff.ff.ff.ff.ff.a"


def test_hevc_codec_minimum_length() -> None:
    assert hevc_codec("hvc1", HVCC[:13]) == "hvc1.1.6.L93.90"
    with pytest.raises(ValueError) as err:
        hevc_codec("hvc1", HVCC[:12])
    assert str(err.value) == "hvcC too short"


# --- AAC object type from esds -------------------------------------------------------------
def test_aac_object_type_plain_escaped_and_default() -> None:
    assert aac_object_type(esds(bytes([0x10, 0x00]))) == 2  # AAC-LC
    assert aac_object_type(esds(bytes([0x08]))) == 1  # AAC Main
    # escape 31, then 6 bits 011101 = 29: AOT 61
    assert aac_object_type(esds(bytes([0b11111011, 0b10100000]))) == 61
    assert aac_object_type(esds(bytes([0b11111000, 0b00000000]))) == 32
    assert aac_object_type(esds(b"")) == 2  # empty DecoderSpecificInfo
    assert aac_object_type(b"\x03\x03\x00\x01\x00") == 2  # no DecoderSpecificInfo at all
    assert aac_object_type(b"") == 2


def test_aac_object_type_refusals() -> None:
    with pytest.raises(ValueError) as err:
        aac_object_type(esds(bytes([0xF8])))
    assert str(err.value) == "truncated esds descriptor"
    with pytest.raises(ValueError) as err:
        aac_object_type(esds(bytes([0x10, 0x00]))[:-1])
    assert str(err.value) == "truncated esds descriptor"


def es_descriptor(flags: int, optional: bytes, dsi_payload: bytes = b"\x11\x90") -> bytes:
    dsi = b"\x05" + bytes([len(dsi_payload)]) + dsi_payload
    # the 13 fixed DecoderConfigDescriptor bytes hold a decoy DSI: a parser that lands a
    # byte off finds b"\xee" (or nothing) instead of the real one
    dcd = b"\x04" + bytes([13 + len(dsi)]) + b"\x05\x01\xee\xff\xff" + bytes(8) + dsi
    body = b"\x00\x01" + bytes([flags]) + optional + dcd
    return b"\x03" + bytes([len(body)]) + body


@pytest.mark.parametrize(
    ("flags", "optional"),
    [
        (0x00, b""),
        (0x80, b"\x00\x02"),  # streamDependenceFlag: dependsOn_ES_ID(16)
        (0x40, b"\x03abc"),  # URL_Flag: URLlength(8) + URLstring
        (0x40, b"\x00"),  # empty URL
        (0x20, b"\x00\x03"),  # OCRstreamFlag: OCR_ES_Id(16)
        (0xE0, b"\x00\x02" + b"\x02ab" + b"\x00\x03"),  # all three, in this order
        (0x1F, b""),  # streamPriority bits only
    ],
)
def test_es_descriptor_optional_fields_are_skipped(flags: int, optional: bytes) -> None:
    assert decoder_specific_info(es_descriptor(flags, optional)) == b"\x11\x90"


def test_descriptor_lengths_take_up_to_four_bytes() -> None:
    # FFmpeg writes lengths as 80 80 80 nn; the 7-bit groups are big-endian
    long = b"\x06\x80\x80\x80\x02" + b"zz" + b"\x05\x80\x80\x80\x01\xaa"
    assert decoder_specific_info(long) == b"\xaa"
    # a fourth byte with the continuation bit set still ends the length
    cut = b"\x06\x80\x80\x80\x82\x00\x00" + b"\x05\x01\xaa"
    assert decoder_specific_info(cut) == b"\xaa"
    two = b"\x06\x81\x00" + b"\x05\x01\xee" + bytes(125) + b"\x05\x02\xbb\xcc"
    assert decoder_specific_info(two) == b"\xbb\xcc"


def test_decoder_specific_info_bounds() -> None:
    assert decoder_specific_info(b"\x05\x02ab") == b"ab"
    assert decoder_specific_info(b"\x05\x03ab") is None
    assert decoder_specific_info(b"\x05\x00") == b""
    assert decoder_specific_info(b"\x06\x01z") is None
    assert decoder_specific_info(b"\x05") is None
    assert decoder_specific_info(b"") is None


def test_overlong_decoder_specific_info_is_an_index_error_naming_it() -> None:
    """The reader's own refusal (callers turn IndexError into None or ValueError)."""
    with pytest.raises(IndexError) as err:
        _decoder_specific_info(b"\x05\x03ab")
    assert str(err.value) == "DecoderSpecificInfo runs past the esds"
