"""Small packaged titles for the validator tests, and helpers to corrupt them one way at a time.

The sources are a few seconds of tiny H.264 + AAC made by FFmpeg, packaged by our own packager
with both manifests, so every corruption starts from a title the validator accepts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.media.presentation import Presentation, Track
from pipeline.mp4.base import parse_box, read_header
from pipeline.mp4.reader import fragment_samples, read_init, trex_defaults
from pipeline.validate.title import Report

X264 = [
    "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "60", "-keyint_min", "60",
    "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)",
]  # fmt: skip
VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nHello\n"
FRAG = ["-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof"]


def encode_sources(d: Path) -> Path:
    """13 s of 320x180 and 256x144 H.264 (IDR every 2 s) and stereo AAC, fragmented MP4."""
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


def encode_uneven_audio(d: Path) -> Path:
    """Two more stereo AAC renditions of 13 s beside `encode_sources`' 128 kb/s sine, with
    other bit rates: aud_hi (white noise at 256 kb/s, so the encoder spends it) and aud_lo
    (a sine at 48 kb/s)."""
    cmd = [
        "ffmpeg", "-v", "error", "-y",
        "-f", "lavfi", "-t", "13", "-i", "anoisesrc=r=48000:a=0.5",
        "-f", "lavfi", "-t", "13", "-i", "sine=f=660:r=48000",
        "-map", "0:a", "-c:a", "aac", "-ac", "2", "-b:a", "256k", *FRAG,
        "-frag_duration", "2000000", str(d / "aud_hi.mp4"),
        "-map", "1:a", "-c:a", "aac", "-ac", "2", "-b:a", "48k", *FRAG,
        "-frag_duration", "2000000", str(d / "aud_lo.mp4"),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=120)
    return d


def build_title(
    src: Path,
    title: Path,
    *,
    low_rung_seconds: float = 6.0,
    extra_audio: tuple[tuple[str, str], ...] = (),
) -> list[Track]:
    """Package the sources into `title` and write both manifests; return the tracks.

    `extra_audio`: (source name = track id, language) of more audio renditions, packaged
    after "aud" in this order (they join its AUDIO group when they are stereo AAC)."""
    from pipeline.manifest.dash import write_mpd
    from pipeline.manifest.hls import write_hls
    from pipeline.package.packager import package_track

    title.mkdir(parents=True, exist_ok=True)
    v180 = package_track(src / "v180.mp4", title, "v180")
    v144 = package_track(src / "v144.mp4", title, "v144", segment_seconds=low_rung_seconds)
    bounds = [s.start / v180.timescale for s in v180.segments]
    aud = package_track(src / "aud.mp4", title, "aud", boundaries=bounds, language="eng")
    extra = [
        package_track(src / f"{name}.mp4", title, name, boundaries=bounds, language=lang)
        for name, lang in extra_audio
    ]
    (title / "subs").mkdir(exist_ok=True)
    (title / "subs" / "eng.vtt").write_text(VTT)
    subs = Track(id="sub_eng", kind="text", codecs="wvtt", language="eng", uri="subs/eng.vtt")
    tracks = [v180, v144, aud, *extra, subs]
    p = Presentation(
        title_id=title.name, duration=max(t.duration_seconds for t in tracks), tracks=tracks
    )
    for name, text in write_hls(p).items():
        (title / name).write_text(text)
    (title / "manifest.mpd").write_text(write_mpd(p))
    return tracks


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace text in a manifest, failing loudly when the text to corrupt is not there."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count))


def codes(report: Report) -> set[str]:
    return {v.code for v in report.violations}


def set_timeline(mpd: Path, rep_id: str, entries: str) -> None:
    """Replace the S elements of one Representation's SegmentTimeline."""
    text = mpd.read_text()
    start = text.index(f'<Representation id="{rep_id}"')
    open_tag = text.index("<SegmentTimeline>", start) + len("<SegmentTimeline>")
    close_tag = text.index("</SegmentTimeline>", open_tag)
    mpd.write_text(text[:open_tag] + entries + text[close_tag:])


def first_sample(seg: bytes, title: Path, track: str) -> tuple[int, int, int]:
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
