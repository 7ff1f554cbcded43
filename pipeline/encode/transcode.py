"""The transcode stage: run the one-decode FFmpeg command for a plan and check what it wrote.

Command lines come from `ffmpeg_cmd`; this module only runs them. FFmpeg's stdout carries the
`-progress` stream, its stderr (read on a thread so neither pipe can fill up and block) is kept
as a short tail for the error message.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from core.errors import TranscodeError
from core.settings import ffmpeg_exe
from pipeline.encode.ffmpeg_cmd import build_transcode_command
from pipeline.encode.progress import ProgressCallback, ProgressTracker
from pipeline.encode.thumbnails import fit_budget
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan

STDERR_TAIL_LINES = 50
# Trailers FFmpeg prints after the real cause; never the most useful line.
_GENERIC_LINES = ("conversion failed!", "exiting normally")
# FFmpeg >= 6 closes a failed open with summaries after the cause: "Error opening input file
# X." / "Error opening output files: Filter not found". FFmpeg 5 printed only the cause.
_OPEN_TRAILER = re.compile(r"error opening (input|output) files?\b", re.IGNORECASE)
_OPEN_INPUT = re.compile(r"Error opening input file (?P<path>.+)\.")
# ... and its cause lacks the file name: "[in#0 @ 0x55d4...] Error opening input: REASON".
_OPEN_INPUT_CAUSE = re.compile(r"(\[in#\d+ @ [^]]*\] )?Error opening input: (?P<reason>.+)")


def transcode(
    plan: Plan,
    out_dir: Path,
    *,
    progress: ProgressCallback | None = None,
    preset: str = "veryfast",
    media: MediaInfo | None = None,
) -> dict[str, Path]:
    """Encode every rendition of `plan` into out_dir/<name>.mp4 (thumbnail sets: <name>.mjpeg,
    held to their byte budget); returns name -> path.

    `media` (the probe result) lets the command skip filters the source does not need and
    deinterlace interlaced sources; without it the output is still correct.
    Raises TranscodeError naming the source when FFmpeg fails or an output is missing.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    argv, outputs = build_transcode_command(plan, out_dir, media=media, preset=preset)
    try:
        run_ffmpeg(argv, source=plan.source, duration=plan.duration, progress=progress)
    except BaseException:
        _remove(outputs.values())  # half-written files must not reach the packager
        raise
    for name, path in outputs.items():
        if not path.is_file() or path.stat().st_size == 0:
            raise TranscodeError(plan.source, f"ffmpeg wrote no output for {name} ({path})")
    for thumbs in plan.thumbnails:
        fit_budget(outputs[thumbs.name], thumbs)
    return outputs


def run_ffmpeg(
    argv: list[str],
    *,
    source: str,
    duration: float,
    progress: ProgressCallback | None = None,
) -> None:
    """Run FFmpeg to completion, reporting progress; kill it if we are interrupted."""
    tracker = ProgressTracker(duration, progress)
    if argv[0] == "ffmpeg":  # command builders name the program; VOD_FFMPEG says which one
        argv = [ffmpeg_exe(), *argv[1:]]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise TranscodeError(source, f"cannot run {argv[0]}: {exc}") from exc
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    reader = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    reader.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            tracker.feed(line)
        code = proc.wait()
    except BaseException:  # KeyboardInterrupt included: never leave FFmpeg running
        proc.kill()
        proc.wait()
        raise
    finally:
        reader.join(timeout=5)
    if code != 0:
        detail = "\n".join(tail)
        raise TranscodeError(
            source, f"ffmpeg exited with code {code}: {last_meaningful_line(tail)}", detail=detail
        )
    if not tracker.ended:
        tracker.feed("progress=end")


def last_meaningful_line(lines: Iterable[str]) -> str:
    """The last stderr line that says something (not blank, not a generic trailer).

    FFmpeg 6+'s cause of a failed input open is put back in FFmpeg 5's form, `X: REASON`, so
    the message names the file whichever FFmpeg runs."""
    texts = [line.strip() for line in lines]
    opened = (_OPEN_INPUT.fullmatch(t) for t in texts)
    path = next((m["path"] for m in opened if m), None)
    summary = None  # a summary line is still better than nothing
    for text in reversed(texts):
        if not text or text.lower() in _GENERIC_LINES:
            continue
        if _OPEN_TRAILER.match(text):
            summary = summary or text
            continue
        cause = _OPEN_INPUT_CAUSE.fullmatch(text)
        if cause and path:
            return f"{path}: {cause['reason']}"
        return text
    return summary or "no error output"


def _drain(stream: IO[str] | None, tail: deque[str]) -> None:
    if stream is None:
        return
    for line in stream:
        tail.append(line.rstrip("\n"))


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
