"""What the validator measures from the bytes (pipeline/validate/media.py): init segments,
segment timing and random access, and the decode pool (driven here by tiny stand-in
'ffmpeg' shell scripts, never by FFmpeg). Inputs are built with our own box model."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipeline.validate import media as media_module
from pipeline.validate.fetch import FetchError
from pipeline.validate.media import (
    Chunk,
    MediaError,
    MediaStore,
    analyze_init,
    analyze_segment,
    decode_check,
    first_vcl_nal_type,
    is_random_access_nal,
    report_fetch_error,
)
from pipeline.validate.model import Sink
from tests.support.validate_bytes import (
    AVC_CODECS,
    ROOT,
    MemoryFetcher,
    fragment,
    init_segment,
    nal_sample,
    store,
    video_segment,
)

# hvcC: Main profile (1), general_profile_compatibility 0x60000000, constraint 0x90,
# level 93; byte 21 = 0xFD -> lengthSizeMinusOne 1 (2-byte NAL lengths)
HVCC = bytes([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xF0, 0, 0xFC, 0xFD, 0xF8, 0xF8])
HVCC += bytes([0, 0, 0xFD, 0])


def _video(**kw):
    return analyze_init("v/init.mp4", init_segment("vide", timescale=90000, **kw))


# -- init segments ----------------------------------------------------------------------------
def test_video_init_is_measured() -> None:
    data = init_segment("vide", timescale=90000, width=640, height=360)
    t = analyze_init("v/init.mp4", data)
    assert (t.uri, t.data, t.kind, t.timescale) == ("v/init.mp4", data, "video", 90000)
    assert (t.codecs, t.fmt, t.nal_length_size) == (AVC_CODECS, "avc1", 4)
    assert (t.width, t.height, t.encrypted, t.channels, t.joc) == (640, 360, False, None, False)
    assert t.defaults == {"duration": 0, "size": 0, "flags": 0} and t.edit_shift == 0.0


def test_audio_init_is_measured() -> None:
    t = analyze_init("a/init.mp4", init_segment("soun", timescale=48000, channels=6))
    assert (t.kind, t.timescale, t.codecs, t.fmt) == ("audio", 48000, "mp4a.40.2", "mp4a")
    assert (t.channels, t.joc, t.nal_length_size, t.width, t.height) == (6, False, None, None, None)


def test_other_handler_keeps_its_4cc() -> None:
    t = analyze_init("x", init_segment("subt", timescale=1000))
    assert t.kind == "subt"


def test_hevc_init_reads_its_nal_length_size() -> None:
    t = _video(fmt="hvc1", config=None)
    assert t.codecs == "hvc1" and t.nal_length_size is None  # no hvcC: 4CC as codecs
    t = _video(fmt="hvc1", config=HVCC)
    assert (t.codecs, t.fmt, t.nal_length_size) == ("hvc1.1.6.L93.90", "hvc1", 2)
    t = _video(fmt="hev1", config=HVCC)
    assert (t.codecs, t.fmt, t.nal_length_size) == ("hev1.1.6.L93.90", "hev1", 2)


def test_nal_length_size_from_avcc_and_hvcc() -> None:
    from pipeline.mp4.base import Box
    from pipeline.mp4.boxes import ConfigBox, VisualSampleEntry

    def entry(fmt: str, box: str, data: bytes) -> Box:
        return VisualSampleEntry(fmt, width=1, height=1, children=[ConfigBox(box, data=data)])

    nls = media_module._nal_length_size
    assert nls(entry("avc1", "avcC", bytes([1, 0x64, 0, 0x1F, 0xFD])), "avc1") == 2
    assert nls(entry("avc3", "avcC", bytes([1, 0x64, 0, 0x1F, 0xFC])), "avc3") == 1
    assert nls(entry("avc1", "avcC", bytes([1, 0x64, 0, 0x1F])), "avc1") is None
    assert nls(entry("hvc1", "hvcC", HVCC), "hvc1") == 2
    assert nls(entry("hev1", "hvcC", HVCC[:21] + b"\xfe\x00"), "hev1") == 3
    assert nls(entry("hvc1", "hvcC", HVCC[:21]), "hvc1") is None
    assert nls(entry("avc1", "hvcC", HVCC), "avc1") is None  # no avcC
    assert nls(entry("hvc1", "avcC", bytes(8)), "hvc1") is None  # no hvcC
    assert nls(entry("av01", "avcC", bytes(8)), "av01") is None


def test_unsupported_codec_falls_back_to_the_sample_entry_4cc() -> None:
    t = _video(fmt="vp09", config=None)
    assert (t.codecs, t.fmt, t.nal_length_size) == ("vp09", "vp09", None)


def test_init_without_moov() -> None:
    with pytest.raises(MediaError, match=r"^no 'moov' box \(not an initialisation segment\)$"):
        analyze_init("x", bytes.fromhex("0000000866726565"))  # an empty 'free' box


def test_init_without_mvex() -> None:
    with pytest.raises(MediaError, match=r"^moov has no mvex \(not a fragmented MP4 header\)$"):
        analyze_init("x", init_segment("vide", timescale=90000, mvex=False))


def test_init_with_zero_timescale() -> None:
    with pytest.raises(MediaError, match="^mdhd timescale is 0$"):
        analyze_init("x", init_segment("vide", timescale=0))


def test_init_without_hdlr() -> None:
    data = init_segment("vide", timescale=90000)
    broken = data.replace(b"hdlr", b"hdlx", 1)
    with pytest.raises(MediaError, match="^moov has no trak/mdia/hdlr or mdhd$"):
        analyze_init("x", broken)


def test_truncated_init() -> None:
    data = init_segment("vide", timescale=90000)
    ftyp = int.from_bytes(data[:4], "big")
    with pytest.raises(MediaError) as e:
        analyze_init("x", data[:-1])
    total = len(data) - ftyp
    assert str(e.value) == (
        f"box 'moov' at offset {ftyp} claims {total} bytes, {total - 1} left (truncated)"
    )


def test_edit_list_shift() -> None:
    """An empty edit (media_time -1) delays by its duration in the movie timescale; a
    media_time skips that much media (track timescale); entries after it are ignored."""

    def shift(entries, movie_timescale=1000):
        data = init_segment("soun", timescale=48000, elst=entries, movie_timescale=movie_timescale)
        return analyze_init("a", data).edit_shift

    e = {"media_rate": 0x10000}
    assert shift([{"segment_duration": 0, "media_time": 2112, **e}]) == pytest.approx(-0.044)
    assert shift(
        [
            {"segment_duration": 500, "media_time": -1, **e},
            {"segment_duration": 0, "media_time": 1024, **e},
            {"segment_duration": 0, "media_time": 48000, **e},
        ]
    ) == pytest.approx(0.5 - 1024 / 48000)
    assert shift([{"segment_duration": 250, "media_time": -1, **e}]) == pytest.approx(0.25)
    assert shift([{"segment_duration": 24000, "media_time": -1, **e}], 0) == pytest.approx(0.5)
    assert shift([]) == 0.0


# -- media segments ---------------------------------------------------------------------------
def test_segment_is_measured() -> None:
    track = _video()
    f = fragment(
        9000,
        [3600, 3600, 1800],
        [500, 200, 100],
        video=True,
        offsets=[7200, -3600, 0],
    )
    s = analyze_segment(track, "v/1.m4s", f.data)
    assert (s.uri, s.size, s.decode_start, s.duration, s.sample_count) == (
        "v/1.m4s",
        len(f.data),
        9000,
        9000,
        3,
    )
    # presentation times: 9000+7200, 12600-3600, 16200+0 -> earliest 9000
    assert s.presentation_start == 9000
    assert s.first_sync is True and s.first_vcl_type == 5
    assert s.durations == Counter({3600: 2, 1800: 1}) and s.gaps == []
    assert s.chunks == [Chunk(0, f.moof_size + 8, 500, True)]


def test_segment_of_two_fragments_and_a_gap() -> None:
    track = _video()
    a = fragment(0, [3600] * 2, [300, 100], video=True)
    b = fragment(7300, [3600], [200], video=True, sync_first=False, first_nal=0x41)
    data = b"\0\0\0\x08free" + a.data + b.data
    s = analyze_segment(track, "v", data)
    assert s.sample_count == 3 and s.duration == 10800 and s.decode_start == 0
    assert s.chunks == [
        Chunk(8, 8 + a.moof_size + 8, 300, True),
        Chunk(8 + len(a.data), 8 + len(a.data) + b.moof_size + 8, 200, False),
    ]
    assert s.gaps == [
        f"moof at offset {8 + len(a.data)}: tfdt 7300, previous fragment ends at 7200"
    ]


def test_segment_without_nal_length_has_no_vcl_type() -> None:
    track = analyze_init("a", init_segment("soun", timescale=48000))
    s = analyze_segment(track, "a", fragment(0, [960], [10], video=False).data)
    assert s.first_vcl_type is None and s.first_sync is True


def test_segment_without_samples() -> None:
    with pytest.raises(MediaError, match=r"^no samples \(no moof with a trun\)$"):
        analyze_segment(_video(), "v", b"\0\0\0\x08free")


def test_truncated_segment() -> None:
    f = fragment(0, [3600, 3600], [300, 100], video=True)
    cut = f.data[: len(f.data) - 150] + b"\0" * 0
    # the mdat box header claims more than is left
    with pytest.raises(MediaError, match=r"truncated\)$"):
        analyze_segment(_video(), "v", cut)
    # a well-formed box layout whose samples point past the end
    short = f.data[: f.moof_size] + (8 + 250).to_bytes(4, "big") + b"mdat" + bytes(250)
    with pytest.raises(MediaError) as e:
        analyze_segment(_video(), "v", short)
    assert str(e.value) == (
        f"sample data runs to byte {f.moof_size + 8 + 400}, the segment has "
        f"{f.moof_size + 258} (truncated)"
    )


def test_nal_types_avc_and_hevc() -> None:
    sei, idr, slice_ = nal_sample(8, 0x06), nal_sample(9, 0x65), nal_sample(9, 0x41)
    assert first_vcl_nal_type(sei + idr, 4, "avc1") == 5
    assert first_vcl_nal_type(sei + slice_, 4, "avc3") == 1
    assert first_vcl_nal_type(sei, 4, "avc1") is None
    assert first_vcl_nal_type(b"", 4, "avc1") is None
    assert first_vcl_nal_type(bytes(4) + idr, 4, "avc1") is None  # zero-length NAL
    assert first_vcl_nal_type((100).to_bytes(4, "big") + b"\x65" * 5, 4, "avc1") is None
    # HEVC: type in bits 1-6 of the first header byte; 2-byte lengths
    vps, cra = b"\x00\x03\x40\x01\x00", b"\x00\x03\x2a\x01\x00"  # type 32, type 21
    assert first_vcl_nal_type(vps + cra, 2, "hvc1") == 21
    assert first_vcl_nal_type(b"\x00\x03\x02\x01\x00", 2, "hev1") == 1
    assert first_vcl_nal_type(vps, 2, "hvc1") is None
    # exactly filling the sample
    assert first_vcl_nal_type(b"\x00\x01\x65", 2, "avc1") == 5
    assert first_vcl_nal_type(b"\x00\x02\x65", 2, "avc1") is None


def test_random_access_nal_types() -> None:
    assert [n for n in range(0, 40) if is_random_access_nal(n, "hvc1")] == list(range(16, 22))
    assert [n for n in range(0, 40) if is_random_access_nal(n, "hev1")] == list(range(16, 22))
    assert [n for n in range(0, 32) if is_random_access_nal(n, "avc1")] == [5]
    assert not is_random_access_nal(None, "avc1") and not is_random_access_nal(None, "hvc1")


# -- fetch errors and the store --------------------------------------------------------------
def test_fetch_errors_map_to_codes() -> None:
    sink = Sink(str)
    report_fetch_error(sink, FetchError("a", "missing", "gone"))
    report_fetch_error(sink, FetchError("b", "refused", "nope"))
    report_fetch_error(sink, FetchError("c", "error", "boom"))
    report_fetch_error(sink, FetchError("d", "other", "odd"))
    assert [(v.code, v.where, v.message) for v in sink.violations] == [
        ("file.missing", "a", "gone"),
        ("fetch.refused", "b", "nope"),
        ("fetch.error", "c", "boom"),
        ("fetch.error", "d", "odd"),
    ]


def test_store_fetch_reports_and_caches() -> None:
    media, sink = store({"a.bin": b"x", "empty.bin": b""})
    assert media.fetch(ROOT + "a.bin") == b"x"
    assert media.fetch(ROOT + "empty.bin") is None
    assert media.fetch(ROOT + "nope.bin") is None and media.fetch(ROOT + "nope.bin") is None
    assert [(v.code, v.where, v.message) for v in sink.violations] == [
        ("file.empty", "empty.bin", "file is empty"),
        ("file.missing", "nope.bin", "HTTP 404 Not Found"),
    ]
    reads = media.fetcher.requested
    assert reads.count(ROOT + "nope.bin") == 1  # failures are remembered
    media.fetch(ROOT + "a.bin")
    assert reads.count(ROOT + "a.bin") == 2  # media is not cached unless asked
    media.fetch(ROOT + "a.bin", cache=True)
    media.fetch(ROOT + "a.bin", cache=True)
    assert reads.count(ROOT + "a.bin") == 3


def test_store_track_and_segment_are_analysed_once() -> None:
    files = {"v/init.mp4": init_segment("vide", timescale=90000), "v/1.m4s": video_segment(1).data}
    media, sink = store(files)
    t = media.track(ROOT + "v/init.mp4")
    assert t is not None and t.codecs == AVC_CODECS
    assert media.track(ROOT + "v/init.mp4") is t
    s = media.segment(ROOT + "v/init.mp4", ROOT + "v/1.m4s")
    assert s is not None and s.sample_count == 50
    assert media.segment(ROOT + "v/init.mp4", ROOT + "v/1.m4s") is s
    assert media.fetcher.requested.count(ROOT + "v/1.m4s") == 1
    assert media.fetcher.requested.count(ROOT + "v/init.mp4") == 1
    assert sink.violations == []


def test_store_reports_bad_init_and_bad_segment() -> None:
    files = {
        "v/init.mp4": init_segment("vide", timescale=90000),
        "bad/init.mp4": b"\0\0\0\x08free",
        "v/1.m4s": b"\0\0\0\x08free",
        "v/2.m4s": video_segment(2).data,
    }
    media, sink = store(files)
    assert media.track(ROOT + "bad/init.mp4") is None
    assert media.segment(ROOT + "bad/init.mp4", ROOT + "v/2.m4s") is None
    assert media.segment(ROOT + "v/init.mp4", ROOT + "v/1.m4s") is None
    assert media.segment(ROOT + "v/init.mp4", ROOT + "nope.m4s") is None
    assert [(v.code, v.where, v.message) for v in sink.violations] == [
        ("media.init", "bad/init.mp4", "no 'moov' box (not an initialisation segment)"),
        ("media.parse", "v/1.m4s", "no samples (no moof with a trun)"),
        ("file.missing", "nope.m4s", "HTTP 404 Not Found"),
    ]


# -- decoding, with stand-in decoders ----------------------------------------------------------
def _script(tmp_path: Path, name: str, body: str) -> str:
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(0o755)
    return str(p)


def test_decode_check_runs_the_decoder_on_init_plus_segment(tmp_path: Path) -> None:
    out = tmp_path / "args"
    ok = _script(tmp_path, "ok", f'echo "$@" > {out}; wc -c > {out}.n')
    assert decode_check(b"abc", b"de", ffmpeg=ok) is None
    assert out.read_text() == "-hide_banner -nostats -v error -threads 1 -i pipe:0 -f null -\n"
    assert int(Path(f"{out}.n").read_text()) == 5


def test_decode_check_reports_the_decoders_complaints(tmp_path: Path) -> None:
    three = _script(tmp_path, "three", "cat >/dev/null; printf 'a\\n\\nb\\nc\\n' >&2")
    assert decode_check(b"", b"", ffmpeg=three) == "a; b; c"
    five = _script(tmp_path, "five", "cat >/dev/null; printf 'a\\nb\\nc\\nd\\ne\\n' >&2; exit 0")
    assert decode_check(b"", b"", ffmpeg=five) == "a; b; c (+2 more)"
    status = _script(tmp_path, "status", "cat >/dev/null; exit 3")
    assert decode_check(b"", b"", ffmpeg=status) == "ffmpeg exited with status 3"
    assert decode_check(b"", b"", ffmpeg=str(tmp_path / "none")) == f"{tmp_path / 'none'} not found"


def test_decode_check_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media_module, "DECODE_TIMEOUT", 0.2)
    slow = _script(tmp_path, "slow", "exec sleep 5")
    assert decode_check(b"", b"", ffmpeg=slow) == "decoding took longer than 0 s"
    assert media_module.DECODE_TIMEOUT == 0.2


def test_store_without_decoder_says_so() -> None:
    fetcher = MemoryFetcher({})
    sink = Sink(fetcher.display)
    media = MediaStore(fetcher, sink, decode=True, ffmpeg="no-such-ffmpeg-here")
    assert media.decode is False
    assert [(v.code, v.where, v.message) for v in sink.violations] == [
        ("decode.unavailable", "", "no-such-ffmpeg-here not found on PATH")
    ]
    quiet = Sink(fetcher.display)
    assert MediaStore(fetcher, quiet, decode=False, ffmpeg="no-such").decode is False
    assert quiet.violations == []


def test_store_decodes_every_clear_segment(tmp_path: Path) -> None:
    """Six segments through a queue of four: every one decoded, the complaints reported
    with the segment they belong to, in order."""
    bad = _script(tmp_path, "dec", 'n=$(wc -c); echo "bytes $n" >&2')
    files = {"v/init.mp4": init_segment("vide", timescale=90000)}
    for n in range(1, 7):
        files[f"v/{n}.m4s"] = video_segment(n, frames=n).data
    fetcher = MemoryFetcher(files)
    sink = Sink(fetcher.display)
    media = MediaStore(fetcher, sink, decode=True, ffmpeg=bad)
    assert media.decode is True
    for n in range(1, 7):
        media.segment(ROOT + "v/init.mp4", ROOT + f"v/{n}.m4s")
        assert len(media._pending) <= media_module.MAX_PENDING_DECODES
    media.finish()
    assert media._pending == deque_empty() and media._pool is None
    init = len(files["v/init.mp4"])
    assert [(v.code, v.where, v.message) for v in sink.violations] == [
        (
            "media.decode",
            f"v/{n}.m4s",
            f"does not decode cleanly: bytes {init + len(files[f'v/{n}.m4s'])}",
        )
        for n in range(1, 7)
    ]
    media.finish()  # idempotent


def deque_empty():
    from collections import deque

    return deque()


def test_store_does_not_decode_unparsed_or_encrypted_tracks(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    dec = _script(tmp_path, "dec", f"cat >/dev/null; touch {marker}")
    enc = init_segment("vide", timescale=90000, fmt="encv", config=None)
    files = {"e/init.mp4": enc, "e/1.m4s": video_segment(1).data}
    fetcher = MemoryFetcher(files)
    media = MediaStore(fetcher, Sink(fetcher.display), decode=True, ffmpeg=dec)
    t = media.track(ROOT + "e/init.mp4")
    assert t is not None and t.encrypted
    media.segment(ROOT + "e/init.mp4", ROOT + "e/1.m4s")
    media.finish()
    assert not marker.exists()


def test_decode_limits() -> None:
    assert media_module.DECODE_WORKERS == 2 and media_module.MAX_PENDING_DECODES == 4
    assert media_module.DECODE_TIMEOUT == 300.0


# -- edges found by reading the mutants --------------------------------------------------------
def test_encrypted_audio_init() -> None:
    t = analyze_init("a", init_segment("soun", timescale=48000, fmt="enca", channels=2))
    assert (t.kind, t.encrypted, t.fmt, t.codecs, t.channels) == ("audio", True, "enca", "enca", 2)
    assert analyze_init("a", init_segment("soun", timescale=48000)).encrypted is False


def test_zero_timescale_with_an_edit_list() -> None:
    e = [{"segment_duration": 500, "media_time": -1, "media_rate": 0x10000}]
    with pytest.raises(MediaError, match="^mdhd timescale is 0$"):
        analyze_init("x", init_segment("soun", timescale=0, elst=e))


def test_fragment_without_samples_is_skipped() -> None:
    from pipeline.mp4.fragment import build_moof, layout_fragment

    empty = layout_fragment(build_moof(1, 0, [], video=False), b"").data
    real = fragment(0, [960], [10], video=False)
    track = analyze_init("a", init_segment("soun", timescale=48000))
    s = analyze_segment(track, "a", empty + real.data)
    assert s.sample_count == 1 and s.chunks[0].moof_offset == len(empty)


def test_sample_data_offsets_at_zero_and_before_the_segment() -> None:
    from pipeline.mp4.fragment import OutSample as S
    from pipeline.mp4.fragment import build_moof

    track = analyze_init("a", init_segment("soun", timescale=48000))
    moof = build_moof(1, 0, [S(960, 8, True)], video=False)
    trun = moof.find("traf/trun")
    trun.data_offset = 0  # the sample is the moof's own first 8 bytes
    s = analyze_segment(track, "a", moof.to_bytes())
    assert s.chunks[0].first_sample_offset == 0
    trun.data_offset = -4
    data = moof.to_bytes()
    with pytest.raises(MediaError) as e:
        analyze_segment(track, "a", data)
    assert str(e.value) == f"sample data runs to byte 4, the segment has {len(data)} (truncated)"


def test_decoder_output_that_is_not_utf8(tmp_path: Path) -> None:
    odd = _script(tmp_path, "odd", "cat >/dev/null; printf 'a\\377b\\n' >&2")
    assert decode_check(b"", b"", ffmpeg=odd) == "a\ufffdb"
    four = _script(tmp_path, "four", "cat >/dev/null; printf 'a\\nb\\nc\\nd\\n' >&2")
    assert decode_check(b"", b"", ffmpeg=four) == "a; b; c (+1 more)"
