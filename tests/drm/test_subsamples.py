"""Subsample maps (drm/encryption/subsamples.py): which bytes of a sample stay clear per scheme.

The bitstream reading under them is tested in tests/pipeline/test_bitstream.py; here crafted
samples pin the cenc/cbcs rules and real x264/x265 samples must be covered exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drm.encryption.subsamples import MAX_CLEAR, SubsampleError, subsample_map
from pipeline.bitstream.bits import BitstreamError
from pipeline.bitstream.nal import NalContext
from tests.support.cenc_clips import VIDEO_CLIPS, clip_dir, make_clip, nal_context, read_samples
from tests.support.nal_units import (
    BitWriter,
    crafted_avc_context,
    crafted_i_slice,
    crafted_pps,
    crafted_sps,
    escape,
    length_prefixed,
)


def test_subsample_map_cenc_and_cbcs() -> None:
    ctx = crafted_avc_context()
    aud, sei = bytes([0x09, 0xF0]), bytes([0x06]) + bytes(range(1, 40))
    nal, _ = crafted_i_slice()  # 8 header bytes, len(nal) - 8 slice data bytes
    sample = length_prefixed(aud, sei, nal)
    data = len(nal) - 8
    leading = 4 + 2 + 4 + 40 + 4 + 8
    assert subsample_map(sample, ctx, align16=False) == [(leading, data)]
    # cenc: protected cut to whole blocks, the remainder moves to the leading clear range.
    assert subsample_map(sample, ctx, align16=True) == [(leading + data % 16, data - data % 16)]
    assert data % 16 != 0
    # Two slices: each gets its own subsample; a trailing non-VCL unit is a clear-only one.
    two = length_prefixed(aud, nal, nal, sei)
    assert subsample_map(two, ctx, align16=False) == [(4 + 2 + 12, data), (12, data), (44, 0)]
    for align in (False, True):
        total = sum(c + p for c, p in subsample_map(two, ctx, align16=align))
        assert total == len(two)


def test_subsample_map_small_slice_and_long_clear_run() -> None:
    ctx = crafted_avc_context()
    tiny = escape(BitWriter().u(8, 0x01).ue(0).ue(7).ue(0).u(32, 1).se(0).ue(1).to_bytes())
    tiny += b"\x55" * 9
    # cenc: fewer than 16 bytes of slice data -> nothing protected, all clear.
    assert subsample_map(length_prefixed(tiny), ctx, align16=True) == [(4 + len(tiny), 0)]
    big_sei = bytes([0x06]) + b"\x11" * 70_000
    nal, _ = crafted_i_slice()
    sample = length_prefixed(big_sei, nal)
    subs = subsample_map(sample, ctx, align16=False)
    assert subs[0] == (MAX_CLEAR, 0)
    assert subs[1] == (4 + len(big_sei) + 12 - MAX_CLEAR, len(nal) - 8)
    assert all(c <= MAX_CLEAR for c, _ in subs)


def test_in_band_parameter_sets_apply_within_the_sample() -> None:
    full = crafted_avc_context()
    nal, _ = crafted_i_slice()
    sps, pps = escape(crafted_sps().to_bytes()), escape(crafted_pps().to_bytes())
    sample = length_prefixed(sps, pps, nal)
    empty = NalContext("avc", 4)
    assert subsample_map(sample, empty, align16=False) == subsample_map(sample, full, align16=False)


def test_unreadable_samples_are_bitstream_errors() -> None:
    ctx = crafted_avc_context()
    with pytest.raises(BitstreamError, match="runs past the sample end"):
        subsample_map(b"\x00\x00\x01\x00\x01", ctx, align16=True)
    unknown_pps = escape(BitWriter().u(8, 0x01).ue(0).ue(7).ue(5).u(16, 0).to_bytes())
    with pytest.raises(BitstreamError, match="unknown PPS"):
        subsample_map(length_prefixed(unknown_pps), ctx, align16=False)


def test_unmeasurable_slice_types_are_refused() -> None:
    """Data partitions, MVC slices, reserved HEVC VCL types: refused, never left clear."""
    ctx = crafted_avc_context()
    for nal_type in (2, 20):
        with pytest.raises(SubsampleError, match=f"type {nal_type}"):
            subsample_map(
                length_prefixed(bytes([0x60 | nal_type]) + b"\x88" * 40), ctx, align16=True
            )
    hevc = NalContext("hevc", 4)
    with pytest.raises(SubsampleError, match="type 22") as err:
        subsample_map(length_prefixed(bytes([22 << 1, 1]) + b"\x88" * 40), hevc, align16=False)
    assert isinstance(err.value, ValueError) and err.value.status == 422  # packager catches it


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clip_dir(tmp_path_factory)


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
