"""The in-process driver (`vod ingest`): every step of `pipeline.workflow.steps` in one process.

The destination is checked first, so a bad title id or an unusable origin fails in seconds.
The title is built in a private folder (`ORIGIN/.staging/<id>-<random>/` for a directory
origin, a temporary directory for an S3 one), validated there, then published by the one
publication step, which never shows a half-written title (rename into place; on S3 media
first, manifests last). The build folder is removed whatever happens, so a failed run leaves
no trace on the origin, and the source is never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.storage.local import discard, staging_dir
from pipeline.workflow.quality import child_cpu
from pipeline.workflow.result import IngestResult, packaged_summary, title_summary
from pipeline.workflow.spec import Subtitle, TitleSpec
from pipeline.workflow.steps import (
    Clock,
    Destination,
    Progress,
    analyse_title,
    check_destination,
    encode_title,
    load_keys,
    load_texts,
    measure_quality,
    package_title,
    plan_title,
    probe_source,
    publish_title,
    record_title,
)

if TYPE_CHECKING:
    from drm.encryption.protect import Protection

WORK = ".work"


def build_title(
    spec: TitleSpec,
    *,
    progress: Progress | None = None,
    protection: Protection | None = None,
) -> IngestResult:
    """Build, validate, publish (and record, when `spec.catalogue` is set) one title.

    `protection` is what `spec.drm` describes, made by the caller when it holds secrets for
    it (operator keys, a key server token: `protection_for`), else made here."""
    clock = Clock()
    report = progress or (lambda stage, fraction: None)
    destination = check_destination(spec.origin, spec.title_id)
    if protection is None and spec.drm is not None:
        from pipeline.workflow.protection import protection_for

        protection = protection_for(spec.drm)
    source = Path(spec.source)
    with clock.stage("probe"):
        media = probe_source(source)
    cpu: dict[str, float] = {}
    analyses = {}
    if spec.ladder == "per-title":
        with clock.stage("analyse"), child_cpu(cpu, "analysis"):
            analyses = analyse_title(media, spec, report)
    with clock.stage("plan"):
        plan = plan_title(media, spec, analyses)
    subtitles = [(Path(s.path), s.language) for s in spec.subtitles]
    texts = load_texts(subtitles, plan.duration, warnings=plan.warnings)  # cut at the picture
    load_keys(protection, spec.title_id, plan)  # a missing key fails before hours of encoding
    with _build_dir(destination) as build:
        work = build / WORK
        with clock.stage("transcode"), child_cpu(cpu, "transcode"):
            outputs = encode_title(
                plan, media, work, preset=spec.preset, progress=lambda f: report("transcode", f)
            )
        quality = None
        if spec.wants_quality:
            with clock.stage("quality"), child_cpu(cpu, "quality"):
                quality = measure_quality(plan, outputs, media, spec, build, report)
        presentation = package_title(
            plan, outputs, build, spec.title_id, texts=texts, protection=protection,
            report=report, clock=clock, validate_output=spec.validate_output,
            before_validate=lambda: shutil.rmtree(work, ignore_errors=True),
        )  # fmt: skip
        with clock.stage("upload" if destination.is_s3 else "publish"):
            published = publish_title(build, destination)
    title_dir = build if destination.is_s3 else Path(destination.location)
    result = IngestResult(
        spec.title_id, title_dir, presentation, plan, media, published, clock.timings, protection,
        quality=quality, analyses=analyses, ladder=spec.ladder, cpu_seconds=cpu,
    )  # fmt: skip
    if spec.catalogue is not None:
        packaged = packaged_summary(presentation, protection)
        summary = title_summary(spec.title_id, published, packaged, clock.timings)
        with clock.stage("catalogue"):
            result.catalogue = record_title(summary, spec.catalogue)
    return result


@contextmanager
def _build_dir(destination: Destination) -> Iterator[Path]:
    """A private folder to build in, removed afterwards: beside the title on a directory
    origin (same filesystem, so publication links rather than copies), else a temp dir."""
    if destination.is_s3:
        with tempfile.TemporaryDirectory(prefix="vod-ingest-") as tmp:
            yield Path(tmp) / destination.title_id
        return
    root = Path(destination.origin)
    root.mkdir(parents=True, exist_ok=True)
    staged = staging_dir(root, destination.title_id)
    try:
        yield staged
    finally:
        discard(staged, root)


def ingest(
    source: str | Path,
    title_id: str,
    origin: str | Path,
    *,
    device_classes: Sequence[str] = ("web",),
    subtitles: Sequence[tuple[Path, str]] = (),
    segment_seconds: float = 6.0,
    progress: Progress | None = None,
    validate_output: bool = True,
    protection: Protection | None = None,
    **options: Any,
) -> IngestResult:
    """`build_title` with keyword arguments: a mezzanine in, a validated HLS + DASH title at
    ORIGIN/<title_id> out. ORIGIN is a directory, or an `s3://bucket/prefix` string."""
    spec = TitleSpec(
        source=str(source),
        title_id=title_id,
        origin=str(origin),
        device_classes=list(device_classes),
        subtitles=[Subtitle(path=str(path), language=lang) for path, lang in subtitles],
        segment_seconds=segment_seconds,
        validate_output=validate_output,
        **options,
    )
    return build_title(spec, progress=progress, protection=protection)
