"""A/V sync through the whole pipeline: a white flash and a beep at the same instant in the
source are presented together in the packaged title (within one AAC frame)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline.workflow.title import ingest
from tests.support.av_timing import beep_time, flash_time, joined, presentation_start

pytestmark = pytest.mark.slow

FLASH_AT = 2.0
RATE = 48000
AAC_FRAME = 1024 / RATE


def _sync_source(path: Path) -> Path:
    """5 s, 25 fps black with a 2-frame white flash at 2 s; silence with a 1 kHz beep at 2 s
    (offset sources are covered by tests/pipeline/test_sources_ingest.py)."""
    video = (
        "color=black:s=320x240:r=25:d=5,"
        f"drawbox=w=iw:h=ih:c=white:t=fill:enable='between(t,{FLASH_AT},{FLASH_AT + 0.07})'"
    )
    audio = (f"aevalsrc='if(between(t,{FLASH_AT},{FLASH_AT + 0.2}),0.8*sin(2*PI*1000*t),0)'"
             f":s={RATE}:d=5")  # fmt: skip
    args = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-shortest"]
    subprocess.run([*args, str(path)], check=True)
    return path


def test_flash_and_beep_stay_together(tmp_path: Path) -> None:
    source = _sync_source(tmp_path / "sync.mp4")
    source_offset = beep_time(source) - flash_time(source, 25)
    result = ingest(source, "sync", tmp_path / "origin", device_classes=["web"])
    video = min(result.presentation.of_kind("video"), key=lambda t: t.height or 0)
    (audio,) = result.presentation.of_kind("audio")
    v, a = (joined(result.title_dir / t.id, tmp_path / f"{t.id}.mp4") for t in (video, audio))
    flash = presentation_start(v) + flash_time(v, 25)
    beep = presentation_start(a) + beep_time(a)
    assert abs(flash - FLASH_AT) < 0.05
    # The packaged offset matches the source's own to within one AAC frame (21 ms).
    assert abs((beep - flash) - source_offset) < AAC_FRAME, (beep, flash, source_offset)
