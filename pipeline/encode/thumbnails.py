"""Hold each thumbnail tile image to the ladder's byte budget after the encode wrote it.

A tile image is fetched whole when a viewer first hovers the seek bar, so a busy picture
encoded at the configured quality must not grow past `max_image_kb`: such an image is
re-encoded with FFmpeg at coarser quantiser steps until it fits (or the coarsest, 31, is
reached, which is reported). The other images are copied as they are.
"""

from __future__ import annotations

import logging
import mmap
import os
import subprocess
from pathlib import Path

from core.errors import TranscodeError
from core.settings import ffmpeg_exe
from pipeline.bitstream.jpeg import JpegError, pictures
from pipeline.media.plan import ThumbnailSet

log = logging.getLogger(__name__)
QSCALE_STEP = 4
QSCALE_MAX = 31


def fit_budget(stream: Path, s: ThumbnailSet, ffmpeg: str | None = None) -> list[str]:
    """Re-encode the images of `stream` above the budget in place; returns a warning per image
    still above it at the coarsest quality."""
    warnings: list[str] = []
    with stream.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            found = list(pictures(data))
        except JpegError as exc:
            raise TranscodeError(stream, f"thumbnail stream is not valid JPEG: {exc}") from exc
        if all(p.end - p.start <= s.max_image_bytes for p in found):
            return warnings
        fitted = stream.with_name(stream.name + ".fit")
        with fitted.open("wb") as out:
            for number, p in enumerate(found, start=1):
                image = data[p.start : p.end]
                if len(image) > s.max_image_bytes:
                    image = _smaller(image, s, ffmpeg or ffmpeg_exe(), stream)
                    if len(image) > s.max_image_bytes:
                        warnings.append(
                            f"{s.name} image {number} is {len(image)} bytes at JPEG q "
                            f"{QSCALE_MAX}, above the {s.max_image_bytes} byte budget"
                        )
                out.write(image)
    os.replace(fitted, stream)
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def _smaller(image: bytes, s: ThumbnailSet, ffmpeg: str, stream: Path) -> bytes:
    qscale = s.jpeg_qscale
    while len(image) > s.max_image_bytes and qscale < QSCALE_MAX:
        qscale = min(QSCALE_MAX, qscale + QSCALE_STEP)
        argv = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-f", "mjpeg", "-i", "pipe:0"]
        argv += ["-c:v", "mjpeg", "-q:v", str(qscale), "-f", "mjpeg", "pipe:1"]
        done = subprocess.run(argv, input=image, capture_output=True, check=False)
        if done.returncode != 0 or not done.stdout:
            reason = done.stderr.decode(errors="replace").strip() or "no output"
            raise TranscodeError(stream, f"re-encoding a {s.name} tile image failed: {reason}")
        image = done.stdout
    return image
