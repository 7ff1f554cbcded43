"""CENC packaging of CMAF tracks (drm/encryption/sample.py): the init segment's protection
signalling, the fragment layout (saio, saiz, senc, trun.data_offset), streaming memory and
refusals. Independent decryption is in test_decrypt_peers.py, the ciphers in test_cipher.py.
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import pytest

from core.errors import PackageError
from drm.encryption.cipher import decrypt_sample
from drm.encryption.sample import TrackEncryptor, parse_senc
from pipeline.mp4.base import Box, parse_box, parse_boxes
from pipeline.mp4.boxes import Pssh
from pipeline.mp4.codecs import sample_entry
from pipeline.mp4.fragment import OutSample, build_moof, layout_fragment
from pipeline.mp4.reader import read_init
from pipeline.package.packager import package_track
from tests.support.cenc_clips import FRAGMENTED, clip_dir, make_clip, read_samples
from tests.support.cenc_tracks import (
    KEY,
    KID,
    SCHEMES,
    Packager,
    fragments,
    run,
    segments,
    tenc_of,
)


# --- init segment ---------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kind", ["h264_cabac", "aac"])
def test_init_segment_signals_protection(
    kind: str, scheme: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    src = make_clip(kind, clip_dir(tmp_path_factory))
    pssh = Pssh(version=1, system_id=bytes.fromhex("1077efecc0b24d02ace33c1e52e2fb4b"),
                kids=[{"kid": KID}], data=b"")  # fmt: skip
    iv = bytes(range(8 if scheme == "cenc" else 16))
    enc = TrackEncryptor(scheme, KID, KEY, iv=iv, pssh=[pssh])
    track = package_track(src, tmp_path, "t", transform=enc, init_transform=enc.init_transform)
    moov = next(
        b for b in parse_boxes((tmp_path / "t/init.mp4").read_bytes()) if b.box_type == "moov"
    )
    entry = sample_entry(moov)
    video = kind != "aac"
    assert entry.box_type == ("encv" if video else "enca")
    assert [c.box_type for c in entry.children][0] == ("avcC" if video else "esds")
    sinf = entry.find("sinf")
    assert sinf is not None and entry.children[-1] is sinf
    assert [c.box_type for c in sinf.children] == ["frma", "schm", "schi"]
    assert sinf.find("frma").data_format == ("avc1" if video else "mp4a")
    schm = sinf.find("schm")
    assert (schm.scheme_type, schm.scheme_version) == (scheme, 0x10000)
    tenc = sinf.find("schi/tenc")
    assert tenc.default_kid == KID and tenc.default_is_protected == 1
    if scheme == "cenc":
        assert (tenc.version, tenc.pattern, tenc.default_per_sample_iv_size) == (0, 0, 8)
        assert tenc.default_constant_iv is None
    else:
        assert (tenc.version, tenc.pattern) == (1, 0x19 if video else 0x00)
        assert tenc.default_per_sample_iv_size == 0
        assert (tenc.default_constant_iv_size, tenc.default_constant_iv) == (16, iv)
    assert [b.to_bytes() for b in moov.find_all("pssh")] == [pssh.to_bytes()]
    assert track.codecs.startswith("avc1." if video else "mp4a.40.2")


# --- fragment layout: saio, saiz, senc, trun.data_offset ------------------------------------
def _scan(data: bytes, start: int, end: int) -> dict[str, tuple[int, int]]:
    """Box type -> (offset, size) of the boxes directly inside data[start:end], by raw bytes."""
    out, pos = {}, start
    while pos < end:
        size, raw = struct.unpack_from(">I4s", data, pos)
        out[raw.decode()] = (pos, size)
        pos += size
    return out


@pytest.mark.parametrize("scheme", SCHEMES)
def test_crafted_fragment_offsets_pinned(
    scheme: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    src = make_clip("h264_cabac", clip_dir(tmp_path_factory))
    _, moov = read_init(src)
    clear = read_samples(src)[:5]
    iv = bytes.fromhex("fffffffffffffffe") if scheme == "cenc" else bytes(range(16))
    enc = TrackEncryptor(scheme, KID, KEY, iv=iv)
    enc.init_transform(sample_entry(moov))
    out = [OutSample(512, len(p), i == 0, 1024) for i, p in enumerate(clear)]
    payloads, extra = enc(out, clear, 1)
    assert [b.box_type for b in extra] == ["saiz", "saio", "senc"]
    frag = layout_fragment(build_moof(1, 0, out, video=True, traf_extra=extra), b"".join(payloads))
    data = frag.data

    top = _scan(data, 0, len(data))
    moof_size = top["moof"][1]
    assert frag.moof_size == moof_size and top["mdat"] == (moof_size, 8 + sum(map(len, clear)))
    traf_at, traf_size = _scan(data, 8, moof_size)["traf"]
    traf = _scan(data, traf_at + 8, traf_at + traf_size)
    assert list(traf) == ["tfhd", "tfdt", "trun", "saiz", "saio", "senc"]

    senc_at = traf["senc"][0]
    (saio_offset,) = struct.unpack_from(">I", data, traf["saio"][0] + 16)
    assert struct.unpack_from(">II", data, traf["saio"][0] + 8) == (0, 1)  # v0, one entry
    assert saio_offset == senc_at + 16  # first entry, after header, flags and sample_count
    (trun_offset,) = struct.unpack_from(">i", data, traf["trun"][0] + 16)
    assert trun_offset == moof_size + 8
    assert data[trun_offset : trun_offset + len(payloads[0])] == payloads[0]

    senc_flags, count = struct.unpack_from(">II", data, senc_at + 8)
    assert (senc_flags, count) == (0x2, 5)
    saiz_at = traf["saiz"][0]
    flags, default_size, n = struct.unpack_from(">IBI", data, saiz_at + 8)
    sizes = list(data[saiz_at + 17 : saiz_at + 17 + n]) if default_size == 0 else [default_size] * n
    assert flags == 0 and n == 5
    # One slice per picture (the SEI before the first joins its clear range): IV + 2 + 6 * 1.
    assert sizes == [(8 if scheme == "cenc" else 0) + 2 + 6] * 5
    # Walk the senc entries from the saio offset: sizes, IVs, subsample maps.
    pos, iv_size = saio_offset, (8 if scheme == "cenc" else 0)
    for k, (size, sample, stored) in enumerate(zip(sizes, clear, payloads, strict=True)):
        sample_iv = data[pos : pos + iv_size]
        (subcount,) = struct.unpack_from(">H", data, pos + iv_size)
        assert size == iv_size + 2 + 6 * subcount
        subs = [struct.unpack_from(">HI", data, pos + iv_size + 2 + 6 * j) for j in range(subcount)]
        if scheme == "cenc":
            assert sample_iv == ((0xFFFFFFFFFFFFFFFE + k) % 2**64).to_bytes(8, "big")  # wraps
        assert sum(c + p for c, p in subs) == len(sample)
        assert stored != sample
        assert decrypt_sample(scheme, KEY, sample_iv or iv, stored, subs, enc.pattern) == sample
        pos += size
    assert pos == senc_at + traf["senc"][1]


@pytest.mark.slow
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kind", ["h264_cabac", "hevc_slices", "aac"])
def test_every_fragment_is_consistent(kind: str, scheme: str, packaged: Packager) -> None:
    _, clear_dir, enc_dir = packaged(kind, scheme)
    iv_size = tenc_of((enc_dir / "init.mp4").read_bytes()).default_per_sample_iv_size
    ivs: list[bytes] = []
    for seg, clear_seg in zip(segments(enc_dir), segments(clear_dir), strict=True):
        for frag, clear_frag in zip(
            fragments(seg.read_bytes()), fragments(clear_seg.read_bytes()), strict=True
        ):
            moof, _ = parse_box(frag)
            traf = moof.find("traf")
            senc, saiz, saio = traf.find("senc"), traf.find("saiz"), traf.find("saio")
            senc_at = frag.index(b"senc") - 4
            infos = parse_senc(senc, iv_size)
            video = kind != "aac"
            if kind == "aac" and scheme == "cbcs":  # constant IV, no subsamples: nothing stored
                assert saiz is None and saio is None and senc.entries == b""
            else:
                assert saio.offsets == [{"offset": senc_at + 16}]
                sizes = (
                    list(saiz.sample_info_sizes)
                    if saiz.default_sample_info_size == 0
                    else [saiz.default_sample_info_size] * saiz.sample_count
                )
                want = [iv_size + (2 + 6 * len(i.subsamples) if video else 0) for i in infos]
                assert sizes == want
            assert moof.find("traf/trun").data_offset == len(moof.to_bytes()) + 8
            ivs += [i.iv for i in infos]
            # Same sample sizes as the clear packaging, different bytes.
            clear_moof, _ = parse_box(clear_frag)
            assert [r["size"] for r in clear_moof.find("traf/trun").samples] == [
                r["size"] for r in moof.find("traf/trun").samples
            ]
    if scheme == "cenc":  # one IV per sample, counting up from a random start
        values = [int.from_bytes(v, "big") for v in ivs]
        assert values == [(values[0] + k) % 2**64 for k in range(len(values))]


# --- streaming ------------------------------------------------------------------------------
@pytest.mark.slow
def test_encryption_streams_segment_by_segment(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Peak Python allocations while packaging + encrypting stay a small multiple of one
    segment, far below the track size (nothing holds the whole track)."""
    src = clip_dir(tmp_path_factory) / "big.mp4"
    if not src.exists():
        run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
             "-i", "testsrc2=size=640x360:rate=25:duration=48", "-c:v", "libx264",
             "-preset", "ultrafast", "-crf", "8", "-g", "50", "-keyint_min", "50",
             "-pix_fmt", "yuv420p", *FRAGMENTED, str(src)])  # fmt: skip
    track_size = src.stat().st_size
    enc = TrackEncryptor("cenc", KID, KEY)
    tracemalloc.start()
    try:
        package_track(src, tmp_path, "v", transform=enc, init_transform=enc.init_transform)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    biggest = max(p.stat().st_size for p in segments(tmp_path / "v"))
    assert len(segments(tmp_path / "v")) == 8
    assert track_size > 20_000_000
    assert peak < 4 * biggest + 2_000_000
    assert peak < track_size / 2


# --- refusals -------------------------------------------------------------------------------
def test_refuses_bad_parameters_and_hides_the_key(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(ValueError, match="scheme"):
        TrackEncryptor("cens", KID, KEY)
    with pytest.raises(ValueError, match="16 bytes"):
        TrackEncryptor("cenc", KID, KEY[:8])
    with pytest.raises(ValueError, match="IV"):
        TrackEncryptor("cbcs", KID, KEY, iv=bytes(8))
    enc = TrackEncryptor("cenc", KID, KEY)
    assert KEY.hex() not in repr(enc) and KEY.hex() not in str(vars(enc).get("kid", b"").hex())
    with pytest.raises(RuntimeError, match="init_transform"):
        enc([OutSample(1, 1, True)], [b"x"], 1)
    av1 = Box("av01", children=[])
    with pytest.raises(ValueError, match="av01"):
        enc.init_transform(av1)
    # A decoder configuration without its PPS: slices cannot be measured, packaging stops.
    src = make_clip("h264_cabac", clip_dir(tmp_path_factory))
    enc = TrackEncryptor("cenc", KID, KEY)

    def without_pps(entry: Box) -> tuple[Box, list[Box]]:
        avcc = entry.find("avcC")
        pos = 6
        for _ in range(avcc.data[5] & 0x1F):
            pos += 2 + int.from_bytes(avcc.data[pos : pos + 2], "big")
        avcc.data = avcc.data[:pos] + b"\x00"
        return enc.init_transform(entry)

    with pytest.raises(PackageError, match="unknown PPS"):
        package_track(src, tmp_path_factory.mktemp("bad"), "v", transform=enc,
                      init_transform=without_pps)  # fmt: skip
