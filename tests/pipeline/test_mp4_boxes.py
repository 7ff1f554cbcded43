"""The declarative box model against real FFmpeg output and hand-computed bytes.

Round trips are byte-exact over every top-level box of real fragmented MP4 files (H.264 with
B-frames, HEVC, AAC, AC-3, E-AC-3). Known answers for flag derivation are built here with
`struct.pack`, not with the code under test. Malformed input must raise `BoxFormatError`.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.mp4.base import RawBox, header, parse_box, parse_boxes
from pipeline.mp4.boxes import Mfhd, Pssh, Stsz, Tfdt, Tfhd, Trun
from pipeline.mp4.codecs import aac_object_type, codec_string
from pipeline.mp4.fields import BoxFormatError
from pipeline.mp4.reader import iter_samples, iter_top_level, read_init
from pipeline.package.packager import package_track

FRAG = "+frag_keyframe+empty_moov+default_base_moof"
FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
SURROUND = "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"

# name -> FFmpeg arguments (input + encoder + muxer); the output path is appended.
CLIPS: dict[str, list[str]] = {
    # B-frames with negative composition offsets (trun v1), like our transcoder writes.
    "h264": [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1",
        "-c:v", "libx264", "-preset", "superfast", "-bf", "2", "-g", "15", "-pix_fmt", "yuv420p",
        "-f", "mp4", "-movflags", FRAG + "+negative_cts_offsets",
    ],
    # B-frames with an edit list and positive offsets (trun v0), FFmpeg's default.
    "h264_edts": [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1",
        "-c:v", "libx264", "-preset", "superfast", "-bf", "2", "-g", "15", "-pix_fmt", "yuv420p",
        "-f", "mp4", "-movflags", FRAG,
    ],
    "h264_720p_high": [
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=0.2",
        "-c:v", "libx264", "-preset", "superfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-f", "mp4", "-movflags", FRAG,
    ],
    "hevc": [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1",
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-tag:v", "hvc1",
        "-x265-params", "log-level=error:keyint=15:bframes=2:level-idc=3.1",
        "-f", "mp4", "-movflags", FRAG + "+negative_cts_offsets",
    ],
    "aac": [
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1",
        "-c:a", "aac", "-profile:a", "aac_low", "-b:a", "96k", "-ac", "2",
        "-f", "mp4", "-movflags", FRAG, "-frag_duration", "300000",
    ],
    # FFmpeg cannot write an (E-)AC-3 moov before the first packet: delay_moov is required.
    # 1 s fragments: ~31 samples per trun, all sizes and durations from tfhd defaults.
    "eac3": [
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2", "-af", SURROUND,
        "-c:a", "eac3", "-b:a", "384k",
        "-f", "mp4", "-movflags", FRAG + "+delay_moov", "-frag_duration", "1000000",
    ],
    "ac3": [
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1", "-af", SURROUND,
        "-c:a", "ac3", "-b:a", "384k",
        "-f", "mp4", "-movflags", FRAG + "+delay_moov", "-frag_duration", "300000",
    ],
    "ac3_stereo": [
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1", "-ac", "2",
        "-c:a", "ac3", "-b:a", "192k",
        "-f", "mp4", "-movflags", FRAG + "+delay_moov", "-frag_duration", "300000",
    ],
}  # fmt: skip

ROUND_TRIP = ["h264", "h264_edts", "hevc", "aac", "eac3", "ac3"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("mp4clips")
    paths = {}
    for name, args in CLIPS.items():
        path = out / f"{name}.mp4"
        proc = subprocess.run([*FFMPEG, *args, str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
        paths[name] = path
    return paths


def ffprobe_stream(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)["streams"][0]


def walk(box):
    yield box
    for child in box.children:
        yield from walk(child)


# --- byte-exact round trips of real files ------------------------------------------------
@pytest.mark.parametrize("name", ROUND_TRIP)
def test_every_top_level_box_round_trips_byte_exact(clips: dict[str, Path], name: str) -> None:
    buf = clips[name].read_bytes()
    off, seen = 0, []
    while off < len(buf):
        box, end = parse_box(buf, off)
        assert box.to_bytes() == buf[off:end], f"{name}: {box.box_type} at {off} differs"
        seen.append(box.box_type)
        off = end
    assert off == len(buf)
    assert seen[:2] == ["ftyp", "moov"]
    assert seen.count("moof") >= 2 and seen.count("moof") == seen.count("mdat")


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_round_trip_goes_through_the_descriptions(clips: dict[str, Path], name: str) -> None:
    """The boxes that matter are interpreted (not kept raw), and their flags are re-derived:
    clearing every flag bit bound to a field still writes the original bytes."""
    buf = clips[name].read_bytes()
    boxes = list(parse_boxes(buf))
    moov = next(b for b in boxes if b.box_type == "moov")
    for path in ("mvhd", "trak/tkhd", "trak/mdia/mdhd", "trak/mdia/hdlr", "mvex/trex",
                 "trak/mdia/minf/stbl/stsd", "trak/mdia/minf/stbl/stts"):  # fmt: skip
        found = moov.find(path)
        assert found is not None and not isinstance(found, RawBox), path
    entry = moov.find("trak/mdia/minf/stbl/stsd").children[0]
    assert not isinstance(entry, RawBox)
    truns = 0
    for moof in (b for b in boxes if b.box_type == "moof"):
        original = moof.to_bytes()
        for box in walk(moof):
            assert not isinstance(box, RawBox), box.box_type
            if box.box_type == "trun":
                box.flags = 0  # every trun flag is bound to a field
                truns += 1
            elif box.box_type == "tfhd":
                box.flags &= 0x030000  # keep duration-is-empty / default-base-is-moof
        assert moof.to_bytes() == original
    assert truns >= 2


def test_real_trun_v1_has_negative_composition_offsets(clips: dict[str, Path]) -> None:
    moof = next(b for b in parse_boxes(clips["h264"].read_bytes()) if b.box_type == "moof")
    trun = moof.find("traf/trun")
    assert trun.version == 1
    assert min(s["composition_offset"] for s in trun.samples) < 0


# --- known answers built by hand ---------------------------------------------------------
def full_box(box_type: bytes, version: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">I4sI", 12 + len(body), box_type, version << 24 | flags) + body


def test_trun_v1_flags_derived_from_present_fields() -> None:
    rows = [
        {"duration": 512, "size": 7000, "flags": 0x02000000, "composition_offset": 0},
        {"duration": 512, "size": 900, "flags": 0x01010000, "composition_offset": 1024},
        {"duration": 512, "size": 300, "flags": 0x01010000, "composition_offset": -512},
    ]
    trun = Trun(version=1, flags=0, data_offset=0x7B, samples=rows)
    body = struct.pack(">Ii", 3, 0x7B) + b"".join(
        struct.pack(">IIIi", r["duration"], r["size"], r["flags"], r["composition_offset"])
        for r in rows
    )
    expected = full_box(b"trun", 1, 0x000F01, body)
    assert trun.to_bytes() == expected
    back, end = parse_box(expected)
    assert end == len(expected) and isinstance(back, Trun)
    assert (back.version, back.flags, back.sample_count) == (1, 0xF01, 3)
    assert back.data_offset == 0x7B and back.first_sample_flags is None
    assert back.samples == rows


def test_trun_v0_sizes_and_first_sample_flags_only() -> None:
    # Stale flag bits for absent fields must not be written.
    trun = Trun(flags=0xF05, first_sample_flags=0x02000000, samples=[{"size": 5}, {"size": 6}])
    expected = full_box(b"trun", 0, 0x204, struct.pack(">IIII", 2, 0x02000000, 5, 6))
    assert trun.to_bytes() == expected
    back, _ = parse_box(expected)
    assert back.data_offset is None and back.first_sample_flags == 0x02000000
    assert back.samples == [{"size": 5}, {"size": 6}]


def test_trun_v0_composition_offset_is_unsigned() -> None:
    raw = full_box(b"trun", 0, 0x800, struct.pack(">II", 1, 0xFFFFFE00))
    assert parse_box(raw)[0].samples == [{"composition_offset": 0xFFFFFE00}]
    raw1 = full_box(b"trun", 1, 0x800, struct.pack(">II", 1, 0xFFFFFE00))
    assert parse_box(raw1)[0].samples == [{"composition_offset": -512}]


def test_trun_without_per_sample_fields_keeps_its_count() -> None:
    """All samples from tfhd defaults (FFmpeg's E-AC-3 output): entries take no bytes."""
    raw = full_box(b"trun", 0, 0x001, struct.pack(">Ii", 32, 460))
    trun, _ = parse_box(raw)
    assert trun.sample_count == 32 and trun.samples == [{}] * 32
    assert trun.to_bytes() == raw


def test_tfhd_flags_derived() -> None:
    tfhd = Tfhd(
        track_id=1,
        flags=0x020000 | 0x3B,
        default_sample_duration=1024,
        default_sample_flags=0x02000000,
    )
    expected = full_box(b"tfhd", 0, 0x020028, struct.pack(">III", 1, 1024, 0x02000000))
    assert tfhd.to_bytes() == expected
    back, _ = parse_box(expected)
    assert back.default_sample_duration == 1024 and back.default_sample_size is None
    assert back.flags == 0x020028

    tfhd = Tfhd(
        track_id=2, base_data_offset=1 << 40, sample_description_index=1, default_sample_size=188
    )
    expected = full_box(b"tfhd", 0, 0x000013, struct.pack(">IQII", 2, 1 << 40, 1, 188))
    assert tfhd.to_bytes() == expected
    back, _ = parse_box(expected)
    assert (back.base_data_offset, back.sample_description_index) == (1 << 40, 1)
    assert back.default_sample_flags is None


def test_tfdt_versions() -> None:
    assert Tfdt(version=0, base_media_decode_time=90000).to_bytes() == full_box(
        b"tfdt", 0, 0, struct.pack(">I", 90000)
    )
    big = (1 << 33) + 5
    v1 = full_box(b"tfdt", 1, 0, struct.pack(">Q", big))
    assert Tfdt(version=1, base_media_decode_time=big).to_bytes() == v1
    back, _ = parse_box(v1)
    assert (back.version, back.base_media_decode_time) == (1, big)
    # A v1 tfdt carrying only 4 bytes is truncated.
    with pytest.raises(BoxFormatError) as err:
        parse_box(full_box(b"tfdt", 1, 0, struct.pack(">I", 5)))
    assert str(err.value) == "tfdt.base_media_decode_time: truncated: need 8 bytes at offset 4"


def test_optional_tables_follow_their_condition() -> None:
    # stsz with a constant size has no table; its count is kept as given.
    raw = full_box(b"stsz", 0, 0, struct.pack(">II", 100, 3))
    stsz, _ = parse_box(raw)
    assert (stsz.sample_size, stsz.sample_count, stsz.entries) == (100, 3, None)
    assert stsz.to_bytes() == raw
    assert Stsz(sample_size=100, sample_count=3).to_bytes() == raw
    # pssh v0 has neither KID count nor KIDs.
    system = bytes(range(16))
    raw = full_box(b"pssh", 0, 0, system + struct.pack(">I", 3) + b"abc")
    assert Pssh(system_id=system, data=b"abc").to_bytes() == raw
    back, _ = parse_box(raw)
    assert back.data == b"abc" and back.kids is None
    kid = bytes(range(16, 32))
    raw1 = full_box(b"pssh", 1, 0, system + struct.pack(">I", 1) + kid + struct.pack(">I", 0))
    assert Pssh(version=1, system_id=system, kids=[{"kid": kid}], data=b"").to_bytes() == raw1
    assert parse_box(raw1)[0].kids == [{"kid": kid}]
    with pytest.raises(BoxFormatError) as err:  # fixed-size bytes keep their length check
        Pssh(version=1, system_id=system, kids=[{"kid": b"short"}], data=b"").to_bytes()
    assert str(err.value) == "expected 16 bytes, got 5"


def test_64_bit_box_header() -> None:
    raw = struct.pack(">I4sQ", 1, b"free", 16 + 5) + b"hello"
    box, end = parse_box(raw + b"trailing")
    assert isinstance(box, RawBox) and box.data == b"hello" and end == 21
    mfhd = struct.pack(">I4sQI", 1, b"mfhd", 16 + 8, 0) + struct.pack(">I", 7)
    box, _ = parse_box(mfhd)
    assert isinstance(box, Mfhd) and box.sequence_number == 7
    assert header("mdat", 0xFFFFFFFF) == struct.pack(">I4sQ", 1, b"mdat", 0xFFFFFFFF + 16)
    assert header("mdat", 0xFFFFFFF7) == struct.pack(">I4s", 0xFFFFFFFF, b"mdat")


def test_reader_top_level_64_bit_and_to_end(tmp_path: Path) -> None:
    path = tmp_path / "f.mp4"
    path.write_bytes(
        struct.pack(">I4sQ", 1, b"free", 16 + 3) + b"abc" + struct.pack(">I4s", 0, b"mdat") + b"xy"
    )
    with path.open("rb") as f:
        tops = [(t.type, t.offset, t.header_size, t.size) for t in iter_top_level(f)]
    assert tops == [("free", 0, 16, 19), ("mdat", 19, 8, 10)]


# --- malformed input ---------------------------------------------------------------------
MALFORMED = {
    "truncated header": b"\x00\x00\x00\x10moo",
    "truncated 64-bit header": struct.pack(">I4s", 1, b"free") + b"\0\0\0",
    "size smaller than header": struct.pack(">I4s", 4, b"free"),
    "64-bit size smaller than header": struct.pack(">I4sQ", 1, b"free", 12),
    "box running past the end": struct.pack(">I4s", 100, b"free") + b"abc",
    "child running past its parent": struct.pack(">I4sI4s", 16, b"moov", 64, b"trak") + b"\0" * 4,
    "truncated full box": struct.pack(">I4sH", 10, b"tfdt", 0),
    "truncated field": full_box(b"mvhd", 0, 0, b"\0" * 20),
    "absurd trun count": full_box(b"trun", 0, 0x300, struct.pack(">I", 0xFFFFFFFF) + b"\0" * 16),
    "absurd trun count, no per-sample fields": full_box(b"trun", 0, 0, b"\xff\xff\xff\xff"),
    "absurd stts count": full_box(b"stts", 0, 0, struct.pack(">III", 0x7FFFFFFF, 1, 1)),
    "absurd sidx count": full_box(b"sidx", 0, 0, struct.pack(">IIIIHH", 1, 1, 0, 0, 0, 0xFFFF)),
    "absurd pssh kid count": full_box(b"pssh", 1, 0, bytes(16) + struct.pack(">I", 0xFFFFFFF)),
}


# (name) -> exact BoxFormatError reason (offsets of children are within their parent).
MALFORMED_REASON = {
    "truncated header": "truncated box header at offset 0",
    "truncated 64-bit header": "truncated 64-bit box header at offset 0",
    "size smaller than header": "box 'free' at offset 0 has invalid size 4",
    "64-bit size smaller than header": "box 'free' at offset 0 has invalid size 12",
    "box running past the end": "box 'free' at offset 0 runs past the end (100 bytes)",
    "child running past its parent": "box 'trak' at offset 0 runs past the end (64 bytes)",
    "truncated full box": "tfdt: truncated FullBox header",
    "truncated field": "mvhd.volume: truncated: need 2 bytes at offset 24",
    "absurd trun count": (
        "trun.samples: sample_count=4294967295 entries of 8 bytes"
        " exceed the payload (16 bytes left)"
    ),
    "absurd trun count, no per-sample fields": (
        "trun.samples: sample_count=4294967295 is not a plausible entry count"
    ),
    "absurd stts count": (
        "stts.entries: entry_count=2147483647 entries of 8 bytes exceed the payload (8 bytes left)"
    ),
    "absurd sidx count": (
        "sidx.references: reference_count=65535 entries of 12 bytes"
        " exceed the payload (0 bytes left)"
    ),
    "absurd pssh kid count": (
        "pssh.kids: kid_count=268435455 entries of 16 bytes exceed the payload (0 bytes left)"
    ),
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_raises_box_format_error(name: str) -> None:
    with pytest.raises(BoxFormatError) as err:
        list(parse_boxes(MALFORMED[name]))
    assert str(err.value) == MALFORMED_REASON[name]


def test_truncated_file_raises_in_reader(clips: dict[str, Path], tmp_path: Path) -> None:
    data = clips["h264"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(BoxFormatError, match="truncated"):
        list(iter_samples(cut))


@pytest.fixture(scope="module")
def real_header_boxes(clips: dict[str, Path]) -> list[bytes]:
    out = []
    for name in ("h264", "aac", "eac3"):
        buf = clips[name].read_bytes()
        off = 0
        while off < len(buf):
            box, end = parse_box(buf, off)
            if box.box_type in ("moov", "moof"):
                out.append(buf[off:end])
            off = end
    return out[:6]


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_corrupted_real_boxes_never_crash_otherwise(real_header_boxes, data) -> None:
    """Truncating or flipping bytes in real moov/moof boxes: parse, or BoxFormatError."""
    raw = bytearray(data.draw(st.sampled_from(real_header_boxes)))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        for box in parse_boxes(bytes(raw)):
            box.to_bytes()
    except BoxFormatError:
        pass


# --- property: random sample tables round-trip ------------------------------------------
@st.composite
def trun_cases(draw):
    version = draw(st.integers(0, 1))
    names = ("duration", "size", "flags", "composition_offset")
    present = draw(st.fixed_dictionaries({k: st.booleans() for k in names}))
    cto = st.integers(-(2**31), 2**31 - 1) if version else st.integers(0, 2**32 - 1)
    u32 = st.integers(0, 2**32 - 1)
    row = st.fixed_dictionaries(
        {k: (cto if k == "composition_offset" else u32) for k, on in present.items() if on}
    )
    rows = draw(st.lists(row, max_size=40))
    data_offset = draw(st.none() | st.integers(-(2**31), 2**31 - 1))
    first_flags = draw(st.none() | u32)
    return version, present, rows, data_offset, first_flags


@settings(max_examples=200, deadline=None)
@given(trun_cases())
def test_random_trun_tables_round_trip(case) -> None:
    version, present, rows, data_offset, first_flags = case
    trun = Trun(
        version=version, data_offset=data_offset, first_sample_flags=first_flags, samples=rows
    )
    raw = trun.to_bytes()
    per_sample = 4 * sum(present.values()) if rows else 0
    expected_size = 16 + 4 * (data_offset is not None) + 4 * (first_flags is not None)
    assert len(raw) == expected_size + per_sample * len(rows)
    back, end = parse_box(raw)
    assert end == len(raw)
    assert back.version == version and back.sample_count == len(rows)
    assert back.data_offset == data_offset and back.first_sample_flags == first_flags
    assert back.samples == rows
    bits = {"duration": 0x100, "size": 0x200, "flags": 0x400, "composition_offset": 0x800}
    expected_flags = (0x1 if data_offset is not None else 0) | (4 if first_flags is not None else 0)
    if rows:
        expected_flags |= sum(b for k, b in bits.items() if present[k])
    assert back.flags == expected_flags
    assert back.to_bytes() == raw


# --- codec strings -----------------------------------------------------------------------
def moov_of(path: Path):
    return read_init(path)[1]


def test_avc1_codec_string_high_720p(clips: dict[str, Path]) -> None:
    probe = ffprobe_stream(clips["h264_720p_high"])
    assert (probe["profile"], probe["level"], probe["width"]) == ("High", 31, 1280)
    profile_idc = {"High": 0x64, "Main": 0x4D, "Constrained Baseline": 0x42}[probe["profile"]]
    expected = f"avc1.{profile_idc:02x}00{probe['level']:02x}"
    assert expected == "avc1.64001f"
    assert codec_string(moov_of(clips["h264_720p_high"])) == expected


def test_hvc1_codec_string(clips: dict[str, Path]) -> None:
    probe = ffprobe_stream(clips["hevc"])
    assert (probe["profile"], probe["level"], probe["codec_tag_string"]) == ("Main", 93, "hvc1")
    # ISO/IEC 14496-15 E.3: Main (1), compatibility flags 1 and 2 bit-reversed (0x6),
    # main tier level 3.1 (93), progressive + frame-only constraint byte (0x90).
    assert codec_string(moov_of(clips["hevc"])) == "hvc1.1.6.L93.90"


def test_mp4a_codec_string(clips: dict[str, Path]) -> None:
    assert ffprobe_stream(clips["aac"])["profile"] == "LC"
    assert codec_string(moov_of(clips["aac"])) == "mp4a.40.2"


def test_aac_object_type_from_hand_built_esds() -> None:
    def esds(asc: bytes) -> bytes:
        dsi = b"\x05" + bytes([len(asc)]) + asc
        dcd = b"\x04" + bytes([13 + len(dsi)]) + bytes([0x40, 0x15]) + bytes(11) + dsi
        return b"\x03" + bytes([3 + len(dcd)]) + b"\x00\x01\x00" + dcd

    # audioObjectType 5 (SBR), sampling index 3, 2 channels: 00101 0011 0010 ...
    assert aac_object_type(esds(bytes([0b00101001, 0b10010000]))) == 5
    # Escape value 31: 6 more bits, AOT = 32 + 10 = 42 (USAC).
    assert aac_object_type(esds(bytes([0b11111001, 0b01000000, 0]))) == 42
    for truncated in (b"\x03\x80", b"\x03\x05\x00\x01", b"\x05\x02"):
        with pytest.raises(ValueError, match="esds"):
            aac_object_type(truncated)


@pytest.mark.parametrize(
    ("name", "codecs", "channels"),
    [("eac3", "ec-3", 6), ("ac3", "ac-3", 6), ("ac3_stereo", "ac-3", 2)],
)
def test_dolby_codec_and_channels(clips, tmp_path: Path, name, codecs, channels) -> None:
    assert ffprobe_stream(clips[name])["channels"] == channels
    moov = moov_of(clips[name])
    assert codec_string(moov) == codecs
    # FFmpeg writes 2 in the sample entry even for 5.1: the count must come from dac3/dec3.
    assert moov.find("trak/mdia/minf/stbl/stsd").children[0].channel_count == 2
    assert moov.find("trak/edts") is not None  # delay_moov writes an edit list
    track = package_track(clips[name], tmp_path, "a")
    assert (track.codecs, track.channels, track.sample_rate) == (codecs, channels, 48000)
    init = read_init(tmp_path / "a" / "init.mp4")[1]
    # The encoder delay survives as one edit skipping it (E-AC-3/AC-3: 256 samples); no udta.
    (edit,) = init.find("trak/edts/elst").entries
    assert edit["media_time"] == moov.find("trak/edts/elst").entries[0]["media_time"] > 0
    assert edit["segment_duration"] == 0 and init.find("udta") is None
    written = [
        len(box.find("traf/trun").samples)
        for seg in (tmp_path / "a").glob("*.m4s")
        for box in parse_boxes(seg.read_bytes())
        if box.box_type == "moof"
    ]
    assert sum(written) == len(list(iter_samples(clips[name]))) > 0
