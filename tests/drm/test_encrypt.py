"""CENC sample encryption of CMAF tracks (drm/encryption/cipher.py, drm/encryption/sample.py).

Every encrypted output is checked by decrypting it with independent implementations: FFmpeg
(one fragment at a time: FFmpeg 5.1 loses count of senc entries across fragments when there
is no sidx, for any packager's output) and Shaka Packager (whole tracks), and by comparing the
decoded frames with the clear packaging of the same input. Shaka Packager also encrypts the
same inputs, and its subsample maps must equal ours sample for sample.
"""

from __future__ import annotations

import struct
import subprocess
import tracemalloc
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.errors import PackageError
from drm.encryption.cipher import decrypt_sample, encrypt_sample, pattern_runs
from drm.encryption.sample import SampleAuxInfo, TrackEncryptor, aux_boxes, parse_senc
from pipeline.mp4.base import Box, parse_box, parse_boxes, read_header
from pipeline.mp4.boxes import Pssh
from pipeline.mp4.codecs import sample_entry
from pipeline.mp4.fragment import OutSample, build_moof, layout_fragment
from pipeline.mp4.reader import read_init
from pipeline.package.packager import package_track
from tests.drm.test_subsamples import (
    AUDIO_CLIPS,
    FRAGMENTED,
    VIDEO_CLIPS,
    clip_dir,
    make_clip,
    read_samples,
)

ROOT = Path(__file__).resolve().parents[2]
SHAKA = ROOT / "web/node_modules/shaka-packager/bin/packager-linux-x64"
KID = bytes.fromhex("0123456789abcdef0123456789abcdef")
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
SCHEMES = ("cenc", "cbcs")
DECRYPT_KINDS = ("h264_cabac", "h264_baseline", "hevc")  # FFmpeg/Shaka decryption round trips
# 14 s clips: 25 fps video; AAC frames of 1024 samples, (E-)AC-3 of 1536, at 48 kHz.
MIN_SAMPLES = {
    "h264_cabac": 340,
    "h264_baseline": 340,
    "hevc": 340,
    "aac": 650,
    "eac3": 430,
    "ac3": 430,
}

needs_shaka = pytest.mark.skipif(
    not SHAKA.exists(), reason="Shaka Packager missing: run `bash scripts/setup.sh`"
)


# --- helpers --------------------------------------------------------------------------------
def run(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stderr[-3000:]}"
    return proc.stdout


def framemd5(path: Path, *, key: bytes | None = None, copy: bool = False) -> list[str]:
    """Per-frame MD5 (decoded frames, or the packets themselves with `copy`)."""
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error"]
    if key is not None:
        args += ["-decryption_key", key.hex()]
    args += ["-i", str(path), *(["-c", "copy"] if copy else []), "-f", "framemd5", "-"]
    lines = run(args).splitlines()
    return [line.rsplit(",", 1)[-1].strip() for line in lines if not line.startswith("#")]


def segments(track_dir: Path) -> list[Path]:
    return sorted(track_dir.glob("*.m4s"), key=lambda p: int(p.stem))


def fragments(segment: bytes) -> list[bytes]:
    """The moof+mdat pairs of a media segment."""
    out, pos, moof_at = [], 0, -1
    while pos < len(segment):
        box_type, _, size = read_header(segment, pos)
        if box_type == "moof":
            moof_at = pos
        elif box_type == "mdat":
            out.append(segment[moof_at : pos + size])
        pos += size
    return out


def changed_fraction(clear_fragment: bytes, fragment: bytes) -> float:
    """Share of the mdat payload bytes that differ between two packagings of a fragment."""
    a = clear_fragment[read_header(clear_fragment, 0)[2] + 8 :]
    b = fragment[read_header(fragment, 0)[2] + 8 :]
    assert len(a) == len(b)
    return sum(x != y for x, y in zip(a, b, strict=True)) / len(a)


def concat(parts: list[Path], out: Path) -> Path:
    out.write_bytes(b"".join(p.read_bytes() for p in parts))
    return out


def tenc_of(init: bytes) -> Box:
    moov = next(b for b in parse_boxes(init) if b.box_type == "moov")
    tenc = sample_entry(moov).find("sinf/schi/tenc")
    assert tenc is not None
    return tenc


def fragment_samples(fragment: bytes, iv_size: int) -> list[tuple[bytes, SampleAuxInfo]]:
    """(stored sample bytes, senc entry) for each sample of one moof+mdat."""
    moof, end = parse_box(fragment)
    trun, senc = moof.find("traf/trun"), moof.find("traf/senc")
    assert trun is not None and senc is not None
    infos = parse_senc(senc, iv_size)
    pos = trun.data_offset
    out = []
    for row, info in zip(trun.samples, infos, strict=True):
        out.append((fragment[pos : pos + row["size"]], info))
        pos += row["size"]
    assert pos == len(fragment)
    return out


class Packaged(NamedTuple):
    src: Path  # the fragmented MP4 from FFmpeg
    clear: Path  # its clear CMAF track
    enc: Path  # its encrypted CMAF track


Packager = Callable[[str, str], Packaged]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Packager:
    """(kind, scheme) -> the clip packaged clear and encrypted, once per module."""
    clips = clip_dir(tmp_path_factory)
    root = tmp_path_factory.mktemp("cenc-out")

    @cache
    def make(kind: str, scheme: str) -> Packaged:
        src = make_clip(kind, clips)
        clear = root / kind / "clear"
        if not clear.exists():
            package_track(src, root / kind, "clear")
        enc = TrackEncryptor(scheme, KID, KEY)
        package_track(src, root / kind, scheme, transform=enc, init_transform=enc.init_transform)
        return Packaged(src, clear, root / kind / scheme)

    return make


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


# --- independent decryption -----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kind", [*DECRYPT_KINDS, *AUDIO_CLIPS])
def test_ffmpeg_decrypts_every_fragment(
    kind: str, scheme: str, packaged: Packager, tmp_path: Path
) -> None:
    _, clear_dir, enc_dir = packaged(kind, scheme)
    clear_init, enc_init = (
        (clear_dir / "init.mp4").read_bytes(),
        (enc_dir / "init.mp4").read_bytes(),
    )
    checked = 0
    for seg, clear_seg in zip(segments(enc_dir), segments(clear_dir), strict=True):
        for frag, clear_frag in zip(
            fragments(seg.read_bytes()), fragments(clear_seg.read_bytes()), strict=True
        ):
            a, b = tmp_path / "clear.mp4", tmp_path / "enc.mp4"
            a.write_bytes(clear_init + clear_frag)
            b.write_bytes(enc_init + frag)
            packets = framemd5(a, copy=True)
            assert framemd5(b, key=KEY, copy=True) == packets  # byte-exact samples back
            assert framemd5(b, key=KEY) == framemd5(a)  # and the same decoded frames
            assert changed_fraction(clear_frag, frag) > (0.05 if scheme == "cbcs" else 0.5)
            checked += len(packets)
    assert checked >= MIN_SAMPLES[kind]


@pytest.mark.slow
@needs_shaka
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kind", [*DECRYPT_KINDS, *AUDIO_CLIPS])
def test_shaka_packager_decrypts_whole_track(
    kind: str, scheme: str, packaged: Packager, tmp_path: Path
) -> None:
    _, clear_dir, enc_dir = packaged(kind, scheme)
    enc = concat([enc_dir / "init.mp4", *segments(enc_dir)], tmp_path / "enc.mp4")
    clear = concat([clear_dir / "init.mp4", *segments(clear_dir)], tmp_path / "clear.mp4")
    stream = "audio" if kind in AUDIO_CLIPS else "video"
    dec = tmp_path / "dec.mp4"
    run([str(SHAKA), f"in={enc},stream={stream},output={dec}", "--enable_raw_key_decryption",
         "--keys", f"label=:key_id={KID.hex()}:key={KEY.hex()}"])  # fmt: skip
    frames = framemd5(clear)
    assert len(frames) >= MIN_SAMPLES[kind]
    assert framemd5(dec) == frames
    assert framemd5(dec, copy=True) == framemd5(clear, copy=True)


@pytest.mark.slow
@needs_shaka
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kind", [*sorted(VIDEO_CLIPS), "aac"])
def test_subsample_maps_and_tenc_equal_shaka_packagers(
    kind: str, scheme: str, packaged: Packager, tmp_path: Path
) -> None:
    """Shaka Packager encrypting the same input: same tenc signalling, and the same
    (clear, protected) pairs for every sample -- an independent slice header parser."""
    src, _, enc_dir = packaged(kind, scheme)
    theirs_path = tmp_path / "shaka.mp4"
    run([str(SHAKA), f"in={src},stream={'audio' if kind == 'aac' else 'video'},"
         f"output={theirs_path}", "--enable_raw_key_encryption",
         "--keys", f"label=:key_id={KID.hex()}:key={KEY.hex()}",
         "--protection_scheme", scheme, "--clear_lead", "0"])  # fmt: skip

    def infos(files: list[bytes]) -> tuple[Box, list[SampleAuxInfo]]:
        tenc, out = None, []
        for data in files:
            for box in parse_boxes(data):
                if box.box_type == "moov":
                    tenc = sample_entry(box).find("sinf/schi/tenc")
                elif box.box_type == "moof":
                    out += parse_senc(box.find("traf/senc"), tenc.default_per_sample_iv_size)
        return tenc, out

    their_tenc, theirs = infos([theirs_path.read_bytes()])
    our_tenc, ours = infos([p.read_bytes() for p in [enc_dir / "init.mp4", *segments(enc_dir)]])
    fields = ("version", "pattern", "default_is_protected", "default_per_sample_iv_size",
              "default_kid", "default_constant_iv_size")  # fmt: skip
    assert [getattr(our_tenc, f) for f in fields] == [getattr(their_tenc, f) for f in fields]
    assert len(ours) == len(theirs) > 300
    assert [i.subsamples for i in ours] == [i.subsamples for i in theirs]
    assert [len(i.iv) for i in ours] == [len(i.iv) for i in theirs]


@pytest.mark.slow
@pytest.mark.parametrize("scheme", SCHEMES)
def test_audio_decrypts_to_the_clear_samples(scheme: str, packaged: Packager) -> None:
    _, clear_dir, enc_dir = packaged("aac", scheme)
    tenc = tenc_of((enc_dir / "init.mp4").read_bytes())
    iv_size = tenc.default_per_sample_iv_size
    restored, clear = [], []
    for seg, clear_seg in zip(segments(enc_dir), segments(clear_dir), strict=True):
        for frag in fragments(seg.read_bytes()):
            for stored, info in fragment_samples(frag, iv_size):
                assert not info.subsamples
                iv = info.iv or tenc.default_constant_iv
                restored.append(decrypt_sample(scheme, KEY, iv, stored, None, (0, 0)))
                if scheme == "cbcs" and len(stored) % 16:  # the partial last block is clear
                    assert stored[-(len(stored) % 16) :] == restored[-1][-(len(stored) % 16) :]
                if len(stored) >= 16:  # cbcs leaves a sample under one block clear
                    assert stored != restored[-1]
        for frag in fragments(clear_seg.read_bytes()):
            moof, _ = parse_box(frag)
            pos = moof.find("traf/trun").data_offset
            for row in moof.find("traf/trun").samples:
                clear.append(frag[pos : pos + row["size"]])
                pos += row["size"]
    assert len(restored) == len(clear) > 650
    assert restored == clear


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
