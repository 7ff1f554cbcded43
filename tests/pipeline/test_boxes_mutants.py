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
    Ftyp,
    Hdlr,
    Mdhd,
    Mvhd,
    Stsd,
    Tkhd,
    Url,
    VisualSampleEntry,
    is_sync,
)

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
