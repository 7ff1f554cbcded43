"""Measure when things happen in a packaged track: the flash in a picture, the beep in a sound,
the first presented sample, each channel's beep.

Presentation times come from the boxes (decode time + composition offset - the edit list's
media_time), never from FFmpeg's timestamps: FFmpeg 5.1 decodes the priming samples of a
fragmented track and reads negative trun v1 composition offsets its own way. The decoded
content (first bright frame, first loud sample) is FFmpeg's.
"""

from __future__ import annotations

import subprocess
from itertools import islice
from pathlib import Path

from pipeline.mp4.reader import iter_samples, read_init

RATE = 48000
LOUD = 8000  # |s16| above this is a beep, not silence or codec noise


def joined(track_dir: Path, out: Path) -> Path:
    """init.mp4 + every segment in order, as one fragmented file."""
    segments = sorted(track_dir.glob("*.m4s"), key=lambda p: int(p.stem))
    with out.open("wb") as f:
        for part in [track_dir / "init.mp4", *segments]:
            f.write(part.read_bytes())
    return out


def presentation_start(track: Path) -> float:
    """Presentation time of the first DECODED sample: decode time plus the (signed)
    composition offset, minus the edit list's media_time (the priming it skips)."""
    moov = read_init(track)[1]
    timescale = moov.find("trak/mdia/mdhd").timescale
    elst = moov.find("trak/edts/elst")
    skip = elst.entries[0]["media_time"] if elst is not None and elst.entries else 0
    samples = list(islice(iter_samples(track), 16))
    return (min(s.presentation_time for s in samples) - skip) / timescale


def flash_time(video: Path, fps: float) -> float:
    """Seconds from the first decoded frame to the first mostly-white one."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-vf", "scale=16:12", "-pix_fmt", "gray",
         "-f", "rawvideo", "-"], capture_output=True, check=True).stdout  # fmt: skip
    frame = 16 * 12
    for n in range(len(raw) // frame):
        if sum(raw[n * frame : (n + 1) * frame]) / frame > 128:
            return n / fps
    raise AssertionError("no flash in the decoded video")


def decoded_pcm(audio: Path) -> tuple[list[list[int]], int]:
    """Every channel's 16-bit samples at RATE, and the channel count FFmpeg decoded."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels",
         "-of", "default=nw=1:nk=1", str(audio)],
        capture_output=True, text=True, check=True)  # fmt: skip
    channels = int(probe.stdout.strip().splitlines()[0])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(audio), "-ar", str(RATE), "-f", "s16le", "-"],
        capture_output=True, check=True).stdout  # fmt: skip
    values = memoryview(raw).cast("h")
    return [list(values[c::channels]) for c in range(channels)], channels


def first_loud(samples: list[int]) -> float | None:
    """Seconds to the first sample louder than LOUD, None for a quiet channel."""
    return next((i / RATE for i, v in enumerate(samples) if abs(v) > LOUD), None)


def beep_time(audio: Path) -> float:
    """Seconds from the first decoded sample to the first loud one, on any channel."""
    pcm, _ = decoded_pcm(audio)
    times = [t for t in map(first_loud, pcm) if t is not None]
    if not times:
        raise AssertionError("no beep in the decoded audio")
    return min(times)


def decoded_seconds(audio: Path) -> float:
    """How long the decoded sound lasts (priming included)."""
    pcm, _ = decoded_pcm(audio)
    return len(pcm[0]) / RATE
