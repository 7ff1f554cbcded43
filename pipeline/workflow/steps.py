"""The steps that build a title, each a plain function of plain data.

    check destination -> probe -> plan -> (subtitles) -> encode -> package (+ manifests,
    validation) -> publish -> record

Both drivers call these same functions: `pipeline.workflow.title` runs them in one process
(`vod ingest`), `workers.tasks` runs each as a Celery task (`vod submit`, `vod watch`), with the
encode fanned out per rung or chunk (`pipeline.encode.parts`). Nothing here knows which driver
called it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import PipelineError, VodError
from pipeline.analysis.probe import probe
from pipeline.encode.subtitles import fit_cues, load_subtitles, vtt_duration
from pipeline.encode.transcode import transcode
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan
from pipeline.media.presentation import Presentation
from pipeline.media.quality import LadderAnalysis, QualityReport
from pipeline.package.thumbnails import package_thumbnails
from pipeline.planning.planner import plan as make_plan
from pipeline.storage.publish import Destination, Published, check_destination, publish_title
from pipeline.validate.quality import QUALITY_FILE
from pipeline.workflow.packaging import (
    Progress,
    check_valid,
    hls_key,
    package_sets,
    write_manifests,
    write_text_tracks,
)
from pipeline.workflow.spec import CatalogueTarget, TitleSpec

if TYPE_CHECKING:
    from drm.encryption.protect import Protection

__all__ = [
    "Clock",
    "Destination",
    "Progress",
    "Published",
    "analyse_title",
    "check_destination",
    "measure_quality",
    "encode_title",
    "key_labels",
    "load_keys",
    "load_texts",
    "named_after",
    "package_title",
    "plan_title",
    "probe_source",
    "publish_title",
    "record_title",
]


class Clock:
    """Seconds spent per step (the summary's `timings`)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


@contextmanager
def named_after(source: str, local: Path) -> Iterator[None]:
    """Errors about the local copy of `source` name `source` itself (e.g. the s3:// object the
    user submitted), never a worker's work directory."""
    try:
        yield
    except VodError as err:
        if source != str(local) and err.path == str(local):
            raise err.renamed(source) from err
        raise


def probe_source(local: Path, *, source: str | None = None) -> MediaInfo:
    """Probe the source; `source` names it in errors when `local` is a downloaded copy."""
    with named_after(source or str(local), local):
        return probe(local)


def plan_title(
    media: MediaInfo, spec: TitleSpec, analyses: Mapping[str, LadderAnalysis] | None = None
) -> Plan:
    """The renditions to encode for these device classes (never upscaled past the source);
    `analyses`: per-title ladders chosen for (some of) the classes."""
    return make_plan(
        media,
        list(spec.device_classes),
        segment_seconds=spec.segment_seconds,
        audio_map=spec.audio_map,
        per_title={c: a.rungs for c, a in (analyses or {}).items()},
    )


def analyse_title(
    media: MediaInfo, spec: TitleSpec, report: Progress | None = None
) -> dict[str, LadderAnalysis]:
    """The per-title analysis of every class (in this process; workers fan it out)."""
    from pipeline.workflow.per_title import analyse_class

    return {
        c: analyse_class(
            media,
            c,
            preset=spec.preset,
            segment_seconds=spec.segment_seconds,
            audio_map=spec.audio_map,
            report=report,
        )  # fmt: skip
        for c in spec.device_classes
    }


def measure_quality(
    plan: Plan, outputs: Mapping[str, Path], media: MediaInfo, spec: TitleSpec, build: Path,
    report: Progress | None = None,
) -> QualityReport:  # fmt: skip
    """The VMAF report of the encoded video renditions, written to build/quality.json (where
    validation checks it against each class's `min_vmaf`)."""
    from pipeline.workflow.quality import quality_report

    progress = (lambda f: report("quality", f)) if report else None
    quality = quality_report(plan, outputs, media=media, mode=spec.ladder, progress=progress)
    build.mkdir(parents=True, exist_ok=True)
    (build / QUALITY_FILE).write_text(quality.model_dump_json(indent=2), encoding="utf-8")
    return quality


def load_texts(
    subtitles: Sequence[tuple[Path, str]], duration: float, warnings: list[str] | None = None
) -> list[tuple[str, str]]:
    """Subtitle files as (WebVTT text, language), cut at the programme's end (`warnings` gets
    a line per file cut); refuses a file with no cue before the end (the wrong file?)."""
    texts: list[tuple[str, str]] = []
    for path, lang in subtitles:
        full = load_subtitles(path, lang)
        text, cut = fit_cues(full, duration)
        if cut and vtt_duration(text) == 0:
            raise PipelineError(
                path,
                f"every cue starts after the end of the title ({duration:.1f}s)",
                stage="subtitles",
            )
        if cut and warnings is not None:
            warnings.append(
                f"subtitles {path.name} ({lang}) run {cut:.3f} s past the picture (to "
                f"{vtt_duration(full):.3f} s, picture {duration:.3f} s): cues cut at the end"
            )
        texts.append((text, lang))
    return texts


def key_labels(plan: Plan) -> list[str]:
    """Content-key labels the plan's tracks need (SD/HD/UHD per rung, AUDIO)."""
    from drm.keys import label_for

    labels = [label_for("video", rung.height) for rung in plan.video]
    return list(dict.fromkeys(labels + (["AUDIO"] if plan.audio else [])))


def load_keys(protection: Protection | None, title_id: str, plan: Plan) -> None:
    """Fetch the title's content keys (once per build, before encrypting anything)."""
    if protection is not None:
        protection.load_keys(title_id, key_labels(plan))


def encode_title(
    plan: Plan,
    media: MediaInfo,
    work_dir: Path,
    *,
    preset: str,
    source: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Path]:
    """Every rendition in one FFmpeg run (the in-process encode; workers encode by part)."""
    with named_after(source or plan.source, Path(plan.source)):
        return transcode(plan, work_dir, media=media, preset=preset, progress=progress)


def package_title(
    plan: Plan,
    outputs: Mapping[str, Path | list[Path]],
    title_dir: Path,
    title_id: str,
    *,
    texts: Sequence[tuple[str, str]] = (),
    protection: Protection | None = None,
    report: Progress | None = None,
    clock: Clock | None = None,
    validate_output: bool = True,
    before_validate: Callable[[], None] | None = None,
) -> Presentation:
    """Encoded renditions (a file, or chunk files in order, per rendition) into a validated
    title in `title_dir`: keys, CMAF segments, text tracks, thumbnails, HLS + DASH manifests
    (and the WebVTT storyboard), validation.
    `protection` has its keys already (`load_keys`). Returns the HLS presentation."""
    clock = clock or Clock()
    report = report or (lambda stage, fraction: None)
    missing = [
        r.name for r in [*plan.video, *plan.audio, *plan.thumbnails] if r.name not in outputs
    ]
    if missing:
        raise PipelineError(title_dir, f"no encoded file for {', '.join(missing)}", stage="package")
    title_dir.mkdir(parents=True, exist_ok=True)
    with clock.stage("package"):
        text_tracks = write_text_tracks(title_dir, list(texts))
        sets = package_sets(plan, dict(outputs), title_dir, report, protection)  # type: ignore[arg-type]
        # thumbnails reach the end of the longest track (audio may end a frame after the picture)
        longest = max(t.duration_seconds for tracks in sets.values() for t in tracks)
        image_tracks = package_thumbnails(plan.thumbnails, outputs, title_dir, longest)  # type: ignore[arg-type]
    by_scheme = {
        scheme: Presentation(
            title_id=title_id,
            segment_seconds=plan.segment_seconds,
            tracks=tracks + text_tracks + image_tracks,
            duration=max(t.duration_seconds for t in tracks),
        )
        for scheme, tracks in sets.items()
    }
    with clock.stage("manifests"):
        write_manifests(by_scheme, title_dir, protection)
    if before_validate is not None:
        before_validate()
    if validate_output:
        with clock.stage("validate"):
            check_valid(title_dir)
    return by_scheme[hls_key(protection)]


def record_title(summary: dict[str, Any], target: CatalogueTarget) -> str:
    """Record the published title in the catalogue; the title stays published if this fails,
    and the error says so."""
    from catalogue.record import record_title as record

    try:
        return record(
            summary,
            database_url=target.database_url,
            base_url=target.base_url,
            folder=target.folder,
        )
    except Exception as e:
        raise PipelineError(
            None, f"title published but not recorded in the catalogue: {e}", stage="catalogue"
        ) from e
