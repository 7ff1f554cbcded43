"""CENC cipher edges that mutation testing (scripts/mutation.sh drm/encryption/cipher.py) found
untested: NIST SP 800-38A known answers for both schemes, the cbcs 1:9 pattern with its IV reset
per subsample, the cenc counter running on across subsamples, the default arguments and the
exact refusals. The references are the `cryptography` package's own AES modes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from drm.encryption import cipher
from drm.encryption.cipher import (
    cbc_crypt,
    crypt_sample,
    ctr_counter_block,
    ctr_crypt,
    decrypt_sample,
    encrypt_sample,
    pattern_runs,
    protected_ranges,
)

# NIST SP 800-38A, F.2.1 (CBC-AES128) and F.5.1 (CTR-AES128).
NIST_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
NIST_PLAIN = [
    bytes.fromhex("6bc1bee22e409f96e93d7e117393172a"),
    bytes.fromhex("ae2d8a571e03ac9c9eb76fac45af8e51"),
    bytes.fromhex("30c81c46a35ce411e5fbc1191a0a52ef"),
    bytes.fromhex("f69f2445df4f9b17ad2b417be66c3710"),
]
CBC_IV = bytes(range(16))
CBC_CIPHER = [
    bytes.fromhex("7649abac8119b246cee98e9b12e9197d"),
    bytes.fromhex("5086cb9b507219ee95db113a917678b2"),
    bytes.fromhex("73bed6b8e3c1743b7116e69e22229516"),
    bytes.fromhex("3ff1caa1681fac09120eca307586e1a7"),
]
CTR_IV = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
CTR_CIPHER = [
    bytes.fromhex("874d6191b620e3261bef6864990db6ce"),
    bytes.fromhex("9806f66b7970fdff8617187bb9fffdff"),
    bytes.fromhex("5ae4df3edbd5d35e5b4f09020db03eab"),
    bytes.fromhex("1e031dda2fbe03d1792170a0f3009cee"),
]
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def _filler(n: int, seed: int = 1) -> bytes:
    return bytes((seed * 37 + 11 * i) % 251 for i in range(n))


def _ctr(key: bytes, iv16: bytes, data: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.CTR(iv16)).encryptor().update(data)


def _cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor().update(data)


# --- protected ranges and the counter block -------------------------------------------------
def test_protected_ranges_whole_sample_empty_and_subsamples() -> None:
    assert protected_ranges(0, None) == []
    assert protected_ranges(0, []) == []
    assert protected_ranges(7, None) == [(0, 7)]
    assert protected_ranges(7, []) == [(0, 7)]
    # Clear-only subsamples give no range; offsets add up clear and protected bytes.
    assert protected_ranges(60, [(5, 10), (3, 0), (2, 40)]) == [(5, 10), (20, 40)]
    assert protected_ranges(10, [(10, 0)]) == []


def test_protected_ranges_refuse_a_map_that_does_not_cover_the_sample() -> None:
    with pytest.raises(ValueError) as caught:
        protected_ranges(61, [(5, 10), (3, 0), (2, 40)])
    assert str(caught.value) == "subsamples cover 60 bytes, the sample has 61"
    with pytest.raises(ValueError, match="subsamples cover 60 bytes, the sample has 59"):
        ctr_crypt(KEY, bytes(8), bytes(59), [(20, 40)])


def test_ctr_counter_block_pads_an_8_byte_iv_and_refuses_other_sizes() -> None:
    iv8 = bytes.fromhex("0102030405060708")
    assert ctr_counter_block(iv8) == iv8 + bytes(8)
    assert ctr_counter_block(CTR_IV) == CTR_IV
    for size in (0, 7, 9, 12, 15, 17):
        with pytest.raises(ValueError) as caught:
            ctr_counter_block(bytes(size))
        assert str(caught.value) == f"cenc IV must be 8 or 16 bytes, not {size}"


# --- cenc (AES-CTR) -------------------------------------------------------------------------
def test_cenc_full_sample_matches_nist_ctr() -> None:
    plain = b"".join(NIST_PLAIN)
    assert encrypt_sample("cenc", NIST_KEY, CTR_IV, plain) == b"".join(CTR_CIPHER)
    assert ctr_crypt(NIST_KEY, CTR_IV, plain) == b"".join(CTR_CIPHER)
    assert decrypt_sample("cenc", NIST_KEY, CTR_IV, b"".join(CTR_CIPHER)) == plain
    # A partial last block uses the first bytes of its key stream block.
    assert ctr_crypt(NIST_KEY, CTR_IV, plain[:20]) == b"".join(CTR_CIPHER)[:20]


def test_cenc_counter_runs_on_across_subsamples() -> None:
    """The protected ranges of a sample are one key stream (23001-7 9.5.1): the second
    subsample continues with the next counter block, not with the IV again."""
    clear1, clear2, tail = b"\xaa" * 5, b"\xbb" * 3, b"\xcc" * 4
    sample = clear1 + NIST_PLAIN[0] + clear2 + NIST_PLAIN[1] + tail
    subs = [(5, 16), (3, 16), (4, 0)]
    want = clear1 + CTR_CIPHER[0] + clear2 + CTR_CIPHER[1] + tail
    assert ctr_crypt(NIST_KEY, CTR_IV, sample, subs) == want
    assert encrypt_sample("cenc", NIST_KEY, CTR_IV, sample, subs) == want
    assert decrypt_sample("cenc", NIST_KEY, CTR_IV, want, subs) == sample


def test_cenc_key_stream_is_byte_continuous_across_unaligned_ranges() -> None:
    iv8 = bytes.fromhex("fedcba9876543210")
    data = _filler(100)
    subs = [(3, 10), (7, 22), (0, 0), (1, 57)]
    stream_in = data[3:13] + data[20:42] + data[43:100]
    stream_out = _ctr(KEY, iv8 + bytes(8), stream_in)
    want = data[:3] + stream_out[:10] + data[13:20] + stream_out[10:32] + data[42:43]
    want += stream_out[32:]
    assert ctr_crypt(KEY, iv8, data, subs) == want


def test_cenc_single_range_in_the_middle_keeps_both_clear_ends() -> None:
    data = _filler(50)
    want = data[:9] + _ctr(KEY, bytes(16), data[9:41]) + data[41:]
    assert ctr_crypt(KEY, bytes(8), data, [(9, 32), (9, 0)]) == want
    # One range that starts at 0 but stops short of the end.
    want = _ctr(KEY, bytes(16), data[:32]) + data[32:]
    assert ctr_crypt(KEY, bytes(8), data, [(0, 32), (18, 0)]) == want
    # One range that starts later and runs to the end.
    want = data[:18] + _ctr(KEY, bytes(16), data[18:])
    assert ctr_crypt(KEY, bytes(8), data, [(18, 32)]) == want


def test_cenc_nothing_protected_returns_the_clear_bytes() -> None:
    data = bytearray(_filler(20))
    out = ctr_crypt(KEY, bytes(8), data, [(20, 0)])
    assert out == bytes(data) and isinstance(out, bytes)
    assert ctr_crypt(KEY, bytes(8), b"") == b""
    out = ctr_crypt(KEY, bytes(8), bytearray(_filler(32)))
    assert isinstance(out, bytes) and out == _ctr(KEY, bytes(16), _filler(32))


# --- cbcs (AES-CBC with a pattern) ----------------------------------------------------------
def test_cbcs_without_pattern_matches_nist_cbc_and_leaves_a_partial_block_clear() -> None:
    plain = b"".join(NIST_PLAIN)
    assert encrypt_sample("cbcs", NIST_KEY, CBC_IV, plain) == b"".join(CBC_CIPHER)
    assert cbc_crypt(NIST_KEY, CBC_IV, plain) == b"".join(CBC_CIPHER)
    assert crypt_sample("cbcs", NIST_KEY, CBC_IV, plain) == b"".join(CBC_CIPHER)
    assert decrypt_sample("cbcs", NIST_KEY, CBC_IV, b"".join(CBC_CIPHER)) == plain
    assert cbc_crypt(NIST_KEY, CBC_IV, b"".join(CBC_CIPHER), decrypt=True) == plain
    # 5 trailing bytes: not a whole block, stay clear (23001-7 10.4.2).
    assert encrypt_sample("cbcs", NIST_KEY, CBC_IV, plain + b"tail!") == (
        b"".join(CBC_CIPHER) + b"tail!"
    )
    assert cbc_crypt(NIST_KEY, CBC_IV, b"short") == b"short"


def test_cbcs_video_pattern_encrypts_block_0_and_10_as_one_chain() -> None:
    """1:9 pattern: blocks 0, 10, 20 ... of a range are encrypted, chained through CBC; the
    skipped blocks and a trailing partial block stay clear."""
    blocks = [_filler(16, seed) for seed in range(21)]
    blocks[0], blocks[10], blocks[20] = NIST_PLAIN[0], NIST_PLAIN[1], NIST_PLAIN[2]
    data = b"".join(blocks) + b"xyz"
    want = list(blocks)
    want[0], want[10], want[20] = CBC_CIPHER[0], CBC_CIPHER[1], CBC_CIPHER[2]
    expected = b"".join(want) + b"xyz"
    got = encrypt_sample("cbcs", NIST_KEY, CBC_IV, data, None, (1, 9))
    assert got == expected
    assert decrypt_sample("cbcs", NIST_KEY, CBC_IV, got, None, (1, 9)) == data
    assert crypt_sample("cbcs", NIST_KEY, CBC_IV, got, [(0, len(data))], (1, 9), decrypt=True) == (
        data
    )


def test_cbcs_two_full_runs_take_the_single_run_path_correctly() -> None:
    """Exactly one pattern run (11..160 bytes) and exactly two (176 bytes)."""
    one = NIST_PLAIN[0] + _filler(150)
    assert cbc_crypt(NIST_KEY, CBC_IV, one, pattern=(1, 9)) == CBC_CIPHER[0] + one[16:]
    two = NIST_PLAIN[0] + _filler(144) + NIST_PLAIN[1]
    assert len(two) == 176
    want = CBC_CIPHER[0] + two[16:160] + CBC_CIPHER[1]
    assert cbc_crypt(NIST_KEY, CBC_IV, two, pattern=(1, 9)) == want


def test_cbcs_iv_restarts_at_every_subsample() -> None:
    """cbcs uses the constant IV for every subsample (23001-7 10.4.2), so the same plaintext
    block at the start of two subsamples encrypts to the same bytes."""
    clear = b"\x00\x01\x02"
    data = clear + NIST_PLAIN[0] + NIST_PLAIN[1] + clear + NIST_PLAIN[0] + NIST_PLAIN[1]
    subs = [(3, 32), (3, 32)]
    want = clear + CBC_CIPHER[0] + CBC_CIPHER[1] + clear + CBC_CIPHER[0] + CBC_CIPHER[1]
    assert encrypt_sample("cbcs", NIST_KEY, CBC_IV, data, subs) == want
    assert decrypt_sample("cbcs", NIST_KEY, CBC_IV, want, subs) == data
    # With the video pattern: only the first block of each subsample, each from the IV.
    want = clear + CBC_CIPHER[0] + NIST_PLAIN[1] + clear + CBC_CIPHER[0] + NIST_PLAIN[1]
    assert encrypt_sample("cbcs", NIST_KEY, CBC_IV, data, subs, (1, 9)) == want


def test_cbcs_pattern_2_3_with_a_shorter_last_run() -> None:
    """(2, 3): 32 bytes encrypted in every 80; a last run of one whole block (plus a partial
    block) is encrypted as far as its whole blocks go."""
    data = _filler(80 * 2 + 16 + 7, seed=3)
    gathered = data[0:32] + data[80:112] + data[160:176]
    enc = _cbc(KEY, CBC_IV, gathered)
    want = bytearray(data)
    want[0:32], want[80:112], want[160:176] = enc[:32], enc[32:64], enc[64:]
    assert cbc_crypt(KEY, CBC_IV, data, pattern=(2, 3)) == bytes(want)
    assert cbc_crypt(KEY, CBC_IV, bytes(want), pattern=(2, 3), decrypt=True) == data


def test_cbcs_many_runs_match_a_gathered_cbc_reference() -> None:
    for pattern in ((1, 9), (2, 3), (3, 1), (5, 5)):
        crypt, skip = pattern
        for size in (16 * (crypt + skip) * 7 + 5, 16 * (crypt + skip) * 4 + 16 * crypt):
            data = _filler(size, seed=size)
            starts = range(0, size, 16 * (crypt + skip))
            runs = [(s, min(16 * crypt, (size - s) // 16 * 16)) for s in starts if size - s >= 16]
            enc = _cbc(KEY, CBC_IV, b"".join(data[s : s + n] for s, n in runs))
            want, pos = bytearray(data), 0
            for s, n in runs:
                want[s : s + n] = enc[pos : pos + n]
                pos += n
            assert cbc_crypt(KEY, CBC_IV, data, pattern=pattern) == bytes(want), (pattern, size)
            assert decrypt_sample("cbcs", KEY, CBC_IV, bytes(want), [], pattern) == data


def test_cbcs_refuses_an_iv_that_is_not_16_bytes() -> None:
    for size in (0, 8, 15, 17):
        with pytest.raises(ValueError) as caught:
            cbc_crypt(KEY, bytes(size), bytes(32))
        assert str(caught.value) == f"cbcs IV must be 16 bytes, not {size}"
    with pytest.raises(ValueError, match="cbcs IV must be 16 bytes, not 8"):
        encrypt_sample("cbcs", KEY, bytes(8), bytes(32))


def test_unknown_scheme_is_refused_with_the_known_ones() -> None:
    for scheme in ("cens", "cbc1", "CENC"):
        with pytest.raises(ValueError) as caught:
            crypt_sample(scheme, KEY, bytes(16), bytes(32))
        assert str(caught.value) == (
            f"unsupported protection scheme {scheme!r} (want one of ('cenc', 'cbcs'))"
        )
    assert cipher.SCHEMES == ("cenc", "cbcs")


# --- pattern runs ---------------------------------------------------------------------------
def test_pattern_runs_without_a_pattern_is_every_whole_block() -> None:
    assert pattern_runs(0, (0, 0)) == (0, 0, 0, 0)
    assert pattern_runs(15, (0, 0)) == (0, 0, 0, 0)
    assert pattern_runs(16, (0, 0)) == (16, 16, 1, 0)
    assert pattern_runs(47, (0, 0)) == (32, 32, 1, 0)
    # A half-given pattern (crypt or skip 0) also means every whole block.
    assert pattern_runs(48, (1, 0)) == (48, 48, 1, 0)
    assert pattern_runs(48, (0, 9)) == (48, 48, 1, 0)


def test_pattern_runs_boundaries() -> None:
    assert pattern_runs(0, (1, 9)) == (16, 160, 0, 0)
    assert pattern_runs(160, (1, 9)) == (16, 160, 1, 0)
    assert pattern_runs(161, (1, 9)) == (16, 160, 1, 0)  # 1 byte at 160: no second run
    assert pattern_runs(336, (1, 9)) == (16, 160, 3, 0)
    assert pattern_runs(31, (2, 3)) == (32, 80, 0, 16)
    assert pattern_runs(32, (2, 3)) == (32, 80, 1, 0)
    assert pattern_runs(95, (2, 3)) == (32, 80, 1, 0)
    assert pattern_runs(96, (2, 3)) == (32, 80, 1, 16)
    assert pattern_runs(111, (2, 3)) == (32, 80, 1, 16)
    assert pattern_runs(112, (2, 3)) == (32, 80, 2, 0)
