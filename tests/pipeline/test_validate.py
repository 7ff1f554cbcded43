"""`vod validate` against a real packaged title, then against one corruption at a time."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.media.presentation import Presentation, Track
from pipeline.mp4.base import parse_box, read_header
from pipeline.mp4.boxes import NON_SYNC_SAMPLE_FLAGS
from pipeline.mp4.reader import fragment_samples, read_init, trex_defaults
from pipeline.validate.title import Report, validate

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs FFmpeg")

X264 = [
    "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "60", "-keyint_min", "60",
    "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)",
]  # fmt: skip
VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nHello\n"
FRAG = ["-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof"]


# --- building titles ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """13 s of 320x180 and 256x144 H.264 (IDR every 2 s) and stereo AAC, fragmented MP4."""
    d = tmp_path_factory.mktemp("validate_src")
    cmd = [
        "ffmpeg", "-v", "error", "-y",
        "-f", "lavfi", "-t", "13", "-i", "testsrc2=s=320x180:r=30",
        "-f", "lavfi", "-t", "13", "-i", "sine=f=440:r=48000",
        "-map", "0:v", *X264, *FRAG, "-video_track_timescale", "90000", str(d / "v180.mp4"),
        "-map", "0:v", "-s", "256x144", *X264, *FRAG, "-video_track_timescale", "90000",
        str(d / "v144.mp4"),
        "-map", "1:a", "-c:a", "aac", "-ac", "2", "-b:a", "128k", *FRAG,
        "-frag_duration", "2000000", str(d / "aud.mp4"),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=120)
    return d


def build_title(src: Path, title: Path, *, low_rung_seconds: float = 6.0) -> list[Track]:
    """Package the sources into `title` and write both manifests; return the tracks."""
    from pipeline.manifest.dash import write_mpd
    from pipeline.manifest.hls import write_hls
    from pipeline.package.packager import package_track

    title.mkdir(parents=True, exist_ok=True)
    v180 = package_track(src / "v180.mp4", title, "v180")
    v144 = package_track(src / "v144.mp4", title, "v144", segment_seconds=low_rung_seconds)
    bounds = [s.start / v180.timescale for s in v180.segments]
    aud = package_track(src / "aud.mp4", title, "aud", boundaries=bounds, language="eng")
    (title / "subs").mkdir(exist_ok=True)
    (title / "subs" / "eng.vtt").write_text(VTT)
    subs = Track(id="sub_eng", kind="text", codecs="wvtt", language="eng", uri="subs/eng.vtt")
    tracks = [v180, v144, aud, subs]
    p = Presentation(
        title_id=title.name, duration=max(t.duration_seconds for t in tracks), tracks=tracks
    )
    for name, text in write_hls(p).items():
        (title / name).write_text(text)
    (title / "manifest.mpd").write_text(write_mpd(p))
    return tracks


@pytest.fixture(scope="session")
def good(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Track]]:
    """A clean title (read-only: tests that corrupt copy it first)."""
    title = tmp_path_factory.mktemp("validate_good") / "title"
    return title, build_title(sources, title)


@pytest.fixture()
def title(good: tuple[Path, list[Track]], tmp_path: Path) -> Path:
    """A private copy of the clean title, for one corruption."""
    dest = tmp_path / "title"
    shutil.copytree(good[0], dest)
    return dest


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count))


def codes(report: Report) -> set[str]:
    return {v.code for v in report.violations}


# --- a local http server --------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    requested: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).requested.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="session")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[str]]]:
    """(base URL, served directory, paths requested so far) of a 127.0.0.1 http.server."""
    root = tmp_path_factory.mktemp("validate_http")
    handler = type("Handler", (_Handler,), {"requested": []})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", root, handler.requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


# --- the clean title ------------------------------------------------------------------------


def test_good_title_has_no_violations_and_measured_stats(good: tuple[Path, list[Track]]) -> None:
    title, tracks = good
    report = validate(title)
    assert report.violations == [], report.format_text()
    assert report.ok and report.decoded
    assert sorted(report.manifests) == ["manifest.mpd", "master.m3u8"]
    assert set(report.stats) == {"v180", "v144", "aud"}
    for t in tracks[:3]:
        # independently: file sizes on disk, durations from the packager's own numbers
        sizes = [os.path.getsize(title / s.uri) for s in t.segments]
        secs = [s.duration / t.timescale for s in t.segments]
        s = report.stats[t.id]
        assert s.kind == t.kind and s.codecs == t.codecs and s.timescale == t.timescale
        assert s.segment_count == len(t.segments) == 3
        assert s.duration == pytest.approx(sum(secs))
        assert s.peak_bitrate == round(max(n * 8 / d for n, d in zip(sizes, secs, strict=True)))
        assert s.average_bitrate == round(sum(sizes) * 8 / sum(secs))
        assert s.peak_bitrate == t.bandwidth and s.complete
    assert report.stats["v180"].frame_duration == pytest.approx(1 / 30)


def test_each_manifest_alone_and_report_formats(good: tuple[Path, list[Track]]) -> None:
    title, _ = good
    for name in ("master.m3u8", "manifest.mpd"):
        report = validate(title / name, decode=False)
        assert report.ok, report.format_text()
        assert report.manifests == [name] and not report.decoded
        assert set(report.stats) == {"v180", "v144", "aud"}
    data = json.loads(report.to_json())
    assert data["ok"] is True and data["violations"] == []
    assert data["stats"]["aud"]["segment_count"] == 3
    assert report.format_text().endswith("OK (segments not decoded)")


def test_target_that_is_not_a_title(tmp_path: Path) -> None:
    assert codes(validate(tmp_path / "nope")) == {"target.invalid"}
    assert codes(validate(tmp_path)) == {"target.invalid"}
    (tmp_path / "notes.txt").write_text("hello")
    assert codes(validate(tmp_path / "notes.txt")) == {"target.invalid"}


# --- corruptions ----------------------------------------------------------------------------


def test_missing_segment(title: Path) -> None:
    (title / "v180" / "2.m4s").unlink()
    report = validate(title, decode=False)
    missing = [v for v in report.violations if v.code == "file.missing"]
    assert [v.where for v in missing] == ["v180/2.m4s"]
    assert not report.stats["v180"].complete
    text = report.format_text()
    assert "file.missing" in text and "v180/2.m4s" in text and "FAILED" in text


def test_subtitles_checked(title: Path) -> None:
    (title / "subs" / "eng.vtt").write_text("1\n00:00:01,000 --> 00:00:03,000\nHello\n")
    report = validate(title, decode=False)
    assert [(v.code, v.where) for v in report.violations] == [("media.vtt", "subs/eng.vtt")]
    (title / "subs" / "eng.vtt").unlink()
    report = validate(title, decode=False)
    assert [(v.code, v.where) for v in report.violations] == [("file.missing", "subs/eng.vtt")]


def test_missing_media_playlist(title: Path) -> None:
    (title / "v144.m3u8").unlink()
    report = validate(title / "master.m3u8", decode=False)
    assert [(v.code, v.where) for v in report.violations] == [("file.missing", "v144.m3u8")]


def test_empty_init_segment(title: Path) -> None:
    (title / "aud" / "init.mp4").write_bytes(b"")
    report = validate(title, decode=False)
    assert ("file.empty", "aud/init.mp4") in {(v.code, v.where) for v in report.violations}


def test_truncated_segment_does_not_decode(title: Path) -> None:
    seg = title / "v180" / "2.m4s"
    seg.write_bytes(seg.read_bytes()[:100_000])
    report = validate(title)
    decode = [v for v in report.violations if v.code == "media.decode"]
    assert [v.where for v in decode] == ["v180/2.m4s"]
    assert "media.parse" in codes(report)  # the box parser sees the truncation too
    fast = validate(title, decode=False)
    assert "media.decode" not in codes(fast) and "media.parse" in codes(fast)


def test_bandwidth_doubled(title: Path) -> None:
    master = title / "master.m3u8"
    text = master.read_text()
    line = next(ln for ln in text.splitlines() if "v180" not in ln and "RESOLUTION=320x180" in ln)
    bw = int(re.search(r"(?<![-A-Z])BANDWIDTH=(\d+)", line).group(1))
    edit(master, line, line.replace(f"BANDWIDTH={bw},", f"BANDWIDTH={bw * 2},", 1))
    report = validate(title, decode=False)
    assert codes(report) == {"hls.bandwidth"}, report.format_text()
    (v,) = report.violations
    assert v.where == "master.m3u8" and "v180.m3u8" in v.message and "+100.0%" in v.message


def test_dash_bandwidth_halved(title: Path, good: tuple[Path, list[Track]]) -> None:
    v180 = next(t for t in good[1] if t.id == "v180")
    edit(
        title / "manifest.mpd",
        f'bandwidth="{v180.bandwidth}"',
        f'bandwidth="{v180.bandwidth // 2}"',
    )
    assert codes(validate(title, decode=False)) == {"dash.bandwidth"}


def test_wrong_codecs(title: Path, good: tuple[Path, list[Track]]) -> None:
    real = next(t for t in good[1] if t.id == "v180").codecs
    edit(title / "master.m3u8", f'CODECS="{real},', 'CODECS="avc1.640028,')
    edit(title / "manifest.mpd", f'codecs="{real}"', 'codecs="avc1.640028"')
    report = validate(title, decode=False)
    assert codes(report) == {"hls.codecs", "dash.codecs"}, report.format_text()
    assert all(real in v.message for v in report.violations)


def test_missing_audio_codec_in_variant(title: Path) -> None:
    edit(title / "master.m3u8", ',mp4a.40.2"', '"', count=-1)
    report = validate(title, decode=False)
    assert codes(report) == {"hls.codecs"}
    assert len(report.violations) == 2  # both variants


def test_extinf_off_by_one_second(title: Path) -> None:
    edit(title / "v180.m3u8", "#EXTINF:6.000000,", "#EXTINF:5.000000,")
    report = validate(title, decode=False)
    extinf = [v for v in report.violations if v.code == "hls.extinf"]
    assert [v.where for v in extinf] == ["v180.m3u8"]
    assert "-1.000 s" in extinf[0].message
    # the MPD still says 6 s: HLS and DASH disagree
    assert codes(report) == {"hls.extinf", "align.hls_dash"}


def set_timeline(mpd: Path, rep_id: str, entries: str) -> None:
    """Replace the S elements of one Representation's SegmentTimeline."""
    text = mpd.read_text()
    start = text.index(f'<Representation id="{rep_id}"')
    open_tag = text.index("<SegmentTimeline>", start) + len("<SegmentTimeline>")
    close_tag = text.index("</SegmentTimeline>", open_tag)
    mpd.write_text(text[:open_tag] + entries + text[close_tag:])


def test_dash_timeline_and_timescale(title: Path, good: tuple[Path, list[Track]]) -> None:
    mpd = title / "manifest.mpd"
    aud = next(t for t in good[1] if t.id == "aud")
    d = [s.duration for s in aud.segments]
    set_timeline(mpd, "aud", f'<S t="0" d="{d[0] - 4800}"/><S d="{d[1]}"/><S d="{d[2]}"/>')
    report = validate(title, decode=False)
    assert codes(report) == {
        "dash.timeline_duration",  # segment 1 is 0.1 s short
        "dash.timeline_time",  # so segments 2 and 3 start 0.1 s early
        "align.hls_dash",
    }, report.format_text()
    edit(mpd, 'timescale="90000" initialization="v144', 'timescale="1000" initialization="v144')
    assert "dash.timescale" in codes(validate(title, decode=False))


def test_dash_start_number_off_by_one(title: Path) -> None:
    edit(
        title / "manifest.mpd",
        'media="v180/$Number$.m4s" startNumber="1"',
        'media="v180/$Number$.m4s" startNumber="0"',
    )
    report = validate(title, decode=False)
    assert "dash.start_number" in codes(report), report.format_text()
    assert ("file.missing", "v180/0.m4s") in {(v.code, v.where) for v in report.violations}


def _first_sample(seg: bytes, title: Path, track: str) -> tuple[int, int, int]:
    """(moof offset, first sample offset, size) of the first fragment of a segment."""
    off = 0
    while True:
        box_type, _, size = read_header(seg, off)
        if box_type == "moof":
            break
        off += size
    moof, _ = parse_box(seg, off)
    _, moov = read_init(title / track / "init.mp4")
    s = fragment_samples(moof, off, trex_defaults(moov))[0]
    return off, s.file_offset, s.size


def test_segment_starting_with_non_sync_sample(title: Path) -> None:
    seg = title / "v180" / "2.m4s"
    data = bytearray(seg.read_bytes())
    off, _, _ = _first_sample(bytes(data), title, "v180")
    moof, end = parse_box(bytes(data), off)
    trun = moof.find("traf/trun")
    trun.samples[0]["flags"] = NON_SYNC_SAMPLE_FLAGS
    new = moof.to_bytes()
    assert len(new) == end - off
    data[off:end] = new
    seg.write_bytes(bytes(data))
    report = validate(title, decode=False)
    assert ("media.sync", "v180/2.m4s") in {(v.code, v.where) for v in report.violations}
    # the I-frame playlist points at that fragment too
    assert codes(report) == {"media.sync", "hls.iframe_sync"}, report.format_text()


def test_segment_starting_with_non_idr_picture(title: Path) -> None:
    seg = title / "v180" / "2.m4s"
    data = bytearray(seg.read_bytes())
    _, pos, size = _first_sample(bytes(data), title, "v180")
    end = pos + size
    while pos < end:  # 4-byte NAL lengths (x264's avcC)
        n = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4] & 0x1F == 5:
            data[pos + 4] = (data[pos + 4] & 0xE0) | 1  # IDR slice -> non-IDR slice
            break
        pos += 4 + n
    else:
        pytest.fail("no IDR NAL unit in the first sample")
    seg.write_bytes(bytes(data))
    report = validate(title, decode=False)
    idr = [v for v in report.violations if v.code == "media.idr"]
    assert [v.where for v in idr] == ["v180/2.m4s"] and "NAL unit type 1" in idr[0].message
    assert codes(report) == {"media.idr"}


def test_iframe_byte_range_wrong(title: Path) -> None:
    pl = title / "v180_iframes.m3u8"
    m = re.search(r"#EXT-X-BYTERANGE:(\d+)@(\d+)", pl.read_text())
    n, o = int(m.group(1)), int(m.group(2))
    edit(pl, m.group(0), f"#EXT-X-BYTERANGE:{n - 100}@{o}")
    report = validate(title, decode=False)
    assert codes(report) == {"hls.iframe_range"}


def test_misaligned_rungs(sources: Path, tmp_path: Path) -> None:
    title = tmp_path / "misaligned"
    build_title(sources, title, low_rung_seconds=4.0)  # v144 cut at 4, 8, 12 s; v180 at 6, 12
    report = validate(title, decode=False)
    assert "align.rungs" in codes(report), report.format_text()
    assert codes(report) <= {"align.rungs"}


def test_av_duration_mismatch(title: Path, good: tuple[Path, list[Track]]) -> None:
    # drop the audio's last two segments from both manifests: 6 s of audio, 13 s of video
    aud = next(t for t in good[1] if t.id == "aud")
    playlist = title / "aud.m3u8"
    lines = playlist.read_text().splitlines()
    cut = lines.index("aud/2.m4s") - 1
    playlist.write_text("\n".join(lines[:cut] + ["#EXT-X-ENDLIST", ""]))
    set_timeline(title / "manifest.mpd", "aud", f'<S t="0" d="{aud.segments[0].duration}"/>')
    report = validate(title, decode=False)
    av = [v for v in report.violations if v.code == "av.duration"]
    first = aud.segments[0].duration / aud.timescale
    assert len(av) == 1 and f"{first:.3f} s" in av[0].message and "13.000 s" in av[0].message
    assert codes(report) == {"av.duration"}, report.format_text()


def test_hls_rules_on_playlists(title: Path) -> None:
    edit(title / "master.m3u8", "#EXT-X-INDEPENDENT-SEGMENTS\n", "")
    edit(title / "master.m3u8", ",FRAME-RATE=30.000", "")
    edit(title / "v144.m3u8", "#EXT-X-VERSION:7", "#EXT-X-VERSION:3")
    edit(title / "v144.m3u8", "#EXT-X-ENDLIST\n", "")
    edit(title / "v144.m3u8", "#EXT-X-PLAYLIST-TYPE:VOD\n", "")
    aud = title / "aud.m3u8"
    aud.write_text(re.sub(r"#EXT-X-TARGETDURATION:\d+", "#EXT-X-TARGETDURATION:5", aud.read_text()))
    report = validate(title / "master.m3u8", decode=False)
    assert codes(report) == {
        "hls.independent_segments",
        "hls.variant_attrs",
        "hls.version",
        "hls.endlist",
        "hls.playlist_type",
        "hls.target_duration",
    }, report.format_text()


# --- hostile input --------------------------------------------------------------------------


def test_mpd_with_external_entity_is_refused(
    title: Path, tmp_path: Path, http_root: tuple[str, Path, list[str]]
) -> None:
    base, _, requested = http_root
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    mpd = title / "manifest.mpd"
    text = mpd.read_text()
    doctype = (
        "<!DOCTYPE MPD [\n"
        f'  <!ENTITY xxe SYSTEM "{secret.as_uri()}">\n'
        f'  <!ENTITY remote SYSTEM "{base}/xxe-probe">\n'
        "]>\n"
    )
    text = text.replace("<MPD ", doctype + "<MPD ", 1)
    text = text.replace('<Period id="0"', '<BaseURL>&xxe;&remote;</BaseURL>\n  <Period id="0"', 1)
    mpd.write_text(text)
    report = validate(mpd, decode=False)
    assert codes(report) == {"dash.xml_unsafe"}
    assert "TOP-SECRET-MARKER" not in report.to_json()
    assert "/xxe-probe" not in requested


def test_safe_xml_refuses_a_dtd_in_any_encoding(tmp_path: Path) -> None:
    from pipeline.validate.dash import UnsafeXml, safe_xml

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it would block: proof that nothing tries to read the entity
    doc = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        f'<!DOCTYPE MPD [<!ENTITY x SYSTEM "{fifo.as_uri()}">'
        f'<!ENTITY % p SYSTEM "{fifo.as_uri()}"> %p;]><MPD>&x;</MPD>'
    )
    with pytest.raises(UnsafeXml):
        safe_xml(doc.encode("utf-16"))
    assert safe_xml(b"<MPD/>").tag == "MPD"


def test_mpd_entity_bomb_is_refused(tmp_path: Path) -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    mpd = tmp_path / "manifest.mpd"
    mpd.write_text(f'<?xml version="1.0"?><!DOCTYPE MPD [<!ENTITY l0 "lol">{lol}]><MPD>&l9;</MPD>')
    assert codes(validate(mpd, decode=False)) == {"dash.xml_unsafe"}


def test_manifest_cannot_reach_outside_the_title(title: Path) -> None:
    edit(title / "v180.m3u8", "v180/1.m4s", "../../../../../../etc/passwd")
    report = validate(title / "master.m3u8", decode=False)
    refused = [v for v in report.violations if v.code == "fetch.refused"]
    assert len(refused) == 1 and refused[0].where.endswith("/etc/passwd")


# --- over http ------------------------------------------------------------------------------


def test_validation_over_http(
    good: tuple[Path, list[Track]], http_root: tuple[str, Path, list[str]]
) -> None:
    title, _ = good
    base, root, requested = http_root
    shutil.copytree(title, root / "good")
    local = validate(title, decode=False)

    report = validate(f"{base}/good/master.m3u8")
    assert report.ok, report.format_text()
    assert report.manifests == ["master.m3u8"] and report.decoded
    assert report.stats == {k: v for k, v in local.stats.items()}
    assert "/good/v180/3.m4s" in requested

    both = validate(f"{base}/good/", decode=False)
    assert both.ok and sorted(both.manifests) == ["manifest.mpd", "master.m3u8"]
    assert both.stats == local.stats


def test_http_missing_segment_and_refused_scheme(
    good: tuple[Path, list[Track]], http_root: tuple[str, Path, list[str]]
) -> None:
    title, _ = good
    base, root, _ = http_root
    dest = root / "broken"
    shutil.copytree(title, dest)
    (dest / "v144" / "3.m4s").unlink()
    edit(dest / "aud.m3u8", "aud/1.m4s", "file:///etc/passwd")
    report = validate(f"{base}/broken/master.m3u8", decode=False)
    found = {(v.code, v.where) for v in report.violations}
    assert ("file.missing", "v144/3.m4s") in found
    assert ("fetch.refused", "file:///etc/passwd") in found


def test_safe_xml_accepts_comments_and_refuses_entities() -> None:
    from pipeline.validate.dash import UnsafeXml, safe_xml

    mpd = b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><!-- made by hand --><Period/></MPD>'
    assert safe_xml(mpd).find("{urn:mpeg:dash:schema:mpd:2011}Period") is not None
    hostile = b'<!DOCTYPE MPD [<!ENTITY x "boom">]><MPD>&x;</MPD>'
    with pytest.raises(UnsafeXml):
        safe_xml(hostile)
