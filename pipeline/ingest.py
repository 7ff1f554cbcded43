"""In-process orchestration: probe, plan, transcode, package, manifests, validate, publish.

This module only wires the stages together (the Celery path wires the same functions). All
work happens in a staging directory on the origin's filesystem; the title is renamed into place
only once it validated, and the staging directory is removed on any failure, so a failed run
leaves no trace on the origin and the source is never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.dash import write_mpd
from pipeline.errors import PipelineError
from pipeline.hls import write_hls
from pipeline.media import MediaInfo
from pipeline.package import package_track
from pipeline.plan import plan as make_plan
from pipeline.plan_model import Plan
from pipeline.presentation import Presentation, Track
from pipeline.probe import probe
from pipeline.publish import check_title_id, discard, publish_local, staging_dir
from pipeline.subtitles import load_subtitles, vtt_duration
from pipeline.transcode import transcode
from pipeline.validate import validate

Progress = Callable[[str, float], None]  # (stage, fraction 0..1)
WORK = ".work"


@dataclass
class IngestResult:
    title_id: str
    title_dir: Path
    presentation: Presentation
    plan: Plan
    media: MediaInfo
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def master(self) -> Path:
        return self.title_dir / "master.m3u8"

    @property
    def mpd(self) -> Path:
        return self.title_dir / "manifest.mpd"

    def summary(self) -> dict:
        """The `--json` summary: ids, manifest paths, renditions, stage timings."""
        return {
            "title_id": self.title_id,
            "hls": str(self.master),
            "dash": str(self.mpd),
            "duration": round(self.presentation.duration, 3),
            "renditions": [_rendition(t) for t in self.presentation.tracks],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def _rendition(t: Track) -> dict:
    out: dict = {"id": t.id, "kind": t.kind, "codecs": t.codecs}
    if t.kind == "video":
        out.update(
            width=t.width,
            height=t.height,
            frame_rate=t.frame_rate,
            bandwidth=t.bandwidth,
            average_bandwidth=t.average_bandwidth,
        )
    elif t.kind == "audio":
        out.update(
            language=t.language,
            channels=t.channels,
            sample_rate=t.sample_rate,
            bandwidth=t.bandwidth,
            average_bandwidth=t.average_bandwidth,
        )
    else:
        out.update(language=t.language, uri=t.uri)
    if t.segments:
        out["segments"] = len(t.segments)
    return out


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


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
) -> IngestResult:
    """Turn one mezzanine into a validated HLS + DASH title at ORIGIN/<title_id>."""
    source = Path(source)
    origin = Path(origin)
    check_title_id(title_id)
    clock = _Clock()
    report = progress or (lambda stage, fraction: None)

    with clock.stage("probe"):
        media = probe(source)
    with clock.stage("plan"):
        plan = make_plan(media, list(device_classes), segment_seconds=segment_seconds)
    texts = [(load_subtitles(path, lang), lang, path) for path, lang in subtitles]
    for text, _, path in texts:
        if vtt_duration(text) > media.duration + 1.0:
            raise PipelineError(
                path,
                f"subtitles run to {vtt_duration(text):.1f}s, past the "
                f"end of the title ({media.duration:.1f}s)",
                stage="subtitles",
            )

    origin.mkdir(parents=True, exist_ok=True)
    staged = staging_dir(origin, title_id)
    try:
        work = staged / WORK
        with clock.stage("transcode"):
            outputs = transcode(plan, work, media=media, progress=lambda f: report("transcode", f))
        with clock.stage("package"):
            tracks = package_all(plan, outputs, staged, report)
            tracks += write_text_tracks(staged, [(t, lang) for t, lang, _ in texts])
        presentation = Presentation(
            title_id=title_id,
            segment_seconds=segment_seconds,
            tracks=tracks,
            duration=max(t.duration_seconds for t in tracks if t.kind != "text"),
        )
        with clock.stage("manifests"):
            write_manifests(presentation, staged)
        _remove_tree(work)
        if validate_output:
            with clock.stage("validate"):
                check_valid(staged)
        with clock.stage("publish"):
            final = publish_local(staged, origin, title_id)
    except BaseException:
        discard(staged, origin)
        raise
    return IngestResult(title_id, final, presentation, plan, media, clock.timings)


def package_all(
    plan: Plan, outputs: dict[str, Path], title_dir: Path, report: Progress
) -> list[Track]:
    """Package video rungs first; audio then cuts its segments at the video segment starts."""
    tracks: list[Track] = []
    steps = len(plan.video) + len(plan.audio)
    boundaries: list[float] | None = None
    for i, rung in enumerate(plan.video):
        track = package_track(
            outputs[rung.name], title_dir, rung.name, segment_seconds=plan.segment_seconds
        )
        if boundaries is None:
            boundaries = [s.start / track.timescale for s in track.segments]
        tracks.append(track)
        report("package", (i + 1) / steps)
    for j, rendition in enumerate(plan.audio):
        name = _audio_label(rendition.language, rendition.channels)
        tracks.append(
            package_track(
                outputs[rendition.name],
                title_dir,
                rendition.name,
                segment_seconds=plan.segment_seconds,
                boundaries=boundaries,
                language=rendition.language,
                name=name,
                default=rendition.default,
            )
        )
        report("package", (len(plan.video) + j + 1) / steps)
    return tracks


def write_text_tracks(title_dir: Path, texts: Sequence[tuple[str, str]]) -> list[Track]:
    tracks: list[Track] = []
    used: set[str] = set()
    for text, lang in texts:
        stem = lang if lang not in used else f"{lang}-{len(used)}"
        used.add(stem)
        subs = title_dir / "subs"
        subs.mkdir(exist_ok=True)
        (subs / f"{stem}.vtt").write_text(text, encoding="utf-8")
        tracks.append(
            Track(
                id=f"subs-{stem}",
                kind="text",
                codecs="wvtt",
                language=lang,
                name=_language_name(lang),
                uri=f"subs/{stem}.vtt",
            )
        )
    return tracks


def write_manifests(presentation: Presentation, title_dir: Path) -> None:
    for name, text in write_hls(presentation).items():
        (title_dir / name).write_text(text, encoding="utf-8")
    (title_dir / "manifest.mpd").write_text(write_mpd(presentation), encoding="utf-8")


def check_valid(title_dir: Path) -> None:
    report = validate(title_dir)
    if not report.ok:
        raise PipelineError(
            title_dir,
            "packaged title failed validation:\n" + report.format_text(),
            stage="validate",
        )


_NAMES = {
    "eng": "English",
    "en": "English",
    "fra": "Français",
    "fre": "Français",
    "fr": "Français",
    "deu": "Deutsch",
    "ger": "Deutsch",
    "de": "Deutsch",
    "spa": "Español",
    "es": "Español",
    "ita": "Italiano",
    "it": "Italiano",
    "jpn": "日本語",
    "ja": "日本語",
    "und": "Undetermined",
}


def _language_name(lang: str) -> str:
    return _NAMES.get(lang.lower(), lang)


def _audio_label(lang: str, channels: int) -> str:
    base = _language_name(lang)
    return f"{base} 5.1" if channels >= 6 else base


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
