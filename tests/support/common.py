"""Helpers the tests share: the repository root, the real `vod` CLI in a subprocess, rungs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.media.plan import VideoRung

ROOT = Path(__file__).resolve().parents[2]
MediaFactory = Callable[..., Path]
VOD = [sys.executable, "-m", "vod.cli"]


def run_vod(
    *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run the real `vod` command line in a subprocess, as a user would (`env`: the whole
    environment of the process, as subprocess takes it)."""
    return subprocess.run(
        [*VOD, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
    )


def video_rung(name: str, w: int, h: int, kbps: int, **kw: Any) -> VideoRung:
    """A video rung with the ladder's rate control (maxrate 1.1x, buffer 2x); 30 fps by default."""
    kw.setdefault("frame_rate", "30/1")
    return VideoRung(
        name=name,
        width=w,
        height=h,
        bitrate_kbps=kbps,
        maxrate_kbps=kbps * 11 // 10,
        bufsize_kbps=kbps * 2,
        **kw,
    )
