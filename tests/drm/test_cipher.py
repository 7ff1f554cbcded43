"""The CENC ciphers and auxiliary boxes (drm/encryption/cipher.py, sample.py), pure over
bytes: both schemes against a block-by-block reference built on AES-ECB alone."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from drm.encryption.cipher import decrypt_sample, encrypt_sample, pattern_runs
from drm.encryption.sample import SampleAuxInfo, aux_boxes, parse_senc
from tests.support.cenc_tracks import SCHEMES


# --- the ciphers against a block-by-block reference -----------------------------------------
def _ecb(key: bytes, block: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)


def reference_encrypt(
    scheme: str,
    key: bytes,
    iv: bytes,
    data: bytes,
    subs: list[tuple[int, int]],
    pattern: tuple[int, int],
) -> bytes:
    """The spec, one 16-byte block at a time, with nothing but AES-ECB."""
    out = bytearray(data)
    ranges, pos = [], 0
    for clear, protected in subs or [(0, len(data))]:
        ranges.append((pos + clear, protected))
        pos += clear + protected
    if scheme == "cenc":
        counter, keystream = int.from_bytes(iv.ljust(16, b"\0"), "big"), b""
        for start, n in ranges:
            for i in range(n):
                if not keystream:
                    keystream = _ecb(key, counter.to_bytes(16, "big"))
                    counter += 1
                out[start + i] ^= keystream[0]
                keystream = keystream[1:]
        return bytes(out)
    crypt, skip = pattern
    for start, n in ranges:
        chain = iv
        for b in range(n // 16):
            in_pattern = crypt == 0 or skip == 0 or b % (crypt + skip) < crypt
            if in_pattern:
                block = bytes(
                    x ^ y
                    for x, y in zip(data[start + 16 * b : start + 16 * b + 16], chain, strict=True)
                )
                chain = _ecb(key, block)
                out[start + 16 * b : start + 16 * b + 16] = chain
    return bytes(out)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("pattern", [(0, 0), (1, 9), (2, 3)])
def test_ciphers_match_the_block_by_block_reference(scheme: str, pattern: tuple[int, int]) -> None:
    rng = __import__("random").Random(7)
    key = bytes(rng.randrange(256) for _ in range(16))
    iv = bytes(rng.randrange(256) for _ in range(8 if scheme == "cenc" else 16))
    for size in (0, 5, 16, 31, 160, 175, 176, 1000, 5003):
        data = bytes(rng.randrange(256) for _ in range(size))
        maps: list[list[tuple[int, int]]] = [[]]
        if size:
            cuts = sorted(rng.randrange(size + 1) for _ in range(6))
            bounds = [0, *cuts, size]
            maps.append([(bounds[i + 1] - bounds[i], bounds[i + 2] - bounds[i + 1])
                         for i in range(0, len(bounds) - 2, 2)] + [(0, 0)])  # fmt: skip
            maps[-1][-1] = (size - sum(c + p for c, p in maps[-1]), 0)
        for subs in maps:
            want = reference_encrypt(scheme, key, iv, data, subs, pattern)
            got = encrypt_sample(scheme, key, iv, data, subs, pattern)
            assert got == want, (size, subs)
            assert decrypt_sample(scheme, key, iv, got, subs, pattern) == data


def test_pattern_runs() -> None:
    assert pattern_runs(15, (1, 9)) == (16, 160, 0, 0)
    assert pattern_runs(16, (1, 9)) == (16, 160, 1, 0)
    assert pattern_runs(175, (1, 9)) == (16, 160, 1, 0)  # 15 bytes left at 160: clear
    assert pattern_runs(176, (1, 9)) == (16, 160, 2, 0)
    assert pattern_runs(190, (2, 3)) == (32, 80, 2, 16)  # 30 bytes at 160: one whole block
    assert pattern_runs(200, (2, 3)) == (32, 80, 3, 0)
    assert pattern_runs(100, (0, 0)) == (96, 96, 1, 0)  # no pattern: whole blocks


def test_saiz_default_table_or_omitted() -> None:
    same = [SampleAuxInfo(bytes(8), ((10, 32),))] * 3
    mixed = [SampleAuxInfo(bytes(8), ((10, 32),)), SampleAuxInfo(bytes(8), ((5, 16), (7, 48)))]
    saiz, saio, senc = aux_boxes(same, True)
    assert (saiz.default_sample_info_size, saiz.sample_count) == (16, 3)
    assert saiz.to_bytes() == bytes.fromhex("000000117361697a000000001000000003")
    assert saio.box_type == "saio" and senc.flags == 0x2 and senc.sample_count == 3
    saiz, _, senc = aux_boxes(mixed, True)
    assert (saiz.default_sample_info_size, saiz.sample_info_sizes) == (0, bytes([16, 22]))
    assert parse_senc(senc, 8) == mixed
    audio = [SampleAuxInfo(bytes([k]) * 8) for k in range(4)]
    saiz, _, senc = aux_boxes(audio, False)
    assert (saiz.default_sample_info_size, senc.flags, len(senc.entries)) == (8, 0, 32)
    assert parse_senc(senc, 8) == audio
    constant_iv = [SampleAuxInfo(b"")] * 4  # cbcs audio: nothing per sample
    (senc,) = aux_boxes(constant_iv, False)
    assert (senc.box_type, senc.sample_count, senc.entries) == ("senc", 4, b"")
    with pytest.raises(ValueError, match="saiz"):
        aux_boxes([SampleAuxInfo(bytes(8), ((1, 16),) * 42)], True)
