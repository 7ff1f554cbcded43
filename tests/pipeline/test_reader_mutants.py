"""Streaming reader (pipeline/mp4/reader.py) edges that mutation testing
(scripts/mutation.sh pipeline/mp4/reader.py) found untested: top-level headers by offset
(32-bit, 64-bit largesize, size 0 = to the end of the file), the exact refusals for truncated
files, the parse-size cap, where read_init stops, and how sample timing, sizes, flags and file
offsets are resolved from trun, tfhd, tfdt and trex defaults (ISO/IEC 14496-12 8.8.7-8.8.8).

Files are assembled here from hand-packed bytes; every expected offset is worked out by hand."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from pipeline.mp4.base import Box
from pipeline.mp4.boxes import Mfhd, Mvhd, Tfdt, Tfhd, Trex, Trun
from pipeline.mp4.fields import BoxFormatError
from pipeline.mp4.reader import (
    MAX_HEADER_BOX,
    Sample,
    TopBox,
    fragment_samples,
    iter_samples,
    iter_top_level,
    read_box,
    read_init,
    trex_defaults,
)


def plain(box_type: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), box_type) + body


def full(box_type: bytes, version: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">I4sI", 12 + len(body), box_type, version << 24 | flags) + body


def tops(data: bytes, path: str = "") -> list[tuple[str, int, int, int]]:
    return [
        (t.type, t.offset, t.header_size, t.size) for t in iter_top_level(io.BytesIO(data), path)
    ]


# --- top-level walk ------------------------------------------------------------------------
def test_top_level_offsets_and_sizes() -> None:
    data = (
        plain(b"ftyp", b"isom")
        + struct.pack(">I4sQ", 1, b"mdat", 20)
        + b"abcd"
        + plain(b"free", b"")
    )
    assert tops(data) == [("ftyp", 0, 8, 12), ("mdat", 12, 16, 20), ("free", 32, 8, 8)]
    assert tops(b"") == []


def test_size_zero_runs_to_the_end_of_the_file() -> None:
    data = plain(b"free", b"ab") + struct.pack(">I4s", 0, b"mdat") + b"xyz"
    assert tops(data) == [("free", 0, 8, 10), ("mdat", 10, 8, 11)]


def test_box_that_ends_exactly_at_the_end_of_the_file() -> None:
    assert tops(plain(b"free", b"abc")) == [("free", 0, 8, 11)]
    assert tops(struct.pack(">I4sQ", 1, b"free", 16)) == [("free", 0, 16, 16)]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (plain(b"free", b"") + b"\x00\x00\x00", "f.mp4: truncated box header at offset 8"),
        (struct.pack(">I4s", 1, b"mdat") + bytes(7), "f.mp4: truncated box header at offset 0"),
        (
            plain(b"free", b"") + struct.pack(">I4s", 20, b"mdat") + b"abc",
            "f.mp4: box 'mdat' at offset 8 claims 20 bytes, file has 11 left (truncated?)",
        ),
        (
            struct.pack(">I4s", 7, b"free"),
            "f.mp4: box 'free' at offset 0 claims 7 bytes, file has 8 left (truncated?)",
        ),
        (
            struct.pack(">I4sQ", 1, b"mdat", 15) + b"x",
            "f.mp4: box 'mdat' at offset 0 claims 15 bytes, file has 17 left (truncated?)",
        ),
    ],
)
def test_top_level_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(BoxFormatError) as err:
        tops(data, "f.mp4")
    assert str(err.value) == reason


def test_refusal_without_a_path_starts_with_an_empty_prefix() -> None:
    with pytest.raises(BoxFormatError) as err:
        tops(b"\x00\x00")
    assert str(err.value) == ": truncated box header at offset 0"


def test_top_level_walk_is_lazy() -> None:
    walk = iter_top_level(io.BytesIO(plain(b"free", b"") + b"\x00"), "p")
    assert next(walk) == TopBox("free", 0, 8, 8)
    with pytest.raises(BoxFormatError, match="offset 8"):
        next(walk)


# --- reading one box -----------------------------------------------------------------------
def test_read_box_parses_at_the_offset() -> None:
    data = plain(b"free", b"zz") + full(b"mfhd", 0, 0, struct.pack(">I", 6))
    f = io.BytesIO(data)
    box = read_box(f, TopBox("mfhd", 10, 8, 16))
    assert isinstance(box, Mfhd) and box.sequence_number == 6


def test_read_box_size_cap() -> None:
    assert MAX_HEADER_BOX == 64 * 1024 * 1024
    f = io.BytesIO(plain(b"free", b""))
    assert read_box(f, TopBox("free", 0, 8, MAX_HEADER_BOX)).box_type == "free"
    with pytest.raises(BoxFormatError) as err:
        read_box(f, TopBox("moov", 0, 8, MAX_HEADER_BOX + 1))
    assert str(err.value) == f"box 'moov' of {MAX_HEADER_BOX + 1} bytes is too large to parse"


# --- init segment --------------------------------------------------------------------------
def moov(trex: Box | None = None) -> bytes:
    mvex = [Box("mvex", children=[trex])] if trex is not None else []
    return Box("moov", children=[Mvhd(timescale=1000), *mvex]).to_bytes()


def test_read_init_returns_ftyp_and_moov(tmp_path: Path) -> None:
    path = tmp_path / "i.mp4"
    path.write_bytes(plain(b"ftyp", b"cmfc" + bytes(4)) + plain(b"free", b"") + moov())
    ftyp, mv = read_init(path)
    assert ftyp.major_brand == "cmfc" and mv.box_type == "moov"
    assert mv.find("mvhd").timescale == 1000


def test_read_init_without_ftyp(tmp_path: Path) -> None:
    path = tmp_path / "i.mp4"
    path.write_bytes(moov())
    ftyp, mv = read_init(path)
    assert ftyp is None and mv.box_type == "moov"


def test_read_init_stops_at_the_first_fragment_after_moov(tmp_path: Path) -> None:
    path = tmp_path / "i.mp4"
    # a later (bogus) moov and a truncated tail are never looked at
    path.write_bytes(moov() + plain(b"mdat", b"x") + plain(b"moov", b"") + b"\x00\x00\x00")
    _, mv = read_init(path)
    assert len(mv.children) == 1
    path.write_bytes(moov() + plain(b"moof", b"") + b"\x00\x00\x00")
    assert read_init(path)[1].find("mvhd") is not None


def test_read_init_reads_past_a_fragment_before_moov(tmp_path: Path) -> None:
    path = tmp_path / "i.mp4"
    path.write_bytes(plain(b"mdat", b"x") + plain(b"moof", b"") + moov())
    assert read_init(path)[1].find("mvhd") is not None


def test_read_init_without_moov(tmp_path: Path) -> None:
    path = tmp_path / "seg.m4s"
    path.write_bytes(plain(b"styp", b"msdh" + bytes(4)) + plain(b"moof", b""))
    with pytest.raises(BoxFormatError) as err:
        read_init(path)
    assert str(err.value) == f"{path}: no 'moov' box (not an MP4 initialisation segment)"


def test_trex_defaults() -> None:
    assert trex_defaults(Box("moov")) == {"duration": 0, "size": 0, "flags": 0}
    trex = Trex(default_sample_duration=1024, default_sample_size=700, default_sample_flags=9)
    mv = Box("moov", children=[Box("mvex", children=[trex])])
    assert trex_defaults(mv) == {"duration": 1024, "size": 700, "flags": 9}


# --- samples of a fragment -----------------------------------------------------------------
DEFAULTS = {"duration": 1000, "size": 10, "flags": 0x01010000}


def moof(*trafs: Box) -> Box:
    return Box("moof", children=[Mfhd(sequence_number=1), *trafs])


def traf(tfhd: Box | None, *rest: Box) -> Box:
    return Box("traf", children=[c for c in (tfhd, *rest) if c is not None])


def rows(samples: list[Sample]) -> list[tuple[int, int, int, int, int, int]]:
    return [
        (s.decode_time, s.duration, s.size, s.flags, s.composition_offset, s.file_offset)
        for s in samples
    ]


def test_samples_from_explicit_per_sample_fields() -> None:
    trun = Trun(
        data_offset=100,
        samples=[
            {"duration": 512, "size": 7, "flags": 0x02000000, "composition_offset": 1024},
            {"duration": 256, "size": 3, "flags": 0x01010000, "composition_offset": 0},
        ],
    )
    m = moof(traf(Tfhd(), Tfdt(base_media_decode_time=90000), trun))
    assert rows(fragment_samples(m, 5000, DEFAULTS)) == [
        (90000, 512, 7, 0x02000000, 1024, 5100),
        (90512, 256, 3, 0x01010000, 0, 5107),
    ]


def test_samples_from_trex_defaults_without_tfdt_or_data_offset() -> None:
    m = moof(traf(Tfhd(), Trun(samples=[{}, {}])))
    assert rows(fragment_samples(m, 40, DEFAULTS)) == [
        (0, 1000, 10, 0x01010000, 0, 40),
        (1000, 1000, 10, 0x01010000, 0, 50),
    ]


def test_tfhd_defaults_override_trex_and_explicit_base_offset_wins() -> None:
    tfhd = Tfhd(
        base_data_offset=7000,
        default_sample_duration=20,
        default_sample_size=30,
        default_sample_flags=0,
    )
    m = moof(traf(tfhd, Trun(data_offset=8, samples=[{}, {"size": 5}])))
    assert rows(fragment_samples(m, 40, DEFAULTS)) == [
        (0, 20, 30, 0, 0, 7008),
        (20, 20, 5, 0, 0, 7038),
    ]


def test_first_sample_flags_apply_to_the_first_sample_only() -> None:
    trun = Trun(first_sample_flags=0x02000000, samples=[{}, {}, {"flags": 5}])
    m = moof(traf(Tfhd(default_sample_flags=0x01010000), trun))
    assert [s.flags for s in fragment_samples(m, 0, DEFAULTS)] == [0x02000000, 0x01010000, 5]
    trun = Trun(first_sample_flags=0x02000000, samples=[{"flags": 7}, {}])
    m = moof(traf(Tfhd(), trun))
    assert [s.flags for s in fragment_samples(m, 0, DEFAULTS)] == [7, 0x01010000]


def test_explicit_zero_per_sample_values_are_kept() -> None:
    trun = Trun(samples=[{"duration": 0, "size": 0, "flags": 0, "composition_offset": 0}])
    m = moof(traf(Tfhd(), trun))
    assert rows(fragment_samples(m, 0, DEFAULTS)) == [(0, 0, 0, 0, 0, 0)]


def test_several_truns_continue_the_timeline_and_restart_at_their_offset() -> None:
    t1 = Trun(data_offset=100, samples=[{"size": 4}, {"size": 6}])
    t2 = Trun(data_offset=300, samples=[{"size": 1}])
    m = moof(traf(Tfhd(), Tfdt(base_media_decode_time=5), t1, t2))
    assert [(s.decode_time, s.file_offset) for s in fragment_samples(m, 1000, DEFAULTS)] == [
        (5, 1100),
        (1005, 1104),
        (2005, 1300),
    ]


def test_every_traf_is_read() -> None:
    a = traf(Tfhd(), Tfdt(base_media_decode_time=0), Trun(samples=[{}]))
    b = traf(Tfhd(), Tfdt(base_media_decode_time=50), Trun(data_offset=10, samples=[{}]))
    samples = fragment_samples(moof(a, b), 0, DEFAULTS)
    assert [(s.decode_time, s.file_offset) for s in samples] == [(0, 0), (50, 10)]


def test_traf_without_tfhd_is_refused() -> None:
    with pytest.raises(BoxFormatError) as err:
        fragment_samples(moof(traf(None, Trun(samples=[{}]))), 0, DEFAULTS)
    assert str(err.value) == "traf without tfhd"


def test_presentation_time_adds_the_composition_offset() -> None:
    assert Sample(100, 10, 1, 0, -30, 0).presentation_time == 70
    assert Sample(100, 10, 1, 0, 0, 0).presentation_time == 100


# --- whole files -----------------------------------------------------------------------------
def test_iter_samples_over_two_fragments(tmp_path: Path) -> None:
    trex = Trex(default_sample_duration=1024, default_sample_size=0, default_sample_flags=0)
    init = plain(b"ftyp", b"cmfc" + bytes(4)) + moov(trex)

    def fragment(seq: int, dts: int, sizes: list[int]) -> bytes:
        trun = Trun(data_offset=0, samples=[{"size": n} for n in sizes])
        m = Box(
            "moof",
            children=[
                Mfhd(sequence_number=seq),
                traf(Tfhd(), Tfdt(base_media_decode_time=dts), trun),
            ],
        )
        trun.data_offset = m.size + 8
        return m.to_bytes() + plain(b"mdat", bytes(sum(sizes)))

    f1 = fragment(1, 0, [3, 4])
    f2 = fragment(2, 2048, [5])
    path = tmp_path / "t.mp4"
    path.write_bytes(init + f1 + f2)
    moof1 = len(init)
    mdat1 = moof1 + len(f1) - 7
    mdat2 = moof1 + len(f1) + len(f2) - 5
    got = [(s.decode_time, s.duration, s.size, s.file_offset) for s in iter_samples(path)]
    assert got == [(0, 1024, 3, mdat1), (1024, 1024, 4, mdat1 + 3), (2048, 1024, 5, mdat2)]


def test_truncated_files_are_refused_with_their_path(tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(plain(b"ftyp", b"cmfc" + bytes(4)) + b"\x00\x00\x01\x00mo")
    with pytest.raises(BoxFormatError) as err:
        read_init(path)
    assert str(err.value) == f"{path}: truncated box header at offset 16"
    trun = Trun(samples=[{"size": 1}])
    m = Box("moof", children=[Mfhd(), traf(Tfhd(), trun)]).to_bytes()
    path.write_bytes(moov() + m + plain(b"mdat", b"z") + struct.pack(">I4s", 99, b"moof"))
    with pytest.raises(BoxFormatError) as err:
        list(iter_samples(path))
    at = len(moov()) + len(m) + 9
    assert str(err.value) == (
        f"{path}: box 'moof' at offset {at} claims 99 bytes, file has 8 left (truncated?)"
    )


def test_default_path_prefix_is_empty() -> None:
    with pytest.raises(BoxFormatError) as err:
        list(iter_top_level(io.BytesIO(b"\x00\x00")))
    assert str(err.value) == ": truncated box header at offset 0"


def test_read_box_reads_only_that_box() -> None:
    """Media data after a moof is never pulled into memory with it."""
    moof = full(b"mfhd", 0, 0, struct.pack(">I", 2))
    f = io.BytesIO(moof + plain(b"mdat", bytes(1000)))
    assert read_box(f, TopBox("mfhd", 0, 8, len(moof))).sequence_number == 2
    assert f.tell() == len(moof)


class SpyFile(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int | None] = []

    def read(self, size: int | None = -1) -> bytes:
        self.sizes.append(size)
        return super().read(size)


def test_top_level_walk_reads_at_most_a_largesize_header_per_box() -> None:
    f = SpyFile(plain(b"free", b"") + plain(b"mdat", bytes(5000)) + plain(b"free", b"x"))
    assert [t.type for t in iter_top_level(f)] == ["free", "mdat", "free"]
    assert f.sizes and all(s is not None and 0 <= s <= 16 for s in f.sizes)


def test_top_level_sizes_are_unsigned() -> None:
    with pytest.raises(BoxFormatError) as err:
        tops(struct.pack(">I4s", 0x80000000, b"mdat"), "f")
    assert str(err.value) == (
        "f: box 'mdat' at offset 0 claims 2147483648 bytes, file has 8 left (truncated?)"
    )
    with pytest.raises(BoxFormatError) as err:
        tops(struct.pack(">I4sQ", 1, b"mdat", 2**64 - 1), "f")
    assert str(err.value) == (
        f"f: box 'mdat' at offset 0 claims {2**64 - 1} bytes, file has 16 left (truncated?)"
    )
