"""Every box description in pipeline/mp4/boxes.py pinned byte for byte against the layouts of
ISO/IEC 14496-12 (and 23001-7 for common encryption): field order, widths, signedness,
version-dependent 32/64-bit fields, defaults, flag-bound optional fields and the sync-sample
test. mutmut only mutates function bodies (here `is_sync`), so these known answers are what
catches a wrong width, default or flag bit in a description.

Expected bytes are built by hand with struct.pack from the standard's syntax, and every
case also parses back (parse(write(x)) == x)."""

from __future__ import annotations

import struct

import pytest

from pipeline.mp4.base import REGISTRY, Box, RawBox, parse_box
from pipeline.mp4.boxes import (
    NON_SYNC_SAMPLE_FLAGS,
    SYNC_SAMPLE_FLAGS,
    TFHD_DEFAULT_BASE_IS_MOOF,
    AudioSampleEntry,
    ConfigBox,
    Dref,
    Elst,
    Esds,
    Frma,
    Ftyp,
    Hdlr,
    Mdhd,
    Mehd,
    Mfhd,
    Mvhd,
    Pssh,
    Saio,
    Saiz,
    Schm,
    Senc,
    Sidx,
    Smhd,
    Stco,
    Stsc,
    Stsd,
    Stsz,
    Stts,
    Tenc,
    Tfdt,
    Tfhd,
    Tkhd,
    Trex,
    Trun,
    Url,
    VisualSampleEntry,
    Vmhd,
    is_sync,
)
from pipeline.mp4.fields import BoxFormatError

# unity matrix { 0x00010000,0,0, 0,0x00010000,0, 0,0,0x40000000 } (14496-12 8.2.2)
UNITY = struct.pack(">9i", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def plain(box_type: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), box_type) + body


def full(box_type: bytes, version: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">I4sI", 12 + len(body), box_type, version << 24 | flags) + body


def round_trip(box: Box, expected: bytes) -> Box:
    assert box.to_bytes() == expected
    back, end = parse_box(expected)
    assert end == len(expected) and type(back) is type(box)
    assert back.to_bytes() == expected
    assert not hasattr(back, "trailing")
    return back


# --- sample flags --------------------------------------------------------------------------
def test_sample_flag_constants_follow_8_8_3_1() -> None:
    # is_leading(2) depends_on(2) is_depended_on(2) has_redundancy(2) padding(3) non_sync(1)
    assert SYNC_SAMPLE_FLAGS == 2 << 24  # depends on no other sample
    assert NON_SYNC_SAMPLE_FLAGS == (1 << 24) | (1 << 16)  # depends on others, non-sync
    assert TFHD_DEFAULT_BASE_IS_MOOF == 0x020000


@pytest.mark.parametrize(
    ("flags", "sync"),
    [
        (SYNC_SAMPLE_FLAGS, True),
        (NON_SYNC_SAMPLE_FLAGS, False),
        (0, True),
        (0x00010000, False),
        (0xFFFEFFFF, True),  # every bit but sample_is_non_sync_sample
        (0xFFFFFFFF, False),
        (0x00020000, True),  # the padding bit above it does not count
        (0x00008000, True),  # nor the degradation priority below it
    ],
)
def test_is_sync_reads_only_the_non_sync_bit(flags: int, sync: bool) -> None:
    assert is_sync(flags) is sync


# --- file type and containers ------------------------------------------------------------
def test_ftyp_and_styp() -> None:
    ftyp = Ftyp(major_brand="isom", minor_version=512, compatible_brands=[{"brand": "iso6"}])
    back = round_trip(ftyp, plain(b"ftyp", b"isom" + struct.pack(">I", 512) + b"iso6"))
    assert back.compatible_brands == [{"brand": "iso6"}]
    styp = Ftyp("styp", major_brand="msdh", compatible_brands=[])
    back = round_trip(styp, plain(b"styp", b"msdh" + bytes(4)))
    assert back.box_type == "styp" and back.minor_version == 0 and back.compatible_brands == []


@pytest.mark.parametrize(
    "box_type",
    ["moov", "trak", "mdia", "minf", "stbl", "mvex", "dinf", "edts", "moof", "traf", "udta",
     "sinf", "schi", "mfra"],
)  # fmt: skip
def test_containers_hold_children_without_a_header_of_their_own(box_type: str) -> None:
    raw = plain(box_type.encode(), plain(b"free", b"x") + full(b"mfhd", 0, 0, bytes(4)))
    box, _ = parse_box(raw)
    assert not isinstance(box, RawBox) and REGISTRY[box_type].has_children
    assert [c.box_type for c in box.children] == ["free", "mfhd"]
    assert box.to_bytes() == raw


# --- movie, track and media headers ------------------------------------------------------
def test_mvhd_v0_defaults_are_the_108_byte_box() -> None:
    body = struct.pack(">IIII", 0, 0, 1000, 0) + struct.pack(">ih", 0x00010000, 0x0100)
    body += bytes(10) + UNITY + bytes(24) + struct.pack(">I", 2)
    raw = full(b"mvhd", 0, 0, body)
    assert len(raw) == 108
    back = round_trip(Mvhd(), raw)
    assert (back.timescale, back.rate, back.volume, back.next_track_id) == (1000, 65536, 256, 2)


def test_mvhd_v1_has_64_bit_times() -> None:
    body = struct.pack(">QQIQ", 1 << 32, 2 << 32, 600, 3 << 32) + struct.pack(">ih", -1, -2)
    body += bytes(10) + UNITY + bytes(24) + struct.pack(">I", 7)
    raw = full(b"mvhd", 1, 0, body)
    assert len(raw) == 120
    mvhd = Mvhd(
        version=1,
        creation_time=1 << 32,
        modification_time=2 << 32,
        timescale=600,
        duration=3 << 32,
        rate=-1,
        volume=-2,
        next_track_id=7,
    )
    back = round_trip(mvhd, raw)
    assert (back.duration, back.rate, back.volume) == (3 << 32, -1, -2)


def test_tkhd_v0_and_v1() -> None:
    tail = (
        struct.pack(">hhhH", -1, 2, 0x0100, 0) + UNITY + struct.pack(">II", 1280 << 16, 720 << 16)
    )
    raw0 = full(b"tkhd", 0, 3, struct.pack(">IIIII", 1, 2, 5, 0, 9000) + bytes(8) + tail)
    assert len(raw0) == 92
    tkhd = Tkhd(
        flags=3,
        creation_time=1,
        modification_time=2,
        track_id=5,
        duration=9000,
        layer=-1,
        alternate_group=2,
        volume=0x0100,
        width=1280 << 16,
        height=720 << 16,
    )
    back = round_trip(tkhd, raw0)
    assert (back.flags, back.track_id, back.layer, back.width) == (3, 5, -1, 1280 << 16)
    head1 = struct.pack(">QQIIQ", 0, 0, 1, 0, 1 << 33) + bytes(8)
    raw1 = full(b"tkhd", 1, 0, head1 + struct.pack(">hhhH", 0, 0, 0, 0) + UNITY + bytes(8))
    assert len(raw1) == 104
    back = round_trip(Tkhd(version=1, duration=1 << 33), raw1)
    assert back.track_id == 1 and back.duration == 1 << 33


def test_mdhd_language_und_and_versions() -> None:
    raw0 = full(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, 90000, 0, 0x55C4, 0))
    assert len(raw0) == 32
    # 'und' packed as three 5-bit letters minus 0x60: u=21, n=14, d=4
    assert (21 << 10) | (14 << 5) | 4 == 0x55C4
    back = round_trip(Mdhd(), raw0)
    assert (back.timescale, back.language) == (90000, 0x55C4)
    raw1 = full(b"mdhd", 1, 0, struct.pack(">QQIQHH", 0, 0, 48000, 1 << 40, 0x15C7, 0))
    assert len(raw1) == 44
    back = round_trip(Mdhd(version=1, timescale=48000, duration=1 << 40, language=0x15C7), raw1)
    assert back.duration == 1 << 40


def test_hdlr() -> None:
    raw = full(b"hdlr", 0, 0, bytes(4) + b"vide" + bytes(12) + b"\0")
    assert len(raw) == 33
    round_trip(Hdlr(handler_type="vide"), raw)
    raw = full(b"hdlr", 0, 0, bytes(4) + b"soun" + bytes(12) + b"Sound\0")
    assert round_trip(Hdlr(handler_type="soun", name=b"Sound\0"), raw).name == b"Sound\0"


def test_elst_v0_signed_media_time_and_v1_64_bit() -> None:
    rows = [{"segment_duration": 0, "media_time": 256, "media_rate": 0x00010000}]
    raw0 = full(b"elst", 0, 0, struct.pack(">IIiI", 1, 0, 256, 0x00010000))
    assert round_trip(Elst(entries=rows), raw0).entries == rows
    empty = [{"segment_duration": 1000, "media_time": -1, "media_rate": 0x00010000}]
    raw0 = full(b"elst", 0, 0, struct.pack(">IIiI", 1, 1000, -1, 0x00010000))
    assert round_trip(Elst(entries=empty), raw0).entries == empty
    raw1 = full(b"elst", 1, 0, struct.pack(">IQqI", 1, 1 << 33, -1, 0x00010000))
    rows1 = [{"segment_duration": 1 << 33, "media_time": -1, "media_rate": 0x00010000}]
    assert round_trip(Elst(version=1, entries=rows1), raw1).entries == rows1
    assert round_trip(Elst(), full(b"elst", 0, 0, bytes(4))).entries == []


# --- sample description ------------------------------------------------------------------
def test_stsd_and_dref_count_their_children() -> None:
    url = full(b"url ", 0, 1, b"")
    raw = full(b"dref", 0, 0, struct.pack(">I", 1) + url)
    back = round_trip(Dref(children=[Url(flags=1)]), raw)
    assert back.entry_count == 1 and back.children[0].flags == 1
    assert back.children[0].location == b""
    assert round_trip(Stsd(), full(b"stsd", 0, 0, bytes(4))).entry_count == 0


def visual_body(width: int, height: int) -> bytes:
    return (
        bytes(6)
        + struct.pack(">H", 1)
        + bytes(16)
        + struct.pack(">HHIII", width, height, 0x00480000, 0x00480000, 0)
        + struct.pack(">H", 1)
        + bytes(32)
        + struct.pack(">Hh", 0x0018, -1)
    )


@pytest.mark.parametrize("box_type", ["avc1", "avc3", "hvc1", "hev1", "av01", "vp09", "encv"])
def test_visual_sample_entry_layout(box_type: str) -> None:
    avcc = plain(b"avcC", b"\x01\x64\x00\x1f")
    raw = plain(box_type.encode(), visual_body(1920, 1080) + avcc)
    assert len(raw) == 86 + len(avcc)
    entry = VisualSampleEntry(box_type, width=1920, height=1080, children=[ConfigBox("avcC")])
    entry.children[0].data = b"\x01\x64\x00\x1f"
    back = round_trip(entry, raw)
    assert (back.box_type, back.width, back.height, back.depth) == (box_type, 1920, 1080, 24)
    assert back.pre_defined2 == -1 and back.data_reference_index == 1 and back.frame_count == 1
    assert back.find("avcC").data == b"\x01\x64\x00\x1f"


@pytest.mark.parametrize("box_type", ["mp4a", "ac-3", "ec-3", "Opus", "fLaC", "enca"])
def test_audio_sample_entry_layout(box_type: str) -> None:
    body = (
        bytes(6) + struct.pack(">H", 1) + bytes(8) + struct.pack(">HHHHI", 2, 16, 0, 0, 48000 << 16)
    )
    raw = plain(box_type.encode(), body)
    assert len(raw) == 36
    back = round_trip(AudioSampleEntry(box_type), raw)
    assert (back.channel_count, back.sample_size, back.sample_rate) == (2, 16, 48000 << 16)
    body = (
        bytes(6) + struct.pack(">H", 2) + bytes(8) + struct.pack(">HHHHI", 6, 24, 0, 0, 44100 << 16)
    )
    entry = AudioSampleEntry(
        box_type, data_reference_index=2, channel_count=6, sample_size=24, sample_rate=44100 << 16
    )
    round_trip(entry, plain(box_type.encode(), body))


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
