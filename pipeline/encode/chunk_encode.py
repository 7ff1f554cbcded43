"""Chunked encoding: one FFmpeg run per chunk (all video rungs), audio once for the whole title.

Each function here is one unit of work a queue worker can run on its own: `encode_chunk` for
every chunk from `chunks.plan_chunks`, `encode_audio` once. The chunk files keep the title's
absolute timeline and IDR cadence, so `package_track(list_of_chunk_files, ...)` joins them
(see `chunk_join`). Command lines come from `ffmpeg_cmd`; FFmpeg is run by `transcode`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from core.errors import TranscodeError
from pipeline.encode.chunks import Chunk
from pipeline.encode.ffmpeg_cmd import build_chunk_command
from pipeline.encode.progress import ProgressCallback
from pipeline.encode.transcode import run_ffmpeg, transcode
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan


def encode_chunk(
    plan: Plan,
    chunk: Chunk,
    out_dir: Path,
    *,
    media: MediaInfo | None = None,
    preset: str = "veryfast",
    progress: ProgressCallback | None = None,
) -> dict[str, Path]:
    """Encode `chunk` of every video rung into out_dir/<rung>.c<index>.mp4; rung -> path.

    Raises TranscodeError (and leaves no partial files) when FFmpeg fails or writes nothing.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    argv, outputs = build_chunk_command(plan, chunk, out_dir, media=media, preset=preset)
    try:
        run_ffmpeg(argv, source=plan.source, duration=chunk.duration, progress=progress)
        for name, path in outputs.items():
            if not path.is_file() or path.stat().st_size == 0:
                raise TranscodeError(
                    plan.source, f"ffmpeg wrote no output for {name} chunk {chunk.index} ({path})"
                )
    except BaseException:
        _remove(outputs.values())  # a half-written chunk must never be joined
        raise
    return outputs


def encode_audio(
    plan: Plan,
    out_dir: Path,
    *,
    progress: ProgressCallback | None = None,
) -> dict[str, Path]:
    """Encode every audio rendition of the whole title (audio is cheap: never chunked)."""
    if not plan.audio:
        return {}
    return transcode(plan.model_copy(update={"video": []}), out_dir, progress=progress)


def encode_chunks(
    plan: Plan,
    chunks: Sequence[Chunk],
    out_dir: Path,
    *,
    media: MediaInfo | None = None,
    preset: str = "veryfast",
) -> dict[str, list[Path]]:
    """All chunks one after the other, in this process: rung -> chunk files in title order.

    The in-process equivalent of fanning `encode_chunk` out to workers (tests, benchmarks).
    """
    files: dict[str, list[Path]] = {rung.name: [] for rung in plan.video}
    for chunk in sorted(chunks, key=lambda c: c.index):
        for name, path in encode_chunk(plan, chunk, out_dir, media=media, preset=preset).items():
            files[name].append(path)
    return files


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
