"""CMAF fragment layout (pipeline/mp4/fragment.py) edges that mutation testing
(scripts/mutation.sh pipeline/mp4/fragment.py) found untested: the exact bytes of the CMAF
header/segment type boxes and of a video and an audio moof (ISO/IEC 23000-19 7.3: tfhd with
default-base-is-moof, tfdt v1, trun v1 with signed offsets for video, tfhd default sync flags
for audio), trun.data_offset for a 32-bit and a 64-bit mdat header, and saio pointing at the
first senc entry of each traf (ISO/IEC 23001-7 7.2). Sizes are added up by hand."""

from __future__ import annotations

import struct

from pipeline.mp4.base import Box, RawBox, parse_box, parse_boxes
from pipeline.mp4.boxes import Saio, Saiz, Senc
from pipeline.mp4.fragment import (
    CMAF_HEADER_BRANDS,
    CMAF_SEGMENT_BRANDS,
    TRACK_ID,
    Fragment,
    OutSample,
    build_moof,
    ftyp_cmaf,
    layout_fragment,
    point_saio_at_senc,
    styp_cmaf,
)


def plain(box_type: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), box_type) + body


def full(box_type: bytes, version: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">I4sI", 12 + len(body), box_type, version << 24 | flags) + body


def test_cmaf_header_and_segment_type_boxes() -> None:
    assert (CMAF_HEADER_BRANDS, CMAF_SEGMENT_BRANDS, TRACK_ID) == (
        ("cmfc", "iso6", "mp41", "dash"),
        ("msdh", "msix", "cmfs"),
        1,
    )
    assert ftyp_cmaf().to_bytes() == plain(b"ftyp", b"cmfc" + bytes(4) + b"cmfciso6mp41dash")
    assert styp_cmaf().to_bytes() == plain(b"styp", b"msdh" + bytes(4) + b"msdhmsixcmfs")


def test_out_sample_and_fragment_defaults() -> None:
    assert OutSample(1, 2, True).composition_offset == 0
    assert Fragment(b"", 0).sample_sizes == []
    assert Fragment(b"", 0).sample_sizes is not Fragment(b"", 0).sample_sizes


def test_video_moof_bytes() -> None:
    samples = [OutSample(512, 100, True), OutSample(512, 50, False, -1024)]
    moof = build_moof(3, 9000, samples, video=True)
    tfhd = full(b"tfhd", 0, 0x020000, struct.pack(">I", 1))
    tfdt = full(b"tfdt", 1, 0, struct.pack(">Q", 9000))
    trun = full(
        b"trun",
        1,
        0xF01,
        struct.pack(">Ii", 2, 0)
        + struct.pack(">IIIi", 512, 100, 0x02000000, 0)
        + struct.pack(">IIIi", 512, 50, 0x01010000, -1024),
    )
    expected = plain(
        b"moof", full(b"mfhd", 0, 0, struct.pack(">I", 3)) + plain(b"traf", tfhd + tfdt + trun)
    )
    assert moof.to_bytes() == expected


def test_audio_moof_bytes_use_tfhd_sync_flags() -> None:
    moof = build_moof(
        1, 1 << 33, [OutSample(1024, 300, True), OutSample(1024, 200, False)], video=False
    )
    tfhd = full(b"tfhd", 0, 0x020020, struct.pack(">II", 1, 0x02000000))
    tfdt = full(b"tfdt", 1, 0, struct.pack(">Q", 1 << 33))
    trun = full(b"trun", 0, 0x301, struct.pack(">IiIIII", 2, 0, 1024, 300, 1024, 200))
    expected = plain(
        b"moof", full(b"mfhd", 0, 0, struct.pack(">I", 1)) + plain(b"traf", tfhd + tfdt + trun)
    )
    assert moof.to_bytes() == expected


def test_traf_extra_boxes_follow_the_trun() -> None:
    extra = RawBox("free", b"x")
    moof = build_moof(1, 0, [OutSample(1, 1, True)], video=False, traf_extra=[extra])
    assert [c.box_type for c in moof.find("traf").children] == ["tfhd", "tfdt", "trun", "free"]


def test_layout_points_data_offset_at_the_first_payload_byte() -> None:
    moof = build_moof(1, 0, [OutSample(10, 3, True), OutSample(10, 2, False)], video=True)
    frag = layout_fragment(moof, b"abcde")
    moof_size = 8 + 16 + 8 + 16 + 20 + (12 + 8 + 2 * 16)
    assert frag.moof_size == moof_size and frag.sample_sizes == [3, 2]
    assert frag.data == moof.to_bytes() + plain(b"mdat", b"abcde")
    back, end = parse_box(frag.data)
    trun = back.find("traf/trun")
    assert trun.data_offset == moof_size + 8
    assert frag.data[trun.data_offset :] == b"abcde"


class LargePayload(bytes):
    """A payload that reports a large length: the mdat header then needs a 64-bit size."""

    def __len__(self) -> int:
        return 0xFFFFFFF8


def test_layout_with_a_64_bit_mdat_header() -> None:
    moof = build_moof(1, 0, [OutSample(10, 4, True)], video=False)
    frag = layout_fragment(moof, LargePayload(b"data"))
    trun = moof.find("traf/trun")
    assert trun.data_offset == frag.moof_size + 16
    mdat = frag.data[frag.moof_size :]
    assert mdat == struct.pack(">I4sQ", 1, b"mdat", 0xFFFFFFF8 + 16) + b"data"


def test_layout_with_the_largest_32_bit_mdat_header() -> None:
    class Edge(bytes):
        def __len__(self) -> int:
            return 0xFFFFFFF7

    moof = build_moof(1, 0, [OutSample(10, 4, True)], video=False)
    frag = layout_fragment(moof, Edge(b"data"))
    assert moof.find("traf/trun").data_offset == frag.moof_size + 8
    assert frag.data[frag.moof_size :] == struct.pack(">I4s", 0xFFFFFFFF, b"mdat") + b"data"


def encrypted_moof() -> tuple[Box, Senc]:
    senc = Senc(flags=2, sample_count=1, entries=bytes(8) + b"\x00\x01" + bytes(6))
    saiz = Saiz(default_sample_info_size=16, sample_count=1)
    saio = Saio(offsets=[{"offset": 0}])
    moof = build_moof(1, 0, [OutSample(10, 4, True)], video=True, traf_extra=[saiz, saio, senc])
    return moof, senc


def test_saio_points_at_the_first_senc_entry() -> None:
    moof, senc = encrypted_moof()
    point_saio_at_senc(moof)
    # moof 8 + mfhd 16 + traf 8 + tfhd 16 + tfdt 20 + trun 36 + saiz 17 + saio 20 = senc at 141,
    # + 8 header + 4 version/flags + 4 sample_count = 157
    assert moof.find("traf/saio").offsets == [{"offset": 157}]
    data = moof.to_bytes()
    assert data[141:149] == struct.pack(">I4s", senc.size, b"senc")
    assert data[157:173] == senc.entries


def test_layout_fragment_points_saio_before_sizing() -> None:
    moof, _ = encrypted_moof()
    frag = layout_fragment(moof, b"abcd")
    back = next(parse_boxes(frag.data))
    assert back.find("traf/saio").offsets == [{"offset": 157}]


def test_saio_of_a_second_traf_counts_the_first() -> None:
    moof, _ = encrypted_moof()
    first = moof.find("traf")
    second_senc = Senc(sample_count=0)
    second_saio = Saio(offsets=[{"offset": 0}])
    second = Box("traf", children=[second_saio, second_senc])
    moof.children.append(second)
    point_saio_at_senc(moof)
    # second traf starts after moof header, mfhd and the first traf; its saio is 20 bytes
    start = 8 + 16 + first.size
    assert second_saio.offsets == [{"offset": start + 8 + 20 + 16}]
    assert first.find("saio").offsets == [{"offset": 157}]


def test_saio_untouched_without_senc_or_outside_a_traf() -> None:
    lone = Saio(offsets=[{"offset": 5}])
    traf = Box("traf", children=[lone])
    other_saio = Saio(offsets=[{"offset": 6}])
    other = Box("skip", children=[other_saio, Senc()])
    moof = Box("moof", children=[other, traf])
    point_saio_at_senc(moof)
    assert lone.offsets == [{"offset": 5}] and other_saio.offsets == [{"offset": 6}]
