"""Field codecs of the declarative box model (pipeline/mp4/fields.py) that mutation testing
(scripts/mutation.sh pipeline/mp4/fields.py) found untested: big-endian widths and signedness,
exact-fit bounds (a field ending on the last byte parses), the exact refusal texts, version
selection (v1 for every version >= 1, v0 for a box without a version), flag-bound members,
fixed-width tables against the payload size, the empty-entry cap and table writes.

Every expected byte string is written out by hand from the ISO/IEC 14496-12 field widths."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest

from pipeline.mp4 import fields
from pipeline.mp4.fields import (
    MAX_EMPTY_ENTRIES,
    BoxFormatError,
    Bytes,
    ByVersion,
    Field,
    FourCC,
    Int,
    Record,
    Table,
    fourcc,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
)


def box(**kw: object) -> SimpleNamespace:
    return SimpleNamespace(**kw)


# --- integers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("codec", "value", "raw"),
    [
        (u8, 0xAB, b"\xab"),
        (u16, 0x1234, b"\x12\x34"),
        (u32, 0x01020304, b"\x01\x02\x03\x04"),
        (u64, 0x0102030405060708, b"\x01\x02\x03\x04\x05\x06\x07\x08"),
        (i16, -2, b"\xff\xfe"),
        (i32, -512, b"\xff\xff\xfe\x00"),
        (i64, -1, b"\xff" * 8),
    ],
)
def test_integers_are_big_endian_with_their_width_and_sign(codec, value, raw) -> None:
    assert codec.write(value, None) == raw
    assert codec.read(b"\x00" + raw + b"\x99", 1, None) == (value, 1 + len(raw))


def test_integer_that_ends_on_the_last_byte_parses_and_one_more_byte_is_refused() -> None:
    assert u32.read(b"\x00\x00\x00\x00\x07", 1, None) == (7, 5)
    with pytest.raises(BoxFormatError) as err:
        u32.read(b"\x00\x00\x00\x00\x07", 2, None)
    assert str(err.value) == "truncated: need 4 bytes at offset 2"
    with pytest.raises(BoxFormatError) as err:
        u64.read(bytes(7), 0, None)
    assert str(err.value) == "truncated: need 8 bytes at offset 0"


def test_integer_out_of_range_is_a_struct_error_not_silent_truncation() -> None:
    with pytest.raises(struct.error):
        Int(">H").write(0x10000, None)


# --- bytes ---------------------------------------------------------------------------------
def test_fixed_bytes_read_exactly_their_size() -> None:
    value, end = Bytes(3).read(b"xxabcdef", 2, None)
    assert (value, end) == (b"abc", 5) and type(value) is bytes
    assert Bytes(3).read(b"xxabc", 2, None) == (b"abc", 5)  # ends on the last byte


def test_fixed_bytes_past_the_end_are_refused() -> None:
    with pytest.raises(BoxFormatError) as err:
        Bytes(4).read(b"xxabc", 2, None)
    assert str(err.value) == "truncated: need 4 bytes at offset 2"


def test_open_bytes_run_to_the_end_and_may_be_empty() -> None:
    value, end = Bytes().read(memoryview(b"xxabc"), 2, None)
    assert (value, end) == (b"abc", 5) and type(value) is bytes
    assert Bytes().read(b"xx", 2, None) == (b"", 2)
    assert Bytes(None).write(b"anything at all", None) == b"anything at all"


def test_fixed_bytes_write_checks_the_length() -> None:
    assert Bytes(2).write(bytearray(b"ok"), None) == b"ok"
    assert type(Bytes(2).write(bytearray(b"ok"), None)) is bytes
    with pytest.raises(BoxFormatError) as err:
        Bytes(2).write(b"abc", None)
    assert str(err.value) == "expected 2 bytes, got 3"


# --- four-character codes ------------------------------------------------------------------
def test_fourcc_reads_latin1_and_advances_four_bytes() -> None:
    assert fourcc.read(b"..ftypX", 2, None) == ("ftyp", 6)
    assert fourcc.read(b"\xa9too", 0, None) == ("\xa9too", 4)  # iTunes-style copyright 4CC
    assert FourCC().write("\xa9too", None) == b"\xa9too"
    assert fourcc.write("url ", None) == b"url "


def test_fourcc_refusals() -> None:
    with pytest.raises(BoxFormatError) as err:
        fourcc.read(b"..fty", 2, None)
    assert str(err.value) == "truncated four-character code"
    with pytest.raises(BoxFormatError) as err:
        fourcc.write("abc", None)
    assert str(err.value) == "four-character code must be 4 bytes: 'abc'"
    with pytest.raises(BoxFormatError) as err:
        fourcc.write("abcde", None)
    assert str(err.value) == "four-character code must be 4 bytes: 'abcde'"


# --- version-dependent widths --------------------------------------------------------------
def test_by_version_picks_v1_from_version_1_up_and_v0_without_a_version() -> None:
    codec = ByVersion(u32, u64)
    assert codec.pick(box(version=0)) is u32
    assert codec.pick(box(version=1)) is u64
    assert codec.pick(box(version=2)) is u64
    assert codec.pick(object()) is u32
    assert codec.write(5, box(version=0)) == b"\x00\x00\x00\x05"
    assert codec.write(5, box(version=1)) == b"\x00\x00\x00\x00\x00\x00\x00\x05"
    assert codec.read(bytes(7) + b"\x09", 0, box(version=1)) == (9, 8)
    assert codec.read(b"\x00\x00\x00\x09rest", 0, box(version=0)) == (9, 4)


# --- fields and records --------------------------------------------------------------------
def test_field_presence_follows_flag_and_predicate() -> None:
    assert Field("a", u8).present_on_read(box(), 0)
    assert not Field("a", u8, flag=0x04).present_on_read(box(), 0x03)
    assert Field("a", u8, flag=0x04).present_on_read(box(), 0x04)
    assert not Field("a", u8, when=lambda b: b.x == 1).present_on_read(box(x=0), 0)
    assert Field("a", u8, when=lambda b: b.x == 1).present_on_read(box(x=1), 0)
    assert Field("a", u8, when=lambda b: b.x).present_on_read(box(x=[1]), 0) is True
    # both conditions must hold
    both = Field("a", u8, flag=0x01, when=lambda b: b.x == 1)
    assert not both.present_on_read(box(x=1), 0) and not both.present_on_read(box(x=0), 1)
    assert both.present_on_read(box(x=1), 1)


def test_field_defaults() -> None:
    f = Field("a", u8)
    assert (f.flag, f.when, f.default, f.size_of) == (0, None, None, None)


RECORD = Record((Field("a", u16), Field("b", u8, flag=0x10), Field("c", u32, flag=0x20)))


def test_record_reads_and_writes_only_members_whose_flag_is_set() -> None:
    entry, end = RECORD.read(b"\x00\x01\x00\x00\x00\x09!", 0, box(), 0x20)
    assert (entry, end) == ({"a": 1, "c": 9}, 6)
    assert RECORD.write({"a": 1, "b": 7, "c": 9}, box(), 0x20) == b"\x00\x01\x00\x00\x00\x09"
    assert RECORD.write({"a": 1, "b": 7, "c": 9}, box(), 0x30) == b"\x00\x01\x07\x00\x00\x00\x09"


def test_record_layout_is_one_struct_for_fixed_width_members() -> None:
    names, st = RECORD.layout(box(), 0x30)
    assert names == ("a", "b", "c") and st.format == ">HBI" and st.size == 7
    names, st = RECORD.layout(box(), 0)
    assert names == ("a",) and st.format == ">H"
    rec = Record((Field("t", ByVersion(u32, i64)), Field("k", Bytes(16))))
    assert rec.layout(box(version=1), 0)[1].format == ">q16s"
    assert rec.layout(box(version=0), 0)[1].format == ">I16s"


def test_record_layout_without_a_struct_when_a_member_is_variable() -> None:
    rec = Record((Field("a", u8), Field("name", fourcc), Field("z", u8)))
    assert rec.layout(box(), 0) == (("a", "name"), None)
    assert Record((Field("rest", Bytes()),)).layout(box(), 0) == (("rest",), None)


def test_flags_used_come_from_the_first_entry_and_only_for_present_values() -> None:
    assert RECORD.flags_used([]) == 0
    assert RECORD.flags_used([{"a": 1, "b": 2}]) == 0x10
    assert RECORD.flags_used([{"a": 1, "b": 2, "c": 3}]) == 0x30
    assert RECORD.flags_used([{"a": 1, "b": None, "c": 3}]) == 0x20
    assert RECORD.flags_used([{"a": 1}, {"a": 1, "b": 2, "c": 3}]) == 0


# --- tables --------------------------------------------------------------------------------
PAIR = Record((Field("x", u16), Field("y", u16)))


def test_counted_fixed_table_reads_exactly_count_entries() -> None:
    buf = b"\x00\x01\x00\x02\x00\x03\x00\x04tail"
    rows, end = Table(PAIR, count="n").read(buf, 0, box(n=2, flags=0))
    assert rows == [{"x": 1, "y": 2}, {"x": 3, "y": 4}] and end == 8
    assert Table(PAIR, count="n").read(buf, 4, box(n=1)) == ([{"x": 3, "y": 4}], 8)
    assert Table(PAIR, count="n").read(buf[:8], 0, box(n=2)) == (rows, 8)  # exact fit


def test_counted_fixed_table_past_the_payload_is_refused_with_sizes() -> None:
    with pytest.raises(BoxFormatError) as err:
        Table(PAIR, count="n").read(b"\x00" * 11, 2, box(n=3))
    assert str(err.value) == "n=3 entries of 4 bytes exceed the payload (9 bytes left)"


def test_empty_entries_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    empty = Table(Record((Field("d", u32, flag=0x100),)), count="n")
    assert MAX_EMPTY_ENTRIES == 1 << 24
    monkeypatch.setattr(fields, "MAX_EMPTY_ENTRIES", 3)
    assert empty.read(b"ab", 1, box(n=3, flags=0)) == ([{}, {}, {}], 1)
    assert empty.read(b"ab", 1, box(n=0, flags=0)) == ([], 1)
    with pytest.raises(BoxFormatError) as err:
        empty.read(b"ab", 1, box(n=4, flags=0))
    assert str(err.value) == "n=4 is not a plausible entry count"
    # with the flag set the entry has a member again and the payload bounds the count
    assert empty.read(b"\x00\x00\x00\x05", 0, box(n=1, flags=0x100)) == ([{"d": 5}], 4)


def test_fixed_table_entries_are_independent_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    empty = Table(Record((Field("d", u32, flag=0x100),)), count="n")
    rows, _ = empty.read(b"", 0, box(n=2, flags=0))
    rows[0]["d"] = 1
    assert rows[1] == {}


def test_variable_table_reads_count_entries() -> None:
    table = Table(Record((Field("t", fourcc),)), count="n")
    assert table.read(b"abcdefgh!", 0, box(n=2)) == ([{"t": "abcd"}, {"t": "efgh"}], 8)
    assert table.read(b"abcd", 0, box(n=0)) == ([], 0)


def test_variable_table_count_above_payload_size_is_refused_early() -> None:
    table = Table(Record((Field("t", u8), Field("rest", Bytes(0)), Field("z", fourcc))), "n")
    # 4 entries of 5 bytes need 20 bytes: a count of len(buf) is still read (and truncates)
    with pytest.raises(BoxFormatError) as err:
        table.read(b"abcd", 0, box(n=5))
    assert str(err.value) == "n=5 exceeds the payload size"
    with pytest.raises(BoxFormatError) as err:
        table.read(b"abcd", 0, box(n=4))
    assert str(err.value) == "truncated four-character code"


def test_uncounted_table_runs_to_the_end_of_the_payload() -> None:
    table = Table(Record((Field("brand", fourcc),)))
    assert table.count is None
    assert table.read(b"xxisomavc1", 2, box()) == ([{"brand": "isom"}, {"brand": "avc1"}], 10)
    assert table.read(b"xx", 2, box()) == ([], 2)
    with pytest.raises(BoxFormatError) as err:
        table.read(b"isomav", 0, box())
    assert str(err.value) == "truncated four-character code"


def test_uncounted_table_uses_the_box_flags() -> None:
    table = Table(Record((Field("a", u8), Field("b", u8, flag=1))))
    assert table.read(b"\x01\x02\x03\x04", 0, box(flags=1)) == (
        [{"a": 1, "b": 2}, {"a": 3, "b": 4}],
        4,
    )
    assert table.read(b"\x01\x02", 0, box(flags=0)) == ([{"a": 1}, {"a": 2}], 2)
    assert table.read(b"\x01\x02", 0, box()) == ([{"a": 1}, {"a": 2}], 2)


def test_table_write_fixed_width_in_one_struct() -> None:
    rows = [{"x": 1, "y": 2}, {"x": 0xFFFF, "y": 0}]
    assert Table(PAIR, "n").write(rows, box(flags=0)) == b"\x00\x01\x00\x02\xff\xff\x00\x00"
    assert Table(PAIR, "n").write([], box()) == b""


def test_table_write_follows_flags() -> None:
    table = Table(RECORD, "n")
    rows = [{"a": 1, "b": 2, "c": 3}]
    assert table.write(rows, box(flags=0x10)) == b"\x00\x01\x02"
    assert table.write(rows, box()) == b"\x00\x01"


def test_table_write_out_of_range_names_the_members() -> None:
    with pytest.raises(BoxFormatError) as err:
        Table(PAIR, "n").write([{"x": 1, "y": 0x10000}], box())
    assert str(err.value).startswith("cannot write ('x', 'y'): ")
    assert "format requires 0 <= number <= 65535" in str(err.value)


def test_table_write_keeps_the_fixed_bytes_length_check() -> None:
    table = Table(Record((Field("kid", Bytes(2)),)), "n")
    assert table.write([{"kid": b"ab"}, {"kid": b"cd"}], box()) == b"abcd"
    with pytest.raises(BoxFormatError) as err:
        table.write([{"kid": b"abc"}], box())
    assert str(err.value) == "expected 2 bytes, got 3"


def test_table_write_of_variable_entries() -> None:
    table = Table(Record((Field("brand", fourcc), Field("n", u8))))
    rows = [{"brand": "isom", "n": 1}, {"brand": "dash", "n": 2}]
    assert table.write(rows, box()) == b"isom\x01dash\x02"


class Recording:
    """A codec that records the box it is given (the Codec protocol passes the box along)."""

    def __init__(self) -> None:
        self.boxes: list[object] = []

    def read(self, buf: bytes, off: int, box: object) -> tuple[int, int]:
        self.boxes.append(box)
        return buf[off], off + 1

    def write(self, value: int, box: object) -> bytes:
        self.boxes.append(box)
        return bytes([value])


def test_by_version_passes_the_box_to_the_chosen_codec() -> None:
    inner = Recording()
    b = box(version=1)
    codec = ByVersion(u8, inner)
    assert codec.write(7, b) == b"\x07" and codec.read(b"\x09", 0, b) == (9, 1)
    assert inner.boxes == [b, b]


def test_variable_record_members_see_the_box_version_and_predicates() -> None:
    rec = Record(
        (
            Field("t", ByVersion(u16, u32)),
            Field("x", u8, when=lambda b: b.extra),
            Field("name", fourcc),
        )
    )
    v1 = box(version=1, extra=True)
    raw = b"\x00\x00\x01\x00\x05isom"
    assert rec.read(raw, 0, v1, 0) == ({"t": 256, "x": 5, "name": "isom"}, 9)
    assert rec.write({"t": 256, "x": 5, "name": "isom"}, v1, 0) == raw
    v0 = box(version=0, extra=False)
    assert rec.read(b"\x01\x00isom", 0, v0, 0) == ({"t": 256, "name": "isom"}, 6)
    table = Table(rec, count="n")
    assert table.read(raw + raw, 0, box(n=2, version=1, extra=True)) == (
        [{"t": 256, "x": 5, "name": "isom"}] * 2,
        18,
    )
    assert table.write([{"t": 256, "x": 5, "name": "isom"}], v1) == raw
    assert Table(rec).write([{"t": 1, "x": 5, "name": "isom"}], v0) == b"\x00\x01isom"


def test_table_write_without_box_flags_writes_no_flag_bound_member() -> None:
    table = Table(Record((Field("a", u8), Field("b", u8, flag=1), Field("n", fourcc))))
    assert table.write([{"a": 1, "b": 2, "n": "abcd"}], box()) == b"\x01abcd"
    assert table.write([{"a": 1, "b": 2, "n": "abcd"}], box(flags=1)) == b"\x01\x02abcd"


def test_layout_and_tables_pass_the_box_and_flags_to_members() -> None:
    rec = Record((Field("a", u8), Field("b", u8, when=lambda b: b.x)))
    assert rec.layout(box(x=True), 0)[0] == ("a", "b")
    assert rec.layout(box(x=False), 0)[0] == ("a",)
    var = Record((Field("t", ByVersion(u8, u16)), Field("f", u8, flag=2), Field("n", fourcc)))
    v1 = box(version=1, flags=2, n=1)
    raw = b"\x00\x07\x09abcd"
    assert Table(var).read(raw, 0, v1) == ([{"t": 7, "f": 9, "n": "abcd"}], 7)
    assert Table(var, count="n").read(raw, 0, v1) == ([{"t": 7, "f": 9, "n": "abcd"}], 7)
    assert Table(var, count="n").write([{"t": 7, "f": 9, "n": "abcd"}], v1) == raw
