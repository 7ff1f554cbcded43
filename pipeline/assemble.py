"""The package stage of the distributed path: encoded renditions in, a validated title out.

`ingest.ingest` does the same steps in one process; this module exposes them as one call for a
worker that receives the encoded files from other workers. It reuses ingest's helpers
(`package_sets`, `write_text_tracks`, `write_manifests`, `check_valid`) so both paths produce
byte-for-byte the same kind of title.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import PipelineError
from pipeline.ingest import (
    IngestResult,
    Progress,
    check_valid,
    package_sets,
    write_manifests,
    write_text_tracks,
)
from pipeline.media import MediaInfo
from pipeline.plan_model import Plan
from pipeline.presentation import Presentation
from pipeline.subtitles import load_subtitles, vtt_duration

if TYPE_CHECKING:
    from drm.protect import Protection


def load_texts(subtitles: Sequence[tuple[Path, str]], duration: float) -> list[tuple[str, str]]:
    """Subtitle files as (WebVTT text, language); refuses any that run past the title's end."""
    texts: list[tuple[str, str]] = []
    for path, lang in subtitles:
        text = load_subtitles(path, lang)
        if vtt_duration(text) > duration + 1.0:
            raise PipelineError(
                path,
                f"subtitles run to {vtt_duration(text):.1f}s, past the "
                f"end of the title ({duration:.1f}s)",
                stage="subtitles",
            )
        texts.append((text, lang))
    return texts


def key_labels(plan: Plan) -> list[str]:
    """Content-key labels the plan's tracks need (SD/HD/UHD per rung, AUDIO)."""
    from drm.keys import label_for

    labels = [label_for("video", rung.height) for rung in plan.video]
    return list(dict.fromkeys(labels + (["AUDIO"] if plan.audio else [])))


def assemble_title(
    plan: Plan,
    media: MediaInfo,
    outputs: dict[str, Path | list[Path]],
    title_dir: Path,
    title_id: str,
    *,
    texts: Sequence[tuple[str, str]] = (),
    protection: Protection | None = None,
    progress: Progress | None = None,
    validate_output: bool = True,
) -> dict[str, Any]:
    """Package `outputs` (rendition name -> encoded file, or its chunk files in order) into
    title_dir; return its summary.

    The summary is `IngestResult.summary()`: KIDs but never content keys.
    """
    report = progress or (lambda stage, fraction: None)
    missing = [r.name for r in [*plan.video, *plan.audio] if r.name not in outputs]
    if missing:
        raise PipelineError(title_dir, f"no encoded file for {', '.join(missing)}", stage="package")
    if protection is not None:
        protection.load_keys(title_id, key_labels(plan))
    title_dir.mkdir(parents=True, exist_ok=True)
    text_tracks = write_text_tracks(title_dir, list(texts))
    sets = package_sets(plan, outputs, title_dir, report, protection)  # type: ignore[arg-type]
    by_scheme = {
        scheme: Presentation(
            title_id=title_id,
            segment_seconds=plan.segment_seconds,
            tracks=tracks + text_tracks,
            duration=max(t.duration_seconds for t in tracks),
        )
        for scheme, tracks in sets.items()
    }
    write_manifests(by_scheme, title_dir, protection)
    if validate_output:
        check_valid(title_dir)
    hls = protection.hls_scheme() if protection else "clear"
    result = IngestResult(title_id, title_dir, by_scheme[hls], plan, media, {}, protection)
    return result.summary()
