"""The package stage of the distributed path: encoded renditions in, a validated title out.

`ingest.ingest` does the same steps in one process; this module exposes them as one call for a
worker that receives the encoded files from other workers. It reuses ingest's helpers
(`build_title`, `load_texts`, `key_labels`) so both paths produce
byte-for-byte the same kind of title.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import PipelineError
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan
from pipeline.workflow.title import IngestResult, Progress, build_title, key_labels

if TYPE_CHECKING:
    from drm.encryption.protect import Protection


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
    presentation = build_title(
        plan, outputs, title_dir, title_id, texts=texts, protection=protection, report=report,
        validate_output=validate_output,
    )  # fmt: skip
    return IngestResult(title_id, title_dir, presentation, plan, media, {}, protection).summary()
