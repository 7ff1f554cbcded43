"""Box base class (pipeline/mp4/base.py) edges that mutation testing
(scripts/mutation.sh pipeline/mp4/base.py) found untested: the ISO/IEC 14496-12 4.2 box header
(32-bit size + type, size 1 = 64-bit largesize, size 0 = to the end), the FullBox
version(8)/flags(24) header, flag bits derived from present values, count and size fields
filled on writing, trailing bytes kept, navigation, and the exact refusal texts.

Every expected byte string is built by hand with struct.pack, not with the code under test."""

from __future__ import annotations

import struct

import pytest

from pipeline.mp4 import Box as ExportedBox
from pipeline.mp4 import RawBox as ExportedRawBox
from pipeline.mp4.base import (
    REGISTRY,
    Box,
    RawBox,
    header,
    parse_box,
    parse_boxes,
    read_header,
    register,
)
from pipeline.mp4.boxes import Ftyp, Mfhd, Mvhd, Stsd, Tfhd, Trun
from pipeline.mp4.fields import BoxFormatError, Bytes, Field, Record, Table, u8, u16


def plain(box_type: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), box_type) + body


def full(box_type: bytes, version: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">I4sI", 12 + len(body), box_type, version << 24 | flags) + body


class Demo(Box):
    """A FullBox with a required field, an optional flag-bound field and a counted table."""

    type, full = "demo", True
    fields = (
        Field("a", u16),
        Field("opt", u8, flag=0x000100),
        Field("count", u8, default=0),
        Field("rows", Table(Record((Field("v", u8, flag=0x000002),)), count="count")),
    )


class Sized(Box):
    type = "sizd"
    fields = (
        Field("n", u8, size_of="data"),
        Field("data", Bytes()),
    )


class Guarded(Box):
    type, full = "gard", True
    fields = (
        Field("mode", u8, default=0),
        Field("count", u8, default=0),
        Field(
            "rows",
            Table(Record((Field("v", u8),)), count="count"),
            when=lambda b: b.mode == 1,
        ),
    )


# --- constructing --------------------------------------------------------------------------
def test_constructor_defaults_and_copies_children() -> None:
    kids = [Mfhd()]
    b = Box("moov", children=kids)
    assert (b.box_type, b.version, b.flags, b.children) == ("moov", 0, 0, kids)
    assert b.children is not kids
    d = Demo(version=1, flags=0x10, a=5)
    assert (d.box_type, d.version, d.flags, d.a, d.opt, d.count, d.rows) == (
        "demo", 1, 0x10, 5, None, 0, None,
    )  # fmt: skip
    assert Ftyp("styp", major_brand="msdh").box_type == "styp"


def test_constructor_refuses_unknown_fields_by_sorted_name() -> None:
    with pytest.raises(TypeError) as err:
        Mfhd(zeta=1, alpha=2)
    assert str(err.value) == "mfhd: unknown fields ['alpha', 'zeta']"
    with pytest.raises(TypeError) as err:
        Ftyp("styp", major_brand="x", bogus=1)
    assert str(err.value) == "styp: unknown fields ['bogus']"


def test_package_exports() -> None:
    assert ExportedBox is Box and ExportedRawBox is RawBox


# --- FullBox header ------------------------------------------------------------------------
def test_full_box_header_is_version_then_24_bit_flags() -> None:
    raw = full(b"demo", 2, 0x000102, struct.pack(">HBBB", 7, 9, 1, 4))
    d = Demo.parse("demo", raw[8:])
    assert (d.version, d.flags, d.a, d.opt, d.count, d.rows) == (2, 0x102, 7, 9, 1, [{"v": 4}])
    assert d.to_bytes() == raw


def test_flags_use_all_three_bytes() -> None:
    d = Demo.parse("demo", bytes([0, 0xAB, 0xCD, 0xEF]) + b"\x00\x01\x05\x00")
    assert (d.flags, d.a, d.opt, d.rows) == (0xABCDEF, 1, 5, [])
    # bit 0x2 belongs to the (empty) table, so writing clears it; the others are kept
    assert d.to_bytes()[8:12] == bytes([0, 0xAB, 0xCD, 0xED])


def test_full_box_of_exactly_four_bytes_parses_and_three_are_refused() -> None:
    assert Box.parse("free", b"").box_type == "free"
    mfhd = type("M", (Box,), {"type": "mfhd", "full": True})
    parsed = mfhd.parse("mfhd", b"\x01\x00\x00\x02")
    assert (parsed.version, parsed.flags, parsed.children) == (1, 2, [])
    with pytest.raises(BoxFormatError) as err:
        Mfhd.parse("mfhd", b"\x00\x00\x00")
    assert str(err.value) == "mfhd: truncated FullBox header"


def test_plain_box_has_version_and_flags_zero() -> None:
    s = Sized.parse("sizd", b"\x02hi")
    assert (s.version, s.flags, s.n, s.data) == (0, 0, 2, b"hi")


def test_field_errors_are_prefixed_with_box_and_field() -> None:
    with pytest.raises(BoxFormatError) as err:
        Demo.parse("demo", b"\x00\x00\x00\x00\x00")
    assert str(err.value) == "demo.a: truncated: need 2 bytes at offset 4"


def test_absent_fields_parse_as_none() -> None:
    d = Demo.parse("demo", b"\x00\x00\x00\x00\x00\x07\x00")
    assert (d.a, d.opt, d.count, d.rows) == (7, None, 0, [])


# --- trailing bytes and children -----------------------------------------------------------
def test_trailing_bytes_are_kept_and_written_back() -> None:
    raw = full(b"mfhd", 0, 0, struct.pack(">I", 3) + b"xyz")
    m, end = parse_box(raw)
    assert (m.sequence_number, m.trailing, end) == (3, b"xyz", len(raw))
    assert m.to_bytes() == raw
    exact, _ = parse_box(full(b"mfhd", 0, 0, struct.pack(">I", 3)))
    assert not hasattr(exact, "trailing")


def test_children_follow_the_fields() -> None:
    child = full(b"mfhd", 0, 0, struct.pack(">I", 9))
    raw = full(b"stsd", 0, 0, struct.pack(">I", 2) + child + plain(b"free", b"ab"))
    stsd, _ = parse_box(raw)
    assert isinstance(stsd, Stsd) and stsd.entry_count == 2
    assert [c.box_type for c in stsd.children] == ["mfhd", "free"]
    assert stsd.children[0].sequence_number == 9 and stsd.children[1].data == b"ab"
    assert stsd.to_bytes() == raw


def test_child_count_is_rewritten_from_the_children() -> None:
    stsd = Stsd(entry_count=7, children=[RawBox("free", b"")])
    assert stsd.to_bytes() == full(b"stsd", 0, 0, struct.pack(">I", 1) + plain(b"free", b""))
    assert stsd.entry_count == 1


# --- writing -------------------------------------------------------------------------------
def test_flag_field_sets_and_clears_its_bit() -> None:
    d = Demo(flags=0x000100 | 0x800000, a=1, count=0)
    assert d.to_bytes() == full(b"demo", 0, 0x800000, struct.pack(">HB", 1, 0))
    d = Demo(flags=0x800000, a=1, opt=3)
    assert d.to_bytes() == full(b"demo", 0, 0x800100, struct.pack(">HBB", 1, 3, 0))
    assert d.flags == 0x800100


def test_table_flag_bits_come_from_its_entries() -> None:
    d = Demo(flags=0x000002 | 0x400000, a=1, rows=[{"v": 8}, {"v": 9}])
    assert d.to_bytes() == full(b"demo", 0, 0x400002, struct.pack(">HBBB", 1, 2, 8, 9))
    d = Demo(flags=0x000002 | 0x400000, a=1, rows=[{}, {}])
    assert d.to_bytes() == full(b"demo", 0, 0x400000, struct.pack(">HB", 1, 2))
    d = Demo(flags=0x000002 | 0x000001, a=1)  # no rows at all: the bound bit goes
    assert d.to_bytes() == full(b"demo", 0, 0x000001, struct.pack(">HB", 1, 0))


def test_required_field_missing_is_refused() -> None:
    with pytest.raises(BoxFormatError) as err:
        Demo().to_bytes()
    assert str(err.value) == "demo.a is required"
    with pytest.raises(BoxFormatError) as err:
        Ftyp("styp").to_bytes()
    assert str(err.value) == "styp.major_brand is required"


def test_size_of_field_is_filled_on_writing() -> None:
    s = Sized(n=99, data=b"abc")
    assert s.to_bytes() == plain(b"sizd", b"\x03abc")
    assert s.n == 3
    with pytest.raises(BoxFormatError, match="sizd.data is required"):
        Sized().to_bytes()


def test_table_count_only_filled_when_the_table_is_present() -> None:
    g = Guarded(mode=1, count=9, rows=[{"v": 4}])
    assert g.to_bytes() == full(b"gard", 0, 0, b"\x01\x01\x04")
    g = Guarded(mode=0, count=9, rows=[{"v": 4}])
    assert g.to_bytes() == full(b"gard", 0, 0, b"\x00\x09")
    g = Guarded(mode=1, count=5)
    assert g.to_bytes() == full(b"gard", 0, 0, b"\x01\x00")


def test_size_is_the_serialised_length() -> None:
    assert Mfhd(sequence_number=1).size == 16
    assert RawBox("free", b"abc").size == 11


# --- raw boxes -----------------------------------------------------------------------------
def test_raw_box_keeps_its_payload_verbatim() -> None:
    r = RawBox("skip")
    assert (r.box_type, r.data, r.children, r.to_bytes()) == ("skip", b"", [], plain(b"skip", b""))
    parsed = RawBox.parse("uuid", memoryview(b"\x01\x02"))
    assert type(parsed.data) is bytes and parsed.data == b"\x01\x02"
    assert not hasattr(parsed, "trailing")
    assert parsed.to_bytes() == plain(b"uuid", b"\x01\x02")


# --- box headers ---------------------------------------------------------------------------
def test_header_32_bit_up_to_the_limit_then_64_bit() -> None:
    assert header("free", 0) == struct.pack(">I4s", 8, b"free")
    assert header("mdat", 0xFFFFFFF7) == struct.pack(">I4s", 0xFFFFFFFF, b"mdat")
    assert header("mdat", 0xFFFFFFF8) == struct.pack(">I4sQ", 1, b"mdat", 0xFFFFFFF8 + 16)
    assert header("\xa9nam", 1) == struct.pack(">I4s", 9, b"\xa9nam")


def test_read_header_sizes() -> None:
    assert read_header(b"..\x00\x00\x00\x09free!", 2) == ("free", 8, 9)
    big = struct.pack(">I4sQ", 1, b"mdat", 17) + b"x"
    assert read_header(big, 0) == ("mdat", 16, 17)
    assert read_header(b"xx" + struct.pack(">I4s", 0, b"mdat") + b"abc", 2) == ("mdat", 8, 11)
    assert read_header(struct.pack(">I4s", 8, b"\xa9too"), 0) == ("\xa9too", 8, 8)
    # the header itself is a valid (empty) box; an empty 64-bit box is 16 bytes
    assert read_header(struct.pack(">I4sQ", 1, b"free", 16), 0) == ("free", 16, 16)


def test_read_header_refusals() -> None:
    with pytest.raises(BoxFormatError) as err:
        read_header(b"\x00" * 9, 2)
    assert str(err.value) == "truncated box header at offset 2"
    with pytest.raises(BoxFormatError) as err:
        read_header(b"..\x00\x00\x00\x01mdat" + bytes(7), 2)
    assert str(err.value) == "truncated 64-bit box header at offset 2"
    with pytest.raises(BoxFormatError) as err:
        read_header(struct.pack(">I4s", 7, b"free"), 0)
    assert str(err.value) == "box 'free' at offset 0 has invalid size 7"
    with pytest.raises(BoxFormatError) as err:
        read_header(b"." + struct.pack(">I4sQ", 1, b"free", 15), 1)
    assert str(err.value) == "box 'free' at offset 1 has invalid size 15"


def test_size_zero_box_runs_to_the_end_from_its_offset() -> None:
    buf = plain(b"free", b"ab") + struct.pack(">I4s", 0, b"mdat") + b"xyz"
    boxes = list(parse_boxes(buf))
    assert [(b.box_type, b.data) for b in boxes] == [("free", b"ab"), ("mdat", b"xyz")]


def test_parse_box_returns_the_next_offset_and_uses_the_registry() -> None:
    buf = b"\x00\x00" + full(b"mfhd", 0, 0, struct.pack(">I", 4)) + b"tail"
    m, end = parse_box(buf, 2)
    assert isinstance(m, Mfhd) and m.sequence_number == 4 and end == 18
    assert REGISTRY["styp"] is Ftyp and REGISTRY["trun"] is Trun
    unknown, _ = parse_box(plain(b"zzzz", b"q"))
    assert type(unknown) is RawBox and unknown.data == b"q"


def test_parse_box_refuses_a_box_running_past_the_buffer() -> None:
    buf = b"...." + struct.pack(">I4s", 13, b"free") + b"abcd"
    assert parse_box(buf[:4] + struct.pack(">I4s", 12, b"free") + b"abcd", 4)[1] == 16
    with pytest.raises(BoxFormatError) as err:
        parse_box(buf, 4)
    assert str(err.value) == "box 'free' at offset 4 runs past the end (13 bytes)"


def test_parse_boxes_from_an_offset() -> None:
    buf = b"junk" + plain(b"free", b"") + plain(b"skip", b"1")
    assert [(b.box_type, b.data) for b in parse_boxes(buf, 4)] == [("free", b""), ("skip", b"1")]
    assert list(parse_boxes(b"")) == []


def test_register_maps_every_type_of_a_description() -> None:
    class Probe(Box):
        type = "prb0"
        types = ("prb1", "prb2")

    class Single(Box):
        type = "prb3"

    try:
        assert register(Probe) is Probe and register(Single) is Single
        assert REGISTRY["prb1"] is Probe and REGISTRY["prb2"] is Probe
        assert "prb0" not in REGISTRY and REGISTRY["prb3"] is Single
    finally:
        for t in ("prb0", "prb1", "prb2", "prb3"):
            REGISTRY.pop(t, None)


# --- navigation ----------------------------------------------------------------------------
def tree() -> Box:
    t1 = Box("trak", children=[Box("mdia", children=[Mfhd(sequence_number=1)])])
    t2 = Box("trak", children=[Box("mdia", children=[Mfhd(sequence_number=2)])])
    return Box("moov", children=[RawBox("free"), t1, t2])


def test_find_all_and_find_follow_the_path() -> None:
    moov = tree()
    assert [m.sequence_number for m in moov.find_all("trak/mdia/mfhd")] == [1, 2]
    assert moov.find("trak/mdia/mfhd").sequence_number == 1
    assert len(moov.find_all("trak")) == 2
    assert moov.find("trak/minf") is None and moov.find_all("mdia") == []
    assert moov.find("free").box_type == "free"


def test_replace_child_in_place() -> None:
    moov = tree()
    old = moov.children[1]
    new = Box("trak")
    moov.replace_child(old, new)
    assert moov.children[1] is new and len(moov.children) == 3
    with pytest.raises(ValueError):
        moov.replace_child(old, new)


def test_repr_lists_six_fields_and_children() -> None:
    assert repr(Mfhd(sequence_number=3)) == "<mfhd sequence_number=3>"
    assert repr(tree()) == "<moov  +3 children>"
    tfhd = Tfhd(track_id=2, default_sample_flags=5)
    assert repr(tfhd) == (
        "<tfhd track_id=2, base_data_offset=None, sample_description_index=None, "
        "default_sample_duration=None, default_sample_size=None, default_sample_flags=5>"
    )
    trun = Trun(sample_count=1, data_offset=0, first_sample_flags=None, samples=[])
    assert repr(trun) == "<trun sample_count=1, data_offset=0, first_sample_flags=None, samples=[]>"


def test_repr_stops_after_six_fields() -> None:
    mvhd = Mvhd(timescale=600)
    assert repr(mvhd) == (
        "<mvhd creation_time=0, modification_time=0, timescale=600, duration=0, "
        "rate=65536, volume=256>"
    )


def test_64_bit_header_at_an_offset() -> None:
    buf = b"xx" + struct.pack(">I4sQ", 1, b"mdat", 17) + b"x"
    assert read_header(buf, 2) == ("mdat", 16, 17)
    box, end = parse_box(buf, 2)
    assert (box.box_type, box.data, end) == ("mdat", b"x", 19)


def test_largesize_is_an_unsigned_64_bit_field() -> None:
    assert header("mdat", 2**63) == struct.pack(">I4sQ", 1, b"mdat", 2**63 + 16)


def test_box_sizes_are_unsigned() -> None:
    """A 32-bit size or 64-bit largesize with the top bit set is a (huge) size, not negative:
    the box runs past the buffer rather than having an invalid size."""
    assert read_header(struct.pack(">I4s", 0x80000000, b"mdat"), 0) == ("mdat", 8, 0x80000000)
    big = struct.pack(">I4sQ", 1, b"mdat", 2**64 - 1)
    assert read_header(big, 0) == ("mdat", 16, 2**64 - 1)
    with pytest.raises(BoxFormatError) as err:
        parse_box(big)
    assert str(err.value) == f"box 'mdat' at offset 0 runs past the end ({2**64 - 1} bytes)"
