"""Subsample-map edges that mutation testing (scripts/mutation.sh drm/encryption/subsamples.py)
found untested: a clear run of exactly 65535 bytes, and zero-length NAL units."""

from __future__ import annotations

from drm.encryption.subsamples import MAX_CLEAR, subsample_map
from tests.support.nal_units import crafted_avc_context, crafted_i_slice, length_prefixed


def test_a_clear_run_of_exactly_max_clear_stays_one_subsample() -> None:
    ctx = crafted_avc_context()
    nal, _ = crafted_i_slice()  # 8 header bytes
    sei = bytes([0x06]) + b"\x11" * (MAX_CLEAR - 4 - 4 - 8 - 1)
    sample = length_prefixed(sei, nal)
    assert subsample_map(sample, ctx, align16=False) == [(MAX_CLEAR, len(nal) - 8)]


def test_zero_length_nal_units_are_clear_prefixes_only() -> None:
    ctx = crafted_avc_context()
    nal, _ = crafted_i_slice()
    data = len(nal) - 8
    assert subsample_map(length_prefixed(b"", nal), ctx, align16=False) == [(4 + 4 + 8, data)]
    assert subsample_map(length_prefixed(nal, b""), ctx, align16=False) == [(12, data), (4, 0)]
