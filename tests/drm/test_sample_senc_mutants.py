"""Mutation-driven tests for drm/encryption/sample.py's senc parser (issue 18): the bounds checks
added for truncated senc boxes (ISO/IEC 23001-7 7.2: IV, then a 16-bit subsample_count and
6 bytes per subsample), at their exact boundaries."""

from __future__ import annotations

import struct

import pytest

from drm.encryption.sample import SampleAuxInfo, parse_senc, senc_box


def test_senc_entry_ending_exactly_with_a_zero_subsample_count():
    """IV + subsample_count 0 and nothing after: a complete entry with no subsamples."""
    box = senc_box([SampleAuxInfo(bytes([7]) * 8, ())], True)
    assert bytes(box.entries) == bytes([7]) * 8 + b"\x00\x00"
    assert parse_senc(box, 8) == [SampleAuxInfo(bytes([7]) * 8, ())]


def test_senc_subsample_count_larger_than_its_table_is_truncated():
    box = senc_box([SampleAuxInfo(bytes([7]) * 8, ((1, 2),))], True)
    # claim 2 subsamples while only one 6-byte entry follows
    box.entries = bytes([7]) * 8 + struct.pack(">H", 2) + bytes(box.entries)[10:]
    assert len(box.entries) == 8 + 2 + 6
    with pytest.raises(ValueError) as caught:
        parse_senc(box, 8)
    assert str(caught.value) == "senc entries are truncated"


def test_senc_subsample_count_cut_after_one_byte_is_truncated():
    box = senc_box([SampleAuxInfo(bytes([7]) * 8, ())], True)
    box.entries = bytes(box.entries)[:9]
    with pytest.raises(ValueError) as caught:
        parse_senc(box, 8)
    assert str(caught.value) == "senc entries are truncated"
