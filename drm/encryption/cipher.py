"""Sample encryption for the two CENC schemes, pure over bytes (ISO/IEC 23001-7 9.5, 10.4).

- cenc: AES-128-CTR. The protected ranges of one sample form one key stream, starting at the
  sample's IV (an 8-byte IV is the counter block's upper half), so they go through a single
  AES call and are scattered back.
- cbcs: AES-128-CBC with a crypt:skip pattern of 16-byte blocks inside each protected range,
  restarting from the constant IV at every subsample; a trailing partial block stays clear.
  With no pattern (audio) every whole block of the range is encrypted.

Encrypting and decrypting are the same walk over the sample, so both share it.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

Subsamples = Sequence[tuple[int, int]]
Pattern = tuple[int, int]  # (crypt_byte_block, skip_byte_block); (0, 0) = no pattern
NO_PATTERN: Pattern = (0, 0)
BLOCK = 16
SCHEMES = ("cenc", "cbcs")


def protected_ranges(size: int, subsamples: Subsamples | None) -> list[tuple[int, int]]:
    """(offset, length) of each non-empty protected range; no subsamples = the whole sample."""
    if not subsamples:
        return [(0, size)] if size else []
    out: list[tuple[int, int]] = []
    pos = 0
    for clear, protected in subsamples:
        pos += clear
        if protected:
            out.append((pos, protected))
        pos += protected
    if pos != size:
        raise ValueError(f"subsamples cover {pos} bytes, the sample has {size}")
    return out


def ctr_counter_block(iv: bytes) -> bytes:
    if len(iv) not in (8, 16):
        raise ValueError(f"cenc IV must be 8 or 16 bytes, not {len(iv)}")
    return iv.ljust(BLOCK, b"\0")


def ctr_crypt(key: bytes, iv: bytes, data: bytes, subsamples: Subsamples | None = None) -> bytes:
    """cenc encryption and decryption (CTR is its own inverse)."""
    ranges = protected_ranges(len(data), subsamples)
    if not ranges:
        return bytes(data)
    crypt = Cipher(algorithms.AES(key), modes.CTR(ctr_counter_block(iv))).encryptor()
    view = memoryview(data)
    if len(ranges) == 1:
        start, length = ranges[0]
        if length == len(data):
            return crypt.update(data)
        middle = crypt.update(view[start : start + length])
        return b"".join((view[:start], middle, view[start + length :]))
    stream = crypt.update(b"".join(view[s : s + n] for s, n in ranges))
    out = bytearray(data)
    pos = 0
    for s, n in ranges:
        out[s : s + n] = stream[pos : pos + n]
        pos += n
    return bytes(out)


def pattern_runs(length: int, pattern: Pattern) -> tuple[int, int, int, int]:
    """How a protected range of `length` bytes splits into encrypted runs:
    (run bytes, stride, runs at full length, bytes of a last shorter run)."""
    crypt, skip = pattern
    whole = length - length % BLOCK
    if crypt == 0 or skip == 0:  # no pattern: every whole block, as one run
        return whole, whole, (1 if whole else 0), 0
    run, stride = crypt * BLOCK, (crypt + skip) * BLOCK
    full = (length - run) // stride + 1 if length >= run else 0
    rest = length - full * stride
    return run, stride, full, max(0, min(rest, run)) // BLOCK * BLOCK


def _cbc_range(
    data: bytes, out: bytearray, start: int, length: int, key: bytes, iv: bytes,
    pattern: Pattern, decrypt: bool,
) -> None:  # fmt: skip
    """Encrypt or decrypt one protected range of `data` into `out` (same offsets).

    Pattern runs are gathered with strided memoryview copies over 8-byte words (a C-level copy
    per word column, not a Python step per run), chained through one CBC call, and scattered
    back the same way."""
    run, stride, full, tail = pattern_runs(length, pattern)
    body = run * full
    if body + tail == 0:
        return
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    gathered = bytearray(body + tail)
    span = (full - 1) * stride + run  # from the first run's start to the last full run's end
    words, stride_words = run // 8, stride // 8
    if full > 1:
        region = memoryview(data)[start : start + span].cast("Q")
        into = memoryview(gathered)[:body].cast("Q")
        for j in range(words):
            into[j::words] = region[j::stride_words]
    else:
        gathered[:body] = memoryview(data)[start : start + body]
    tail_at = start + full * stride
    if tail:
        gathered[body:] = memoryview(data)[tail_at : tail_at + tail]
    result = memoryview(op.update(gathered))
    if full > 1:
        region = memoryview(out)[start : start + span].cast("Q")
        words_out = result[:body].cast("Q")
        for j in range(words):
            region[j::stride_words] = words_out[j::words]
    else:
        out[start : start + body] = result[:body]
    if tail:
        out[tail_at : tail_at + tail] = result[body:]


def cbc_crypt(
    key: bytes,
    iv: bytes,
    data: bytes,
    subsamples: Subsamples | None = None,
    pattern: Pattern = NO_PATTERN,
    *,
    decrypt: bool = False,
) -> bytes:
    """cbcs encryption (or decryption): CBC per protected range, restarting at `iv` each time."""
    if len(iv) != BLOCK:
        raise ValueError(f"cbcs IV must be 16 bytes, not {len(iv)}")
    ranges = protected_ranges(len(data), subsamples)
    out = bytearray(data)
    for start, length in ranges:
        _cbc_range(data, out, start, length, key, iv, pattern, decrypt)
    return bytes(out)


def crypt_sample(
    scheme: str,
    key: bytes,
    iv: bytes,
    data: bytes,
    subsamples: Subsamples | None = None,
    pattern: Pattern = NO_PATTERN,
    *,
    decrypt: bool = False,
) -> bytes:
    """Encrypt (or decrypt) one sample; `subsamples` None or empty means the full sample.
    CTR is its own inverse; CBC needs the direction."""
    if scheme == "cenc":
        return ctr_crypt(key, iv, data, subsamples)
    if scheme == "cbcs":
        return cbc_crypt(key, iv, data, subsamples, pattern, decrypt=decrypt)
    raise ValueError(f"unsupported protection scheme {scheme!r} (want one of {SCHEMES})")


def encrypt_sample(
    scheme: str,
    key: bytes,
    iv: bytes,
    data: bytes,
    subsamples: Subsamples | None = None,
    pattern: Pattern = NO_PATTERN,
) -> bytes:
    return crypt_sample(scheme, key, iv, data, subsamples, pattern)


def decrypt_sample(
    scheme: str,
    key: bytes,
    iv: bytes,
    data: bytes,
    subsamples: Subsamples | None = None,
    pattern: Pattern = NO_PATTERN,
) -> bytes:
    """Inverse of `encrypt_sample` (used to verify output and by tests)."""
    return crypt_sample(scheme, key, iv, data, subsamples, pattern, decrypt=True)
