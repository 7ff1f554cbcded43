"""Encrypted CMAF decrypted by independent implementations: FFmpeg one fragment at a time
(FFmpeg 5.1 loses count of senc entries across fragments when there is no sidx, for any
packager's output) and Shaka Packager whole tracks; decoded frames must equal the clear
packaging's. Shaka Packager also encrypts the same inputs, and its subsample maps must equal
ours sample for sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from drm.encryption.cipher import decrypt_sample
from drm.encryption.sample import SampleAuxInfo, parse_senc
from pipeline.mp4.base import Box, parse_box, parse_boxes
from pipeline.mp4.codecs import sample_entry
from tests.support.cenc_clips import AUDIO_CLIPS, VIDEO_CLIPS, nal_context, read_samples
from tests.support.cenc_tracks import (
    KEY,
    KID,
    SCHEMES,
    SHAKA,
    Packager,
    changed_fraction,
    concat,
    fragment_samples,
    fragments,
    framemd5,
    needs_shaka,
    run,
    segments,
    tenc_of,
)
from tests.support.nal_units import slice_count

# FFmpeg/Shaka decryption round trips; the *_slices clips have several slices per picture, so
# a sample has several subsamples and cbcs must restart CBC at the constant IV in each one.
MULTI_SLICE = {"h264_cabac_slices": 4, "h264_cavlc_slices": 4, "hevc_slices": 3}  # per picture
DECRYPT_KINDS = ("h264_cabac", "h264_baseline", "hevc", *MULTI_SLICE)
# 14 s clips: 25 fps video; AAC frames of 1024 samples, (E-)AC-3 of 1536, at 48 kHz.
MIN_SAMPLES = {
    "h264_cabac": 340,
    "h264_baseline": 340,
    "hevc": 340,
    "h264_cabac_slices": 340,
    "h264_cavlc_slices": 340,
    "hevc_slices": 340,
    "aac": 650,
    "eac3": 430,
    "ac3": 430,
}


# --- multi-slice clips -----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kind", sorted(MULTI_SLICE))
def test_multi_slice_clips_give_one_protected_subsample_per_slice(
    kind: str, scheme: str, packaged: Packager
) -> None:
    """The decryption tests below only exercise the per-subsample IV rules (cbcs restarts CBC
    at the constant IV in every subsample, cenc carries the CTR stream on) if the pictures
    really have several slices, and each slice becomes a subsample with protected bytes."""
    src, _, enc_dir = packaged(kind, scheme)
    ctx = nal_context(src)
    counts = [slice_count(sample, ctx) for sample in read_samples(src)]
    assert len(counts) >= MIN_SAMPLES[kind]
    assert set(counts) == {MULTI_SLICE[kind]}
    iv_size = tenc_of((enc_dir / "init.mp4").read_bytes()).default_per_sample_iv_size
    protected = [
        sum(1 for _, n in info.subsamples if n)
        for seg in segments(enc_dir)
        for frag in fragments(seg.read_bytes())
        for _, info in fragment_samples(frag, iv_size)
    ]
    assert len(protected) == len(counts)
    # a tiny B slice may have under one block of data; most pictures have one range per slice
    assert max(protected) == MULTI_SLICE[kind]
    assert sum(p == MULTI_SLICE[kind] for p in protected) >= 0.9 * len(protected)


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
