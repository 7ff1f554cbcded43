"""test_boxes_mutants.py, continued (split to keep modules under 500 lines)."""

from __future__ import annotations

import struct

import pytest

from pipeline.mp4.base import parse_box
from pipeline.mp4.boxes import (
    TFHD_DEFAULT_BASE_IS_MOOF,
    ConfigBox,
    Esds,
    Frma,
    Mehd,
    Mfhd,
    Pssh,
    Saio,
    Saiz,
    Schm,
    Senc,
    Sidx,
    Smhd,
    Stco,
    Stsc,
    Stsz,
    Stts,
    Tenc,
    Tfdt,
    Tfhd,
    Trex,
    Trun,
    Url,
    Vmhd,
)
from pipeline.mp4.fields import BoxFormatError
from tests.pipeline.test_boxes_mutants import (
    full,
    plain,
    round_trip,
)


@pytest.mark.parametrize(
    "box_type", ["avcC", "hvcC", "av1C", "vpcC", "dac3", "dec3", "dOps", "pasp", "btrt", "colr"]
)
def test_config_boxes_keep_their_bytes(box_type: str) -> None:
    raw = plain(box_type.encode(), b"\x01\x02\x03")
    box, _ = parse_box(raw)
    assert type(box) is ConfigBox and box.data == b"\x01\x02\x03" and box.to_bytes() == raw


def test_esds_is_a_full_box_of_descriptors() -> None:
    raw = full(b"esds", 0, 0, b"\x03\x00")
    assert round_trip(Esds(descriptors=b"\x03\x00"), raw).descriptors == b"\x03\x00"


# --- fragmented movie ----------------------------------------------------------------------
def test_mehd_versions() -> None:
    round_trip(Mehd(fragment_duration=5), full(b"mehd", 0, 0, struct.pack(">I", 5)))
    round_trip(
        Mehd(version=1, fragment_duration=1 << 32), full(b"mehd", 1, 0, struct.pack(">Q", 1 << 32))
    )


def test_trex_defaults() -> None:
    raw = full(b"trex", 0, 0, struct.pack(">IIIII", 1, 1, 0, 0, 0))
    assert len(raw) == 32
    round_trip(Trex(), raw)
    raw = full(b"trex", 0, 0, struct.pack(">IIIII", 2, 3, 1024, 700, 0x01010000))
    trex = Trex(
        track_id=2,
        default_sample_description_index=3,
        default_sample_duration=1024,
        default_sample_size=700,
        default_sample_flags=0x01010000,
    )
    round_trip(trex, raw)


def test_mfhd() -> None:
    round_trip(Mfhd(), full(b"mfhd", 0, 0, struct.pack(">I", 1)))
    round_trip(Mfhd(sequence_number=0xFFFFFFFF), full(b"mfhd", 0, 0, b"\xff" * 4))


@pytest.mark.parametrize(
    ("name", "flag", "packed"),
    [
        ("base_data_offset", 0x01, struct.pack(">Q", 1 << 35)),
        ("sample_description_index", 0x02, struct.pack(">I", 3)),
        ("default_sample_duration", 0x08, struct.pack(">I", 3)),
        ("default_sample_size", 0x10, struct.pack(">I", 3)),
        ("default_sample_flags", 0x20, struct.pack(">I", 3)),
    ],
)
def test_tfhd_each_optional_field_has_its_flag_bit(name: str, flag: int, packed: bytes) -> None:
    value = struct.unpack(">Q" if len(packed) == 8 else ">I", packed)[0]
    raw = full(b"tfhd", 0, flag, struct.pack(">I", 4) + packed)
    back = round_trip(Tfhd(track_id=4, **{name: value}), raw)
    assert getattr(back, name) == value and back.flags == flag


def test_tfhd_all_fields_in_order() -> None:
    body = struct.pack(">IQIIII", 1, 100, 2, 3, 4, 5)
    raw = full(b"tfhd", 0, 0x02003B, body)
    tfhd = Tfhd(
        flags=TFHD_DEFAULT_BASE_IS_MOOF,
        base_data_offset=100,
        sample_description_index=2,
        default_sample_duration=3,
        default_sample_size=4,
        default_sample_flags=5,
    )
    round_trip(tfhd, raw)
    round_trip(Tfhd(), full(b"tfhd", 0, 0, struct.pack(">I", 1)))


def test_tfdt_v0_default_zero() -> None:
    round_trip(Tfdt(), full(b"tfdt", 0, 0, bytes(4)))


@pytest.mark.parametrize(("name", "flag"), [("duration", 0x100), ("size", 0x200), ("flags", 0x400)])
def test_trun_per_sample_fields_have_their_flag_bit(name: str, flag: int) -> None:
    raw = full(b"trun", 0, flag, struct.pack(">III", 2, 7, 8))
    back = round_trip(Trun(samples=[{name: 7}, {name: 8}]), raw)
    assert back.sample_count == 2 and back.samples == [{name: 7}, {name: 8}]


def test_trun_data_offset_is_signed_and_first_sample_flags_follows_it() -> None:
    raw = full(b"trun", 0, 0x005, struct.pack(">IiI", 0, -8, 0x02000000))
    back = round_trip(Trun(data_offset=-8, first_sample_flags=0x02000000), raw)
    assert back.data_offset == -8 and back.samples == []


def test_trun_v0_composition_offset_unsigned_v1_signed() -> None:
    raw = full(b"trun", 0, 0x800, struct.pack(">II", 1, 0x80000000))
    assert round_trip(Trun(samples=[{"composition_offset": 0x80000000}]), raw)
    raw = full(b"trun", 1, 0x800, struct.pack(">Ii", 1, -(2**31)))
    back = round_trip(Trun(version=1, samples=[{"composition_offset": -(2**31)}]), raw)
    assert back.samples == [{"composition_offset": -(2**31)}]
    with pytest.raises(BoxFormatError, match="cannot write"):
        Trun(samples=[{"composition_offset": -1}]).to_bytes()


def test_trun_fields_in_order() -> None:
    row = {"duration": 1, "size": 2, "flags": 3, "composition_offset": 4}
    raw = full(b"trun", 0, 0xF05, struct.pack(">IiIIIII", 1, 9, 5, 1, 2, 3, 4))
    assert round_trip(Trun(data_offset=9, first_sample_flags=5, samples=[row]), raw).samples == [
        row
    ]


def test_sidx_v0_and_v1() -> None:
    ref = {"reference": 0x80000010, "subsegment_duration": 90000, "sap": 0x90000000}
    body = struct.pack(">IIIIHH", 1, 90000, 0, 0, 0, 1) + struct.pack(">III", *ref.values())
    raw = full(b"sidx", 0, 0, body)
    back = round_trip(Sidx(timescale=90000, earliest_presentation_time=0, references=[ref]), raw)
    assert back.reference_count == 1 and back.references == [ref]
    body = struct.pack(">IIQQHH", 2, 1000, 1 << 33, 1 << 34, 0, 0)
    sidx = Sidx(
        version=1,
        reference_id=2,
        timescale=1000,
        earliest_presentation_time=1 << 33,
        first_offset=1 << 34,
    )
    round_trip(sidx, full(b"sidx", 1, 0, body))


# --- sample tables ---------------------------------------------------------------------------
def test_stts_stsc_stco_tables() -> None:
    raw = full(b"stts", 0, 0, struct.pack(">IIIII", 2, 10, 1024, 1, 512))
    rows = [{"count": 10, "delta": 1024}, {"count": 1, "delta": 512}]
    assert round_trip(Stts(entries=rows), raw).entries == rows
    raw = full(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 30, 1))
    rows = [{"first_chunk": 1, "samples_per_chunk": 30, "sample_description_index": 1}]
    assert round_trip(Stsc(entries=rows), raw).entries == rows
    raw = full(b"stco", 0, 0, struct.pack(">III", 2, 48, 0xFFFFFFFF))
    rows = [{"offset": 48}, {"offset": 0xFFFFFFFF}]
    assert round_trip(Stco(entries=rows), raw).entries == rows
    for cls, name in ((Stts, b"stts"), (Stsc, b"stsc"), (Stco, b"stco")):
        assert round_trip(cls(), full(name, 0, 0, bytes(4))).entries == []


def test_stsz_table_only_without_a_constant_size() -> None:
    raw = full(b"stsz", 0, 0, struct.pack(">IIII", 0, 2, 100, 200))
    back = round_trip(Stsz(entries=[{"size": 100}, {"size": 200}]), raw)
    assert back.sample_count == 2
    assert round_trip(Stsz(), full(b"stsz", 0, 0, bytes(8))).entries == []


def test_vmhd_smhd_url() -> None:
    round_trip(Vmhd(flags=1), full(b"vmhd", 0, 1, bytes(8)))
    round_trip(Smhd(), full(b"smhd", 0, 0, bytes(4)))
    round_trip(Smhd(balance=-256), full(b"smhd", 0, 0, struct.pack(">hH", -256, 0)))
    round_trip(Url(location=b"http://x\0"), full(b"url ", 0, 0, b"http://x\0"))


# --- common encryption -----------------------------------------------------------------------
def test_frma_is_a_plain_box() -> None:
    assert round_trip(Frma(data_format="avc1"), plain(b"frma", b"avc1")).data_format == "avc1"


def test_schm_uri_is_bound_to_flag_1() -> None:
    round_trip(Schm(scheme_type="cenc"), full(b"schm", 0, 0, b"cenc" + struct.pack(">I", 0x10000)))
    raw = full(b"schm", 0, 1, b"cbcs" + struct.pack(">I", 0x10000) + b"https://a\0")
    assert round_trip(Schm(scheme_type="cbcs", scheme_uri=b"https://a\0"), raw).scheme_uri == (
        b"https://a\0"
    )


KID = bytes(range(16))


def test_tenc_with_per_sample_iv() -> None:
    raw = full(b"tenc", 0, 0, bytes([0, 0, 1, 8]) + KID)
    back = round_trip(Tenc(default_kid=KID), raw)
    assert back.default_constant_iv_size is None and back.default_constant_iv is None
    raw = full(b"tenc", 1, 0, bytes([0, 0x19, 1, 16]) + KID)
    assert round_trip(
        Tenc(version=1, pattern=0x19, default_per_sample_iv_size=16, default_kid=KID), raw
    )


def test_tenc_constant_iv_only_when_protected_without_per_sample_iv() -> None:
    iv = bytes(range(100, 116))
    raw = full(b"tenc", 1, 0, bytes([0, 0x19, 1, 0]) + KID + bytes([16]) + iv)
    tenc = Tenc(
        version=1,
        pattern=0x19,
        default_per_sample_iv_size=0,
        default_kid=KID,
        default_constant_iv_size=16,
        default_constant_iv=iv,
    )
    back = round_trip(tenc, raw)
    assert (back.default_constant_iv_size, back.default_constant_iv) == (16, iv)
    # not protected: neither constant IV field is present, even with IV size 0
    raw = full(b"tenc", 0, 0, bytes([0, 0, 0, 0]) + KID)
    back, _ = parse_box(raw)
    assert back.default_constant_iv_size is None and back.to_bytes() == raw


def test_pssh_v1_with_kids() -> None:
    system = bytes(range(16, 32))
    k2 = bytes(range(32, 48))
    body = system + struct.pack(">I", 2) + KID + k2 + struct.pack(">I", 2) + b"hi"
    back = round_trip(
        Pssh(version=1, system_id=system, kids=[{"kid": KID}, {"kid": k2}], data=b"hi"),
        full(b"pssh", 1, 0, body),
    )
    assert back.kid_count == 2 and back.data_size == 2 and back.data == b"hi"


def test_saiz_with_and_without_aux_info_type() -> None:
    raw = full(b"saiz", 0, 0, bytes([8]) + struct.pack(">I", 3))
    back = round_trip(Saiz(default_sample_info_size=8, sample_count=3), raw)
    assert back.sample_info_sizes is None and back.aux_info_type is None
    raw = full(b"saiz", 0, 1, struct.pack(">4sIBI", b"cenc", 0, 0, 2) + b"\x10\x18")
    saiz = Saiz(aux_info_type=0x63656E63, aux_info_type_parameter=0, sample_count=2,
                sample_info_sizes=b"\x10\x18")  # fmt: skip
    back = round_trip(saiz, raw)
    assert back.aux_info_type == 0x63656E63 and back.sample_info_sizes == b"\x10\x18"


def test_saio_versions() -> None:
    raw = full(b"saio", 0, 0, struct.pack(">II", 1, 0x50))
    assert round_trip(Saio(offsets=[{"offset": 0x50}]), raw).entry_count == 1
    raw = full(b"saio", 1, 1, struct.pack(">4sIIQ", b"cenc", 0, 1, 1 << 40))
    saio = Saio(version=1, aux_info_type=0x63656E63, aux_info_type_parameter=0,
                offsets=[{"offset": 1 << 40}])  # fmt: skip
    assert round_trip(saio, raw).offsets == [{"offset": 1 << 40}]
    assert Saio().entry_count == 1


def test_senc_keeps_entries_as_bytes() -> None:
    raw = full(b"senc", 0, 2, struct.pack(">I", 1) + bytes(8) + b"\x00\x01" + bytes(6))
    back = round_trip(Senc(flags=2, sample_count=1, entries=bytes(8) + b"\x00\x01" + bytes(6)), raw)
    assert back.flags == 2 and len(back.entries) == 16
    round_trip(Senc(), full(b"senc", 0, 0, bytes(4)))
