"""The transcode stage cut into independent parts that separate workers can run.

Unchunked, a part is one video rung (a sub-plan run by `transcode.transcode`: the same command
lines, closed GOPs and forced IDR timestamps as the one-decode run); chunked
(`chunks.plan_chunks`), a part is one time range of every rung (`chunk_encode.encode_chunk`).
All audio is always one part. So a title encodes in parallel on as many cores or machines as
there are workers, and the packager cuts the same aligned segments either way. Outputs are
written in a private temp folder and renamed into place, so a part killed half-way (or run
twice by a redelivered task) never leaves a half-written file where the packager looks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import TranscodeError
from pipeline.encode.chunk_encode import encode_chunk
from pipeline.encode.chunks import Chunk, plan_chunks
from pipeline.encode.progress import ProgressCallback
from pipeline.encode.transcode import transcode
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan

AUDIO_PART = "audio"
THUMBNAILS_PART = "thumbnails"
# {"name": str, "kind": "video" | "chunk" | "audio", "renditions": [name, ...],
#  "chunk": Chunk as a dict (chunk parts only)}; plain JSON so it can ride in a task message.
Part = dict[str, Any]


def plan_parts(plan: Plan, chunk_seconds: float | None = None) -> list[Part]:
    """The independent encodes for `plan`: a part per video rung, or with `chunk_seconds` a
    part per chunk of all rungs (when the title is long enough for two); then all audio.
    Thumbnails ride with the first rung (one decode for both); chunked, they get a part."""
    chunks = []
    if chunk_seconds and plan.video:
        chunks = plan_chunks(plan.duration, plan.gop_seconds, plan.segment_seconds, chunk_seconds)
    rungs = [rung.name for rung in plan.video]
    if len(chunks) > 1:
        parts: list[Part] = [
            {"name": f"c{c.index:05d}", "kind": "chunk", "renditions": rungs,
             "chunk": c.model_dump()}
            for c in chunks
        ]  # fmt: skip
    else:
        parts = [{"name": name, "kind": "video", "renditions": [name]} for name in rungs]
    thumbs = [t.name for t in plan.thumbnails]
    if thumbs and parts and len(chunks) <= 1:  # same decode as the first rung
        parts[0]["renditions"] += thumbs
    elif thumbs:
        parts.append({"name": THUMBNAILS_PART, "kind": "video", "renditions": thumbs})
    if plan.audio:
        names = [a.name for a in plan.audio]
        parts.append({"name": AUDIO_PART, "kind": "audio", "renditions": names})
    return parts


def part_plan(plan: Plan, part: Part) -> Plan:
    """The sub-plan a part encodes: only its renditions, everything else unchanged."""
    wanted = set(part["renditions"])
    sub = plan.model_copy(
        update={
            "video": [r for r in plan.video if r.name in wanted],
            "audio": [a for a in plan.audio if a.name in wanted],
            "thumbnails": [t for t in plan.thumbnails if t.name in wanted],
        }
    )
    found = {r.name for r in sub.video} | {a.name for a in sub.audio}
    found |= {t.name for t in sub.thumbnails}
    if found != wanted:
        missing = ", ".join(sorted(wanted - found))
        raise TranscodeError(
            plan.source, f"part {part['name']!r} names unknown rendition(s) {missing}"
        )
    return sub


def encode_part(
    plan: Plan,
    part: Part,
    out_dir: Path,
    *,
    media: MediaInfo | None = None,
    preset: str = "veryfast",
    progress: ProgressCallback | None = None,
) -> dict[str, Path]:
    """Encode one part into out_dir/<rendition>.mp4; returns rendition name -> path.

    Files appear in out_dir only complete (temp folder + rename): a rerun replaces them whole.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sub = part_plan(plan, part)
    scratch = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".{part['name']}-"))
    try:
        if part["kind"] == "chunk":
            chunk = Chunk.model_validate(part["chunk"])
            made = encode_chunk(sub, chunk, scratch, media=media, preset=preset, progress=progress)
        else:
            made = transcode(sub, scratch, media=media, preset=preset, progress=progress)
        final: dict[str, Path] = {}
        for name, path in made.items():
            dest = out_dir / path.name
            os.replace(path, dest)
            final[name] = dest
        return final
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def gather_outputs(
    parts: Sequence[tuple[Part, dict[str, Path]]],
) -> dict[str, Path | list[Path]]:
    """Rendition name -> its file, or its chunk files in title order, for the packager."""
    whole: dict[str, Path | list[Path]] = {}
    chunked: dict[str, list[tuple[int, Path]]] = {}
    for part, files in parts:
        for name, path in files.items():
            if part["kind"] == "chunk":
                chunked.setdefault(name, []).append((part["chunk"]["index"], Path(path)))
            else:
                whole[name] = Path(path)
    for name, indexed in chunked.items():
        whole[name] = [path for _, path in sorted(indexed)]
    return whole
