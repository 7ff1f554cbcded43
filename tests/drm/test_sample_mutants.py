"""CENC track encryptor edges that mutation testing (scripts/mutation.sh drm/encryption/sample.py)
found untested, on crafted sample entries and samples (no FFmpeg): the exact tenc/sinf/saiz/
saio/senc bytes per scheme, the IV counter and its wrap, the payloads against the
`cryptography` package's AES, in-band parameter sets (avc3), and the exact refusals."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from drm.encryption import sample
from drm.encryption.sample import (
    SampleAuxInfo,
    TrackEncryptor,
    aux_boxes,
    parse_senc,
    protected_entry,
    saiz_box,
    senc_box,
    sinf_box,
    tenc_box,
)
from pipeline.mp4.base import Box
from pipeline.mp4.boxes import AudioSampleEntry, ConfigBox, Esds, Pssh, VisualSampleEntry
from pipeline.mp4.fragment import OutSample
from tests.support.nal_units import crafted_i_slice, crafted_pps, crafted_sps, escape

KID = bytes.fromhex("0123456789abcdef0123456789abcdef")
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
SPS = escape(crafted_sps().to_bytes())
PPS = escape(crafted_pps().to_bytes())
AUD = bytes([0x09, 0xF0])
SLICE, _ = crafted_i_slice()  # 49 bytes: 8 bytes of slice header, 41 of slice data
SLICE_DATA = len(SLICE) - 8


def _avcc(sps: list[bytes], pps: list[bytes]) -> bytes:
    out = bytes([1, 66, 0, 30, 0xFF, 0xE0 | len(sps)])
    out += b"".join(len(n).to_bytes(2, "big") + n for n in sps)
    out += bytes([len(pps)]) + b"".join(len(n).to_bytes(2, "big") + n for n in pps)
    return out


def _video_entry(fmt: str = "avc1", config: Box | None = None) -> Box:
    if config is None:
        config = ConfigBox("avcC", data=_avcc([SPS], [PPS]))
    return VisualSampleEntry(fmt, width=320, height=240, children=[config])


def _audio_entry(fmt: str = "mp4a") -> Box:
    return AudioSampleEntry(fmt, children=[Esds(descriptors=b"\x03\x00")])


def _prefixed(*nals: bytes) -> bytes:
    return b"".join(len(n).to_bytes(4, "big") + n for n in nals)


def _ctr(iv8: bytes, data: bytes) -> bytes:
    return Cipher(algorithms.AES(KEY), modes.CTR(iv8 + bytes(8))).encryptor().update(data)


def _cbc(iv: bytes, data: bytes) -> bytes:
    return Cipher(algorithms.AES(KEY), modes.CBC(iv)).encryptor().update(data)


def _out(n: int) -> list[OutSample]:
    return [OutSample(512, 100, i == 0, 0) for i in range(n)]


# --- aux info entries and boxes -------------------------------------------------------------
def test_sample_aux_info_size_and_bytes() -> None:
    info = SampleAuxInfo(bytes.fromhex("0102030405060708"), ((27, 32), (300, 65536)))
    assert info.size(False) == 8 and info.to_bytes(False) == info.iv
    assert info.size(True) == 8 + 2 + 12
    assert info.to_bytes(True) == bytes.fromhex("0102030405060708 0002 001b00000020 012c00010000")
    empty = SampleAuxInfo(b"")
    assert empty.subsamples == ()
    assert (empty.size(True), empty.to_bytes(True)) == (2, b"\x00\x00")
    assert (empty.size(False), empty.to_bytes(False)) == (0, b"")


def test_tenc_bytes_per_scheme() -> None:
    cenc = tenc_box(KID, iv_size=8, constant_iv=None, pattern=(0, 0))
    assert cenc.to_bytes() == bytes.fromhex("00000020 74656e63 00000000 00000108") + KID
    iv = bytes(range(16))
    video = tenc_box(KID, iv_size=0, constant_iv=iv, pattern=(1, 9))
    assert video.to_bytes() == (
        bytes.fromhex("00000031 74656e63 01000000 00190100") + KID + b"\x10" + iv
    )
    # cbcs audio: no pattern, but a constant IV still needs the version 1 box.
    audio = tenc_box(KID, iv_size=0, constant_iv=iv, pattern=(0, 0))
    assert audio.to_bytes() == (
        bytes.fromhex("00000031 74656e63 01000000 00000100") + KID + b"\x10" + iv
    )
    # A pattern with per-sample IVs (cens-like) is version 1 too.
    patterned = tenc_box(KID, iv_size=8, constant_iv=None, pattern=(2, 3))
    assert (patterned.version, patterned.pattern) == (1, 0x23)
    assert patterned.default_constant_iv_size is None


def test_sinf_is_frma_schm_schi() -> None:
    tenc = tenc_box(KID, iv_size=8, constant_iv=None, pattern=(0, 0))
    sinf = sinf_box("avc1", "cenc", tenc)
    assert sinf.box_type == "sinf"
    assert sinf.to_bytes() == (
        bytes.fromhex("00000050 73696e66")
        + bytes.fromhex("0000000c 66726d61") + b"avc1"
        + bytes.fromhex("00000014 7363686d 00000000") + b"cenc" + bytes.fromhex("00010000")
        + bytes.fromhex("00000028 73636869") + tenc.to_bytes()
    )  # fmt: skip


def test_protected_entry_renames_and_replaces_sinf_on_a_copy() -> None:
    tenc = tenc_box(KID, iv_size=8, constant_iv=None, pattern=(0, 0))
    old_sinf = Box("sinf", children=[])
    for fmt in ("avc1", "avc3", "hvc1", "hev1", "av01", "vp09"):
        entry = _video_entry(fmt)
        entry.children.append(old_sinf)
        before = entry.to_bytes()
        new = protected_entry(entry, sinf_box(fmt, "cenc", tenc))
        assert new.box_type == "encv"
        assert [c.box_type for c in new.children] == ["avcC", "sinf"]
        assert new.children[-1].find("frma").data_format == fmt
        assert entry.to_bytes() == before and entry.box_type == fmt
    for fmt in ("mp4a", "ac-3", "ec-3", "Opus", "fLaC"):
        new = protected_entry(_audio_entry(fmt), sinf_box(fmt, "cenc", tenc))
        assert new.box_type == "enca"
        assert [c.box_type for c in new.children] == ["esds", "sinf"]


def test_senc_saiz_saio_bytes() -> None:
    infos = [SampleAuxInfo(bytes([k]) * 8, ((27, 32),)) for k in (1, 2)]
    senc = senc_box(infos, True)
    header = "00000030 73656e63 00000002 00000002"  # size, type, flags (subsamples), count
    entries = "0101010101010101 0001 001b00000020 0202020202020202 0001 001b00000020"
    assert senc.to_bytes() == bytes.fromhex(header + entries)
    assert senc_box(infos, False).to_bytes() == bytes.fromhex(
        "00000020 73656e63 00000000 00000002 0101010101010101 0202020202020202"
    )
    saiz, saio, again = aux_boxes(infos, True)
    assert saiz.to_bytes() == bytes.fromhex("00000011 7361697a 00000000 10 00000002")
    assert saio.to_bytes() == bytes.fromhex("00000014 7361696f 00000000 00000001 00000000")
    assert again.to_bytes() == senc.to_bytes()


def test_saiz_default_only_for_equal_non_zero_sizes_and_255_at_most() -> None:
    assert (saiz_box([255, 255]).default_sample_info_size, saiz_box([255]).sample_count) == (255, 1)
    table = saiz_box([16, 22, 16])
    assert table.to_bytes() == bytes.fromhex("00000014 7361697a 00000000 00 00000003 101610")
    assert table.sample_info_sizes == bytes([16, 22, 16])
    assert saiz_box([]).to_bytes() == bytes.fromhex("00000011 7361697a 00000000 00 00000000")
    one = saiz_box([1, 1])
    assert (one.default_sample_info_size, one.sample_count, one.sample_info_sizes) == (1, 2, None)
    zero = saiz_box([0, 0])
    assert (zero.default_sample_info_size, zero.sample_info_sizes) == (0, bytes(2))
    with pytest.raises(ValueError) as caught:
        saiz_box([16, 256])
    assert str(caught.value) == "a sample has too many subsamples for saiz (info over 255 bytes)"


def test_aux_boxes_with_some_empty_entries_keep_saiz() -> None:
    """Only when no sample stores anything are saiz and saio left out."""
    infos = [SampleAuxInfo(b""), SampleAuxInfo(b"", ((5, 16),))]
    boxes = aux_boxes(infos, True)
    assert [b.box_type for b in boxes] == ["saiz", "saio", "senc"]
    assert [b.box_type for b in aux_boxes([SampleAuxInfo(b"")], False)] == ["senc"]


def test_parse_senc_reads_what_senc_box_wrote_and_refuses_truncation() -> None:
    infos = [
        SampleAuxInfo(bytes([7]) * 16, ((1, 2), (3, 4))),
        SampleAuxInfo(bytes([9]) * 16, ((65535, 0),)),
    ]
    assert parse_senc(senc_box(infos, True), 16) == infos
    plain = [SampleAuxInfo(bytes([5]) * 8), SampleAuxInfo(bytes([6]) * 8)]
    assert parse_senc(senc_box(plain, False), 8) == plain
    constant = [SampleAuxInfo(b"", ((10, 32),))] * 3
    assert parse_senc(senc_box(constant, True), 0) == constant
    short_iv = senc_box(plain, False)
    short_iv.entries = short_iv.entries[:-1]
    with pytest.raises(ValueError) as caught:
        parse_senc(short_iv, 8)
    assert str(caught.value) == "senc entries are truncated"
    exact = senc_box(plain, False)
    exact.sample_count = 1
    assert parse_senc(exact, 8) == plain[:1]
    for cut in (1, 7, 17 + 2):  # inside the last subsample table, its count, its IV
        short = senc_box(infos, True)
        short.entries = short.entries[:-cut]
        with pytest.raises(ValueError) as caught:
            parse_senc(short, 16)
        assert str(caught.value) == "senc entries are truncated", cut


# --- the track encryptor --------------------------------------------------------------------
def test_cenc_video_chunk_payloads_ivs_and_boxes() -> None:
    iv = bytes.fromhex("00000000000000fe")
    enc = TrackEncryptor("cenc", KID, KEY, iv=iv)
    assert enc.iv_size == 8 and enc.pattern == (0, 0)
    entry, pssh = enc.init_transform(_video_entry())
    assert pssh == [] and entry.box_type == "encv"
    tenc = entry.find("sinf/schi/tenc")
    assert (tenc.version, tenc.pattern, tenc.default_per_sample_iv_size) == (0, 0, 8)
    assert (tenc.default_constant_iv, tenc.default_constant_iv_size) == (None, None)
    assert entry.find("sinf/schm").scheme_type == "cenc"
    assert entry.find("sinf/frma").data_format == "avc1"
    s = _prefixed(AUD, SLICE)
    clear = 4 + 2 + 4 + 8 + SLICE_DATA % 16  # cenc: protected bytes cut to whole blocks
    protected = SLICE_DATA - SLICE_DATA % 16
    assert (clear, protected) == (27, 32)
    payloads, boxes = enc(_out(3), [s, s, s], 1)
    ivs = [bytes.fromhex(h) for h in ("00000000000000fe", "00000000000000ff", "0000000000000100")]
    for payload, sample_iv in zip(payloads, ivs, strict=True):
        assert payload == s[:clear] + _ctr(sample_iv, s[clear:])
    saiz, saio, senc = boxes
    assert (saiz.default_sample_info_size, saiz.sample_count) == (16, 3)
    assert saio.offsets == [{"offset": 0}]
    assert senc.flags == 2 and senc.sample_count == 3
    assert senc.entries == b"".join(v + bytes.fromhex("0001001b00000020") for v in ivs)
    # The counter carries on into the next chunk.
    payloads, boxes = enc(_out(1), [s], 2)
    assert boxes[-1].entries[:8] == bytes.fromhex("0000000000000101")
    assert payloads[0] == s[:clear] + _ctr(bytes.fromhex("0000000000000101"), s[clear:])


def test_cenc_iv_counter_wraps_at_64_bits() -> None:
    enc = TrackEncryptor("cenc", KID, KEY, iv=b"\xff" * 8)
    enc.init_transform(_audio_entry())
    payloads, (saiz, _, senc) = enc(_out(2), [b"a" * 20, b"b" * 20], 1)
    assert senc.entries == b"\xff" * 8 + bytes(8)
    assert payloads == [_ctr(b"\xff" * 8, b"a" * 20), _ctr(bytes(8), b"b" * 20)]
    assert (saiz.default_sample_info_size, senc.flags) == (8, 0)


def test_cbcs_video_chunk_uses_the_constant_iv_and_the_1_9_pattern() -> None:
    iv = bytes(range(16, 32))
    enc = TrackEncryptor("cbcs", KID, KEY, iv=iv)
    assert enc.iv_size == 0
    entry, _ = enc.init_transform(_video_entry())
    assert enc.pattern == (1, 9)
    tenc = entry.find("sinf/schi/tenc")
    assert (tenc.version, tenc.pattern, tenc.default_per_sample_iv_size) == (1, 0x19, 0)
    assert tenc.default_constant_iv == iv
    assert entry.find("sinf/schm").scheme_type == "cbcs"
    s = _prefixed(AUD, SLICE, SLICE)
    # cbcs: protection starts right after each slice header, no 16-byte cut; one 16-byte
    # block per slice (41 bytes < 160), each from the constant IV.
    first, second = 18, 18 + SLICE_DATA + 12
    want = bytearray(s)
    want[first : first + 16] = _cbc(iv, s[first : first + 16])
    want[second : second + 16] = _cbc(iv, s[second : second + 16])
    payloads, (saiz, saio, senc) = enc(_out(2), [s, s], 1)
    assert payloads == [bytes(want)] * 2
    assert (saiz.default_sample_info_size, saiz.sample_count) == (14, 2)
    assert senc.entries == bytes.fromhex("0002 001200000029 000c00000029") * 2
    assert senc.flags == 2


def test_cbcs_audio_encrypts_whole_blocks_and_stores_nothing_per_sample() -> None:
    iv = bytes(range(16))
    enc = TrackEncryptor("cbcs", KID, KEY, iv=iv)
    entry, _ = enc.init_transform(_audio_entry("ec-3"))
    assert entry.box_type == "enca" and enc.pattern == (0, 0)
    tenc = entry.find("sinf/schi/tenc")
    assert (tenc.version, tenc.pattern, tenc.default_constant_iv) == (1, 0, iv)
    data = bytes(range(40))
    payloads, boxes = enc(_out(1), [data], 1)
    assert payloads == [_cbc(iv, data[:32]) + data[32:]]
    assert [b.box_type for b in boxes] == ["senc"]
    assert (boxes[0].sample_count, boxes[0].entries, boxes[0].flags) == (1, b"", 0)


def test_in_band_parameter_sets_are_learned_for_avc3_only() -> None:
    """avc3 carries SPS/PPS in samples: a PPS in one sample serves the samples after it."""
    config = ConfigBox("avcC", data=_avcc([SPS], []))
    enc = TrackEncryptor("cenc", KID, KEY, iv=bytes(8))
    enc.init_transform(_video_entry("avc3", config))
    first, second = _prefixed(PPS, SLICE), _prefixed(SLICE)
    payloads, boxes = enc(_out(2), [first, second], 1)
    infos = parse_senc(boxes[-1], 8)
    assert infos[0].subsamples == ((4 + len(PPS) + 4 + 8 + 9, 32),)
    assert infos[1].subsamples == ((4 + 8 + 9, 32),)
    clear = 4 + 8 + 9
    assert payloads[1] == second[:clear] + _ctr(bytes(7) + b"\x01", second[clear:])
    # avc1: parameter sets come from avcC only; the second sample's PPS is unknown.
    enc = TrackEncryptor("cenc", KID, KEY, iv=bytes(8))
    enc.init_transform(_video_entry("avc1", ConfigBox("avcC", data=_avcc([SPS], []))))
    with pytest.raises(ValueError, match="PPS"):
        enc(_out(2), [first, second], 1)


def test_pssh_boxes_are_returned_for_moov() -> None:
    box = Pssh(version=1, system_id=bytes(16), kids=[{"kid": KID}], data=b"")
    enc = TrackEncryptor("cbcs", KID, KEY, pssh=(box,))
    _, pssh = enc.init_transform(_audio_entry())
    assert pssh == [box]
    assert len(enc.iv) == 16
    assert len(TrackEncryptor("cenc", KID, KEY).iv) == 8


def test_hevc_entries_need_hvcc() -> None:
    # 4-byte lengths, no arrays; byte 5 (a compatibility flag) would read as one SPS in avcC.
    hvcc = bytes([1, 0, 0, 0, 0, 1]) + bytes(15) + bytes([0xFF, 0])
    for fmt in ("hvc1", "hev1"):
        enc = TrackEncryptor("cbcs", KID, KEY, iv=bytes(16))
        entry, _ = enc.init_transform(_video_entry(fmt, ConfigBox("hvcC", data=hvcc)))
        assert entry.box_type == "encv" and enc.pattern == (1, 9)
        assert entry.find("sinf/frma").data_format == fmt
        with pytest.raises(ValueError) as caught:
            enc.init_transform(_video_entry(fmt, ConfigBox("avcC", data=_avcc([SPS], [PPS]))))
        assert str(caught.value) == f"sample entry '{fmt}' has no hvcC"
    for fmt in ("avc1", "avc3"):
        with pytest.raises(ValueError) as caught:
            TrackEncryptor("cenc", KID, KEY).init_transform(
                _video_entry(fmt, ConfigBox("hvcC", data=hvcc))
            )
        assert str(caught.value) == f"sample entry '{fmt}' has no avcC"


def test_refusals_are_exact() -> None:
    cases = [
        (lambda: TrackEncryptor("cens", KID, KEY),
         "unsupported protection scheme 'cens' (want one of ('cenc', 'cbcs'))"),
        (lambda: TrackEncryptor("cenc", KID[:15], KEY), "KID and key must be 16 bytes each"),
        (lambda: TrackEncryptor("cenc", KID, KEY + b"x"), "KID and key must be 16 bytes each"),
        (lambda: TrackEncryptor("cenc", KID, KEY, iv=bytes(16)), "cenc IV must be 8 bytes"),
        (lambda: TrackEncryptor("cbcs", KID, KEY, iv=bytes(8)), "cbcs IV must be 16 bytes"),
        (lambda: TrackEncryptor("cenc", KID, KEY).init_transform(_video_entry("vp09")),
         "CENC subsample encryption of 'vp09' video is not supported"),
        (lambda: TrackEncryptor("cenc", KID, KEY).init_transform(Box("wvtt")),
         "cannot encrypt sample entry 'wvtt'"),
    ]  # fmt: skip
    for call, message in cases:
        with pytest.raises(ValueError) as caught:
            call()
        assert str(caught.value) == message
    enc = TrackEncryptor("cbcs", KID, KEY)
    with pytest.raises(RuntimeError) as caught:
        enc(_out(1), [b"x"], 1)
    assert str(caught.value) == "init_transform must run before the samples are encrypted"
    assert repr(enc) == f"TrackEncryptor(scheme='cbcs', kid={KID.hex()})"
    assert sample.VIDEO_PATTERN == (1, 9)
