"""AVC/HEVC bitstream parsing (pipeline/bitstream): Exp-Golomb, RBSP, parameter sets, slice
header sizes.

Crafted NAL units pin the bit counting (emulation prevention, long headers); real x264/x265
streams are cross-checked slice by slice against FFmpeg's own bitstream parser
(`-bsf:v trace_headers`), an implementation independent of ours.
"""

from __future__ import annotations

import pickle
import re
import subprocess
from pathlib import Path

import pytest

from core.errors import BadInput
from pipeline.bitstream.avc import parse_avc_pps, parse_avc_sps
from pipeline.bitstream.bits import BitReader, BitstreamError
from pipeline.bitstream.nal import iter_nals, slice_header_bits, slice_header_size
from pipeline.bitstream.rbsp import escaped_size, unescape
from tests.support.cenc_clips import VIDEO_CLIPS, clip_dir, make_clip, nal_context, read_samples
from tests.support.nal_units import BitWriter, crafted_avc_context, crafted_i_slice, escape


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
    with pytest.raises(BitstreamError, match="unknown PPS"):
        slice_header_bits(nal, ctx)
    good, _ = crafted_i_slice()
    with pytest.raises(BitstreamError, match="past the end"):
        slice_header_bits(good[:5], ctx)
    with pytest.raises(BitstreamError, match="runs past the sample end"):
        list(iter_nals(b"\x00\x00\x01\x00\x01", 4))
    with pytest.raises(BitstreamError, match="truncated AVC SPS"):
        parse_avc_sps(bytes([0x67, 66]))


def test_bitstream_errors_are_bad_input_value_errors_that_pickle() -> None:
    err = BitstreamError("truncated AVC SPS")
    assert isinstance(err, BadInput) and isinstance(err, ValueError)
    assert str(err) == "truncated AVC SPS" and err.status == 422
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is BitstreamError and str(back) == str(err)


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
