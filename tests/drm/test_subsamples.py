"""Slice header sizes and subsample maps (drm/encryption/subsamples.py).

Crafted NAL units pin the bit counting (emulation prevention, long headers); real x264/x265
streams are cross-checked slice by slice against FFmpeg's own bitstream parser
(`-bsf:v trace_headers`), an implementation independent of ours.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from drm.encryption.subsamples import (
    MAX_CLEAR,
    BitReader,
    NalContext,
    SubsampleError,
    avc_context,
    escaped_size,
    hevc_context,
    iter_nals,
    parse_avc_pps,
    parse_avc_sps,
    slice_header_bits,
    slice_header_size,
    subsample_map,
    unescape,
)
from pipeline.mp4.codecs import sample_entry
from pipeline.mp4.reader import iter_samples, read_init

FRAGMENTED = [
    "-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets",
]  # fmt: skip
_X264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "50", "-keyint_min", "50"]
_X265 = ["-c:v", "libx265", "-tag:v", "hvc1", "-preset", "superfast"]
_X265_GOP = "log-level=error:keyint=50:min-keyint=50:scenecut=0:open-gop=0"

# name -> encoder arguments; every clip is 14 s of 320x240 at 25 fps with a 2 s GOP, so the
# packager makes 3 segments of up to 3 fragments each.
VIDEO_CLIPS: dict[str, list[str]] = {
    # High profile, CABAC, 3 B-frames, weighted P prediction (pred_weight_table in P slices).
    "h264_cabac": [*_X264, "-preset", "superfast", "-profile:v", "high", "-bf", "3",
                   "-x264-params", "weightp=2:scenecut=0"],
    # Baseline: CAVLC, no B-frames, POC type 2.
    "h264_baseline": [*_X264, "-preset", "superfast", "-profile:v", "baseline",
                      "-x264-params", "scenecut=0"],
    # Main-like CAVLC with B-pyramid, weighted bi-prediction and 4 slices per picture.
    "h264_cavlc_slices": [*_X264, "-preset", "fast", "-slices", "4", "-x264-params",
                          "cabac=0:bframes=3:b-pyramid=normal:weightb=1:ref=4:scenecut=0"],
    # Interlaced (MBAFF): frame_mbs_only_flag = 0, so field_pic_flag is in every header.
    "h264_mbaff": [*_X264, "-preset", "superfast", "-flags", "+ildct+ilme",
                   "-x264-params", "tff=1:scenecut=0"],
    # HEVC with B-frames, SAO, temporal MVP and wavefront entry points.
    "hevc": [*_X265, "-x265-params", f"{_X265_GOP}:bframes=4:weightb=1"],
    # HEVC, 3 slices per picture, 10-bit.
    "hevc_slices": [*_X265, "-pix_fmt", "yuv420p10le",
                    "-x265-params", f"{_X265_GOP}:bframes=3:slices=3"],
}  # fmt: skip


# Audio codecs as the transcoder writes them (E-AC-3/AC-3 need delay_moov in FFmpeg 5.1).
AUDIO_CLIPS: dict[str, list[str]] = {
    "aac": ["-c:a", "aac", "-b:a", "128k", "-ac", "2"],
    "eac3": ["-c:a", "eac3", "-b:a", "192k", "-ac", "6"],
    "ac3": ["-c:a", "ac3", "-b:a", "192k", "-ac", "2"],
}


def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = os.environ.get("VOD_FIXTURE_CACHE")
    if cache:
        path = Path(cache) / "cenc-clips"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.getbasetemp() / "cenc-clips"


def make_clip(kind: str, directory: Path) -> Path:
    """A fragmented MP4 like the transcoder writes (video: `VIDEO_CLIPS[kind]`, or 'aac')."""
    out = directory / f"{kind}.mp4"
    if out.exists():
        return out
    directory.mkdir(parents=True, exist_ok=True)
    base = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
    if kind in AUDIO_CLIPS:
        src = "sine=frequency=440:sample_rate=48000:duration=14"
        args = ["-f", "lavfi", "-i", src, *AUDIO_CLIPS[kind]]
        flags = "+frag_keyframe+empty_moov+default_base_moof+delay_moov"
        args += ["-f", "mp4", "-movflags", flags, "-frag_duration", "2000000"]
    else:
        src = "testsrc2=size=320x240:rate=25:duration=14"
        args = ["-f", "lavfi", "-i", src, *VIDEO_CLIPS[kind], *FRAGMENTED]
    tmp = out.with_suffix(".part")
    subprocess.run([*base, *args, str(tmp)], check=True, capture_output=True)
    tmp.rename(out)
    return out


def nal_context(path: Path) -> NalContext:
    _, moov = read_init(path)
    entry = sample_entry(moov)
    config = entry.find("avcC") or entry.find("hvcC")
    assert config is not None
    return avc_context(config.data) if config.box_type == "avcC" else hevc_context(config.data)


def read_samples(path: Path) -> list[bytes]:
    out = []
    with path.open("rb") as f:
        for s in iter_samples(path):
            f.seek(s.file_offset)
            out.append(f.read(s.size))
    return out


# --- a bit writer for crafted NAL units -----------------------------------------------------
class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, value: int) -> BitWriter:
        self.bits += [(value >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def ue(self, value: int) -> BitWriter:
        code = value + 1
        return self.u(code.bit_length() - 1, 0).u(code.bit_length(), code)

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def to_bytes(self, stop_bit: bool = True) -> bytes:
        bits = self.bits + ([1] if stop_bit else [])
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def escape(rbsp: bytes) -> bytes:
    """Insert emulation-prevention bytes (H.264 7.4.1): 00 00 0x (x <= 3) -> 00 00 03 0x."""
    out = bytearray()
    zeros = 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def crafted_avc_context() -> NalContext:
    """Baseline SPS (16-bit frame_num and POC lsb, so headers can hold long zero runs) + a
    CAVLC PPS with deblocking control."""
    sps = BitWriter().u(8, 0x67).u(8, 66).u(8, 0).u(8, 30).ue(0)
    sps.ue(12).ue(0).ue(12)  # log2_max_frame_num - 4, POC type 0, log2_max_poc_lsb - 4
    sps.ue(1).u(1, 0).ue(19).ue(14).u(1, 1).u(1, 1).u(1, 0).u(1, 0)
    pps = BitWriter().u(8, 0x68).ue(0).ue(0).u(1, 0).u(1, 0).ue(0).ue(0).ue(0)
    pps.u(1, 0).u(2, 0).se(0).se(0).se(0).u(1, 1).u(1, 0).u(1, 0)
    ctx = NalContext("avc", 4)
    return ctx.learn(escape(sps.to_bytes())).learn(escape(pps.to_bytes()))


def crafted_i_slice() -> tuple[bytes, int]:
    """A non-IDR I slice whose 32 zero bits of frame_num + POC need an emulation-prevention
    byte inside the header. Returns (escaped NAL, header bits)."""
    w = BitWriter().u(8, 0x01).ue(0).ue(7).ue(0).u(16, 0).u(16, 0).se(0).ue(1)
    bits = len(w.bits)
    w.u(3, 0b111)
    for b in range(0x40, 0x68):  # slice data
        w.u(8, b)
    return escape(w.to_bytes()), bits


# --- pure units -----------------------------------------------------------------------------
def test_bit_reader_exp_golomb() -> None:
    w = BitWriter().ue(0).ue(1).ue(7).ue(65534).se(0).se(3).se(-3).u(5, 0b10110)
    r = BitReader(w.to_bytes())
    assert [r.ue(), r.ue(), r.ue(), r.ue(), r.se(), r.se(), r.se(), r.u(5)] == [
        0, 1, 7, 65534, 0, 3, -3, 0b10110,
    ]  # fmt: skip
    assert r.pos == len(w.bits)


def test_unescape_and_escaped_size() -> None:
    ebsp = bytes.fromhex("aa000003010000030000030002")
    rbsp, epbs = unescape(ebsp)
    assert rbsp == bytes.fromhex("aa000001000000000002")
    assert epbs == [3, 7, 10]
    assert escape(rbsp) == ebsp
    # The first 3 RBSP bytes end before the first EPB; 4 need it; an EPB right after the
    # counted bytes is not included (it would start the protected range).
    assert escaped_size(3, epbs) == 3
    assert escaped_size(4, epbs) == 5
    assert escaped_size(6, epbs) == 7
    assert escaped_size(7, epbs) == 9
    assert escaped_size(10, epbs) == len(ebsp)


def test_crafted_slice_header_with_emulation_prevention() -> None:
    ctx = crafted_avc_context()
    nal, bits = crafted_i_slice()
    assert bits == 53
    # RBSP 01 88 80 00 00 00 57 ... -> EBSP 01 88 80 00 00 03 00 57 ...
    assert nal[:8] == bytes.fromhex("0188800000030057")
    assert slice_header_bits(nal, ctx) == 53
    assert slice_header_size(nal, ctx) == 8  # 7 RBSP bytes + the EPB among them


def test_long_slice_header_beyond_the_first_window() -> None:
    """A P slice with 150 reference list modifications: ~5000 header bits, longer than the
    512-byte window unescaped first, so the measurement has to retry on the whole NAL."""
    ctx = crafted_avc_context()
    w = BitWriter().u(8, 0x01).ue(0).ue(5).ue(0).u(16, 7).u(16, 9)
    w.u(1, 0).u(1, 1)  # num_ref_idx_active_override_flag, ref_pic_list_modification_flag_l0
    for _ in range(150):
        w.ue(0).ue(65534)
    w.ue(3).se(-2).ue(1)
    bits = len(w.bits)
    w.u(64, 0x0123456789ABCDEF)
    nal = escape(w.to_bytes())
    assert bits > 512 * 8
    assert slice_header_bits(nal, ctx) == bits
    assert slice_header_size(nal, ctx) == escaped_size((bits + 7) // 8, unescape(nal)[1])


def test_unknown_pps_and_truncated_nal_are_errors() -> None:
    ctx = crafted_avc_context()
    nal = escape(BitWriter().u(8, 0x01).ue(0).ue(7).ue(5).u(16, 0).to_bytes())
    with pytest.raises(SubsampleError, match="unknown PPS"):
        slice_header_bits(nal, ctx)
    good, _ = crafted_i_slice()
    with pytest.raises(SubsampleError, match="past the end"):
        slice_header_bits(good[:5], ctx)
    with pytest.raises(SubsampleError, match="runs past the sample end"):
        subsample_map(b"\x00\x00\x01\x00\x01", ctx, align16=True)


def test_crafted_parameter_sets_parse() -> None:
    ctx = crafted_avc_context()
    sps, pps = ctx.sps[0], ctx.pps[0]
    assert (sps.log2_max_frame_num, sps.poc_type, sps.log2_max_poc_lsb) == (16, 0, 16)
    assert sps.frame_mbs_only and sps.pic_size_in_map_units == 20 * 15
    assert not pps.cabac and pps.deblocking_filter_control_present
    # POC type 2, ids other than 0.
    other_sps = BitWriter().u(8, 0x67).u(24, 0x42001E).ue(3).ue(0).ue(2)
    other_sps.ue(1).u(1, 0).ue(1).ue(1).u(1, 1)
    parsed = parse_avc_sps(unescape(escape(other_sps.to_bytes()))[0])
    assert (parsed.sps_id, parsed.poc_type, parsed.log2_max_frame_num) == (3, 2, 4)
    other_pps = BitWriter().u(8, 0x68).ue(9).ue(3).u(1, 1).u(1, 0).ue(0).ue(0).ue(0)
    other_pps.u(3, 0).se(0).se(0).se(0).u(3, 0)
    parsed_pps = parse_avc_pps(unescape(escape(other_pps.to_bytes()))[0])
    assert (parsed_pps.pps_id, parsed_pps.sps_id, parsed_pps.cabac) == (9, 3, True)


def _sample(*nals: bytes) -> bytes:
    return b"".join(len(n).to_bytes(4, "big") + n for n in nals)


def test_subsample_map_cenc_and_cbcs() -> None:
    ctx = crafted_avc_context()
    aud, sei = bytes([0x09, 0xF0]), bytes([0x06]) + bytes(range(1, 40))
    nal, _ = crafted_i_slice()  # 8 header bytes, len(nal) - 8 slice data bytes
    sample = _sample(aud, sei, nal)
    data = len(nal) - 8
    leading = 4 + 2 + 4 + 40 + 4 + 8
    assert subsample_map(sample, ctx, align16=False) == [(leading, data)]
    # cenc: protected cut to whole blocks, the remainder moves to the leading clear range.
    assert subsample_map(sample, ctx, align16=True) == [(leading + data % 16, data - data % 16)]
    assert data % 16 != 0
    # Two slices: each gets its own subsample; a trailing non-VCL unit is a clear-only one.
    two = _sample(aud, nal, nal, sei)
    assert subsample_map(two, ctx, align16=False) == [(4 + 2 + 12, data), (12, data), (44, 0)]
    for align in (False, True):
        total = sum(c + p for c, p in subsample_map(two, ctx, align16=align))
        assert total == len(two)


def test_subsample_map_small_slice_and_long_clear_run() -> None:
    ctx = crafted_avc_context()
    tiny = escape(BitWriter().u(8, 0x01).ue(0).ue(7).ue(0).u(32, 1).se(0).ue(1).to_bytes())
    tiny += b"\x55" * 9
    # cenc: fewer than 16 bytes of slice data -> nothing protected, all clear.
    assert subsample_map(_sample(tiny), ctx, align16=True) == [(4 + len(tiny), 0)]
    big_sei = bytes([0x06]) + b"\x11" * 70_000
    nal, _ = crafted_i_slice()
    sample = _sample(big_sei, nal)
    subs = subsample_map(sample, ctx, align16=False)
    assert subs[0] == (MAX_CLEAR, 0)
    assert subs[1] == (4 + len(big_sei) + 12 - MAX_CLEAR, len(nal) - 8)
    assert all(c <= MAX_CLEAR for c, _ in subs)


def test_in_band_parameter_sets_apply_within_the_sample() -> None:
    full = crafted_avc_context()
    sps = BitWriter().u(8, 0x67).u(8, 66).u(8, 0).u(8, 30).ue(0).ue(12).ue(0).ue(12)
    sps.ue(1).u(1, 0).ue(19).ue(14).u(1, 1).u(1, 1).u(1, 0).u(1, 0)
    pps = BitWriter().u(8, 0x68).ue(0).ue(0).u(1, 0).u(1, 0).ue(0).ue(0).ue(0)
    pps.u(1, 0).u(2, 0).se(0).se(0).se(0).u(1, 1).u(1, 0).u(1, 0)
    nal, _ = crafted_i_slice()
    sample = _sample(escape(sps.to_bytes()), escape(pps.to_bytes()), nal)
    empty = NalContext("avc", 4)
    assert subsample_map(sample, empty, align16=False) == subsample_map(sample, full, align16=False)


# --- real streams against FFmpeg's parser ---------------------------------------------------
def ffmpeg_slice_header_bits(path: Path) -> list[int]:
    """Per slice, in stream order: end of the slice header in RBSP bits (NAL header included)
    as FFmpeg's cbs parser traces it. CABAC alignment bits are slice data, not header; HEVC's
    byte_alignment() belongs to the header."""
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v", "-c", "copy",
         "-bsf:v", "trace_headers", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    ends: list[int] = []
    current: int | None = None
    element = re.compile(r"\] (\d+)\s+(\S+)\s+([01]+) = ")
    for line in proc.stderr.splitlines():
        if line.endswith(("] Slice Header", "] Slice Segment Header")):
            if current is not None:
                ends.append(current)
            current = 0
            continue
        m = element.search(line)
        if m is None:
            if current is not None:
                ends.append(current)
            current = None
        elif current is not None and m.group(2) != "cabac_alignment_one_bit":
            current = max(current, int(m.group(1)) + len(m.group(3)))
    if current is not None:
        ends.append(current)
    return ends


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clip_dir(tmp_path_factory)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(VIDEO_CLIPS))
def test_slice_header_bits_match_ffmpeg(kind: str, clips: Path) -> None:
    path = make_clip(kind, clips)
    ctx = nal_context(path)
    ours = []
    for sample in read_samples(path):
        for start, end in iter_nals(sample, ctx.length_size):
            if ctx.is_slice(ctx.nal_type(sample[start])):
                ours.append(slice_header_bits(sample[start:end], ctx))
    theirs = ffmpeg_slice_header_bits(path)
    assert len(ours) == len(theirs) >= 350
    assert ours == theirs
    if ctx.codec == "hevc":
        assert all(b % 8 == 0 for b in ours)  # slice_segment_header ends byte aligned


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(VIDEO_CLIPS))
def test_subsample_maps_cover_real_samples(kind: str, clips: Path) -> None:
    path = make_clip(kind, clips)
    ctx = nal_context(path)
    for sample in read_samples(path)[:60]:
        for align in (True, False):
            subs = subsample_map(sample, ctx, align16=align)
            assert sum(c + p for c, p in subs) == len(sample)
            assert any(p for _, p in subs)  # every picture has protected slice data
            if align:
                assert all(p % 16 == 0 for _, p in subs)


def test_unmeasurable_slice_types_are_refused() -> None:
    """Data partitions, MVC slices, reserved HEVC VCL types: refused, never left clear."""
    ctx = crafted_avc_context()
    for nal_type in (2, 20):
        with pytest.raises(SubsampleError, match=f"type {nal_type}"):
            subsample_map(_sample(bytes([0x60 | nal_type]) + b"\x88" * 40), ctx, align16=True)
    hevc = NalContext("hevc", 4)
    with pytest.raises(SubsampleError, match="type 22"):
        subsample_map(_sample(bytes([22 << 1, 1]) + b"\x88" * 40), hevc, align16=False)
