"""Short FFmpeg clips for the CENC tests: fragmented MP4 as the transcoder writes it.

Every video clip is 14 s of 320x240 at 25 fps with a 2 s GOP, so the packager makes 3 segments
of up to 3 fragments each. Clips are made once per session (or once per machine with
`VOD_FIXTURE_CACHE`).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pipeline.bitstream.nal import NalContext, avc_context, hevc_context
from pipeline.mp4.codecs import sample_entry
from pipeline.mp4.reader import iter_samples, read_init

FRAGMENTED = [
    "-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets",
]  # fmt: skip
_X264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "50", "-keyint_min", "50"]
_X265 = ["-c:v", "libx265", "-tag:v", "hvc1", "-preset", "superfast"]
_X265_GOP = "log-level=error:keyint=50:min-keyint=50:scenecut=0:open-gop=0"

# name -> encoder arguments.
VIDEO_CLIPS: dict[str, list[str]] = {
    # High profile, CABAC, 3 B-frames, weighted P prediction (pred_weight_table in P slices).
    "h264_cabac": [*_X264, "-preset", "superfast", "-profile:v", "high", "-bf", "3",
                   "-x264-params", "weightp=2:scenecut=0"],
    # Baseline: CAVLC, no B-frames, POC type 2.
    "h264_baseline": [*_X264, "-preset", "superfast", "-profile:v", "baseline",
                      "-x264-params", "scenecut=0"],
    # Main-like CAVLC with B-pyramid, weighted bi-prediction and 4 slices per picture.
    "h264_cavlc_slices": [*_X264, "-preset", "fast", "-slices", "4", "-x264-params",
                          "cabac=0:bframes=3:b-pyramid=normal:weightb=1:ref=4:scenecut=0"],
    # High profile, CABAC, B-frames and 4 slices per picture: several subsamples per sample.
    "h264_cabac_slices": [*_X264, "-preset", "superfast", "-profile:v", "high", "-bf", "3",
                          "-x264-params", "slices=4:scenecut=0"],
    # Interlaced (MBAFF): frame_mbs_only_flag = 0, so field_pic_flag is in every header.
    "h264_mbaff": [*_X264, "-preset", "superfast", "-flags", "+ildct+ilme",
                   "-x264-params", "tff=1:scenecut=0"],
    # HEVC with B-frames, SAO, temporal MVP and wavefront entry points.
    "hevc": [*_X265, "-x265-params", f"{_X265_GOP}:bframes=4:weightb=1"],
    # HEVC, 3 slices per picture, 10-bit.
    "hevc_slices": [*_X265, "-pix_fmt", "yuv420p10le",
                    "-x265-params", f"{_X265_GOP}:bframes=3:slices=3"],
}  # fmt: skip


# Audio codecs as the transcoder writes them (E-AC-3/AC-3 need delay_moov in FFmpeg 5.1).
AUDIO_CLIPS: dict[str, list[str]] = {
    "aac": ["-c:a", "aac", "-b:a", "128k", "-ac", "2"],
    "eac3": ["-c:a", "eac3", "-b:a", "192k", "-ac", "6"],
    "ac3": ["-c:a", "ac3", "-b:a", "192k", "-ac", "2"],
}


def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = os.environ.get("VOD_FIXTURE_CACHE")
    if cache:
        path = Path(cache) / "cenc-clips"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.getbasetemp() / "cenc-clips"


def make_clip(kind: str, directory: Path) -> Path:
    """A fragmented MP4 like the transcoder writes (video: `VIDEO_CLIPS[kind]`, or 'aac')."""
    out = directory / f"{kind}.mp4"
    if out.exists():
        return out
    directory.mkdir(parents=True, exist_ok=True)
    base = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
    if kind in AUDIO_CLIPS:
        src = "sine=frequency=440:sample_rate=48000:duration=14"
        args = ["-f", "lavfi", "-i", src, *AUDIO_CLIPS[kind]]
        flags = "+frag_keyframe+empty_moov+default_base_moof+delay_moov"
        args += ["-f", "mp4", "-movflags", flags, "-frag_duration", "2000000"]
    else:
        src = "testsrc2=size=320x240:rate=25:duration=14"
        args = ["-f", "lavfi", "-i", src, *VIDEO_CLIPS[kind], *FRAGMENTED]
    tmp = out.with_suffix(".part")
    subprocess.run([*base, *args, str(tmp)], check=True, capture_output=True)
    tmp.rename(out)
    return out


def nal_context(path: Path) -> NalContext:
    _, moov = read_init(path)
    entry = sample_entry(moov)
    config = entry.find("avcC") or entry.find("hvcC")
    assert config is not None
    return avc_context(config.data) if config.box_type == "avcC" else hevc_context(config.data)


def read_samples(path: Path) -> list[bytes]:
    out = []
    with path.open("rb") as f:
        for s in iter_samples(path):
            f.seek(s.file_offset)
            out.append(f.read(s.size))
    return out
