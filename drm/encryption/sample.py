"""CENC for CMAF tracks: the hooks `package_track` calls to encrypt a track as it is packaged.

    enc = TrackEncryptor("cbcs", kid, key)
    package_track(src, out_dir, "v1", transform=enc, init_transform=enc.init_transform)

The init hook turns the sample entry into encv/enca carrying sinf (frma + schm + schi/tenc);
the chunk hook encrypts one fragment's samples and returns the traf boxes describing them
(saiz, saio, senc). saio's offset is filled in when the moof is laid out
(`pipeline.mp4.fragment.point_saio_at_senc`). Keys are only ever held, never logged.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from drm.encryption.cipher import NO_PATTERN, SCHEMES, Pattern, encrypt_sample
from drm.encryption.subsamples import Subsample, subsample_map
from pipeline.bitstream.nal import NalContext, avc_context, hevc_context, learn_parameter_sets
from pipeline.mp4.base import Box, parse_box
from pipeline.mp4.boxes import Frma, Saio, Saiz, Schm, Senc, Tenc
from pipeline.mp4.fragment import OutSample

VIDEO_PATTERN: Pattern = (1, 9)  # cbcs video: encrypt 1 block of 16 bytes, skip 9
CENC_IV_SIZE = 8
SENC_USE_SUBSAMPLES = 0x2
NAL_CONFIGS = {"avc1": "avcC", "avc3": "avcC", "hvc1": "hvcC", "hev1": "hvcC"}
IN_BAND_PARAMETER_SETS = ("avc3", "hev1")
VIDEO_ENTRIES = ("avc1", "avc3", "hvc1", "hev1", "av01", "vp09")
AUDIO_ENTRIES = ("mp4a", "ac-3", "ec-3", "Opus", "fLaC")
_SUBSAMPLE = struct.Struct(">HI")
_U16 = struct.Struct(">H")


@dataclass(frozen=True)
class SampleAuxInfo:
    """One senc entry: the sample's IV (empty with a constant IV) and its subsamples."""

    iv: bytes
    subsamples: tuple[Subsample, ...] = ()

    def size(self, use_subsamples: bool) -> int:
        return len(self.iv) + (2 + 6 * len(self.subsamples) if use_subsamples else 0)

    def to_bytes(self, use_subsamples: bool) -> bytes:
        if not use_subsamples:
            return self.iv
        parts = [self.iv, _U16.pack(len(self.subsamples))]
        parts += [_SUBSAMPLE.pack(c, p) for c, p in self.subsamples]
        return b"".join(parts)


# --- init segment ---------------------------------------------------------------------------
def tenc_box(kid: bytes, *, iv_size: int, constant_iv: bytes | None, pattern: Pattern) -> Box:
    """tenc: version 1 when a pattern is signalled (cbcs), else version 0."""
    use_pattern = pattern != NO_PATTERN or iv_size == 0
    return Tenc(
        version=1 if use_pattern else 0,
        pattern=(pattern[0] << 4 | pattern[1]) if use_pattern else 0,
        default_is_protected=1,
        default_per_sample_iv_size=iv_size,
        default_kid=kid,
        default_constant_iv_size=len(constant_iv) if constant_iv is not None else None,
        default_constant_iv=constant_iv,
    )


def sinf_box(original_format: str, scheme: str, tenc: Box) -> Box:
    return Box(
        "sinf",
        children=[
            Frma(data_format=original_format),
            Schm(scheme_type=scheme, scheme_version=0x00010000),
            Box("schi", children=[tenc]),
        ],
    )


def protected_entry(entry: Box, sinf: Box) -> Box:
    """A copy of the sample entry renamed encv/enca with sinf appended (the clear one is kept
    untouched for the caller's own use)."""
    copy, _ = parse_box(entry.to_bytes())
    copy.box_type = "encv" if entry.box_type in VIDEO_ENTRIES else "enca"
    copy.children = [c for c in copy.children if c.box_type != "sinf"] + [sinf]
    return copy


# --- media segments -------------------------------------------------------------------------
def senc_box(infos: Sequence[SampleAuxInfo], use_subsamples: bool) -> Box:
    return Senc(
        flags=SENC_USE_SUBSAMPLES if use_subsamples else 0,
        sample_count=len(infos),
        entries=b"".join(i.to_bytes(use_subsamples) for i in infos),
    )


def saiz_box(sizes: Sequence[int]) -> Box:
    """saiz with a default size when every sample's info has the same size, else a table."""
    if any(s > 0xFF for s in sizes):
        raise ValueError("a sample has too many subsamples for saiz (info over 255 bytes)")
    if sizes and all(s == sizes[0] for s in sizes) and sizes[0] > 0:
        return Saiz(default_sample_info_size=sizes[0], sample_count=len(sizes))
    return Saiz(default_sample_info_size=0, sample_count=len(sizes), sample_info_sizes=bytes(sizes))


def aux_boxes(infos: Sequence[SampleAuxInfo], use_subsamples: bool) -> list[Box]:
    """saiz + saio + senc for one traf. With nothing to store per sample (constant IV, no
    subsamples: cbcs audio) the auxiliary information is empty and saiz/saio are omitted
    (ISO/IEC 23001-7 7.1); senc still gives the sample count."""
    senc = senc_box(infos, use_subsamples)
    sizes = [i.size(use_subsamples) for i in infos]
    if not any(sizes):
        return [senc]
    return [saiz_box(sizes), Saio(offsets=[{"offset": 0}]), senc]


def parse_senc(senc: Box, iv_size: int) -> list[SampleAuxInfo]:
    """Entries of a senc box; the IV size comes from tenc (it is not in senc itself)."""
    data, pos = senc.entries, 0
    use_subsamples = bool(senc.flags & SENC_USE_SUBSAMPLES)
    out: list[SampleAuxInfo] = []
    for _ in range(senc.sample_count):
        iv = data[pos : pos + iv_size]
        pos += iv_size
        subs: tuple[Subsample, ...] = ()
        if use_subsamples:
            if pos + 2 > len(data):
                raise ValueError("senc entries are truncated")
            (count,) = _U16.unpack_from(data, pos)
            pos += 2
            if pos + 6 * count > len(data):
                raise ValueError("senc entries are truncated")
            subs = tuple(_SUBSAMPLE.unpack_from(data, pos + 6 * k) for k in range(count))
            pos += 6 * count
        if len(iv) != iv_size or pos > len(data):
            raise ValueError("senc entries are truncated")
        out.append(SampleAuxInfo(iv, subs))
    return out


# --- the hooks ------------------------------------------------------------------------------
class TrackEncryptor:
    """Encrypts one track for `package_track`: call `init_transform` (the init segment) first,
    then the instance itself once per chunk, in order. cenc IVs count up per sample from a
    random 8-byte start; cbcs uses one constant 16-byte IV. Pass `iv` to pin them (tests)."""

    def __init__(
        self,
        scheme: str,
        kid: bytes,
        key: bytes,
        *,
        iv: bytes | None = None,
        pssh: Sequence[Box] = (),
    ):
        if scheme not in SCHEMES:
            raise ValueError(f"unsupported protection scheme {scheme!r} (want one of {SCHEMES})")
        if len(kid) != 16 or len(key) != 16:
            raise ValueError("KID and key must be 16 bytes each")
        iv_len = CENC_IV_SIZE if scheme == "cenc" else 16
        if iv is not None and len(iv) != iv_len:
            raise ValueError(f"{scheme} IV must be {iv_len} bytes")
        self.scheme, self.kid, self._key = scheme, kid, key
        self.iv = iv if iv is not None else os.urandom(iv_len)
        self.pssh = list(pssh)
        self.pattern: Pattern = NO_PATTERN
        self._nal: NalContext | None = None
        self._in_band = False
        self._ready = False
        self._count = 0  # samples encrypted so far (cenc IV counter)

    def __repr__(self) -> str:  # never show the key
        return f"TrackEncryptor(scheme={self.scheme!r}, kid={self.kid.hex()})"

    @property
    def iv_size(self) -> int:
        return CENC_IV_SIZE if self.scheme == "cenc" else 0

    def init_transform(self, entry: Box) -> tuple[Box, list[Box]]:
        """(encv/enca sample entry, pssh boxes for moov)."""
        fmt = entry.box_type
        if fmt in NAL_CONFIGS:
            config = entry.find(NAL_CONFIGS[fmt])
            if config is None:
                raise ValueError(f"sample entry '{fmt}' has no {NAL_CONFIGS[fmt]}")
            self._nal = avc_context(config.data) if fmt[:3] == "avc" else hevc_context(config.data)
            self._in_band = fmt in IN_BAND_PARAMETER_SETS
            self.pattern = VIDEO_PATTERN if self.scheme == "cbcs" else NO_PATTERN
        elif fmt in VIDEO_ENTRIES:
            raise ValueError(f"CENC subsample encryption of '{fmt}' video is not supported")
        elif fmt not in AUDIO_ENTRIES:
            raise ValueError(f"cannot encrypt sample entry '{fmt}'")
        tenc = tenc_box(
            self.kid,
            iv_size=self.iv_size,
            constant_iv=self.iv if self.scheme == "cbcs" else None,
            pattern=self.pattern,
        )
        self._ready = True
        return protected_entry(entry, sinf_box(fmt, self.scheme, tenc)), list(self.pssh)

    def __call__(
        self, samples: list[OutSample], payloads: list[bytes], sequence: int
    ) -> tuple[list[bytes], list[Box]]:
        """Encrypt one chunk; return its payloads and the traf boxes (saiz, saio, senc)."""
        if not self._ready:
            raise RuntimeError("init_transform must run before the samples are encrypted")
        out: list[bytes] = []
        infos: list[SampleAuxInfo] = []
        for payload in payloads:
            subs: tuple[Subsample, ...] = ()
            if self._nal is not None:
                subs = tuple(subsample_map(payload, self._nal, align16=self.scheme == "cenc"))
                if self._in_band:
                    self._nal = learn_parameter_sets(payload, self._nal)
            iv = self._next_iv()
            key_iv = iv if self.scheme == "cenc" else self.iv
            out.append(encrypt_sample(self.scheme, self._key, key_iv, payload, subs, self.pattern))
            infos.append(SampleAuxInfo(iv, subs))
        return out, aux_boxes(infos, self._nal is not None)

    def _next_iv(self) -> bytes:
        if self.scheme != "cenc":
            return b""
        value = (int.from_bytes(self.iv, "big") + self._count) % (1 << 64)
        self._count += 1
        return value.to_bytes(CENC_IV_SIZE, "big")
