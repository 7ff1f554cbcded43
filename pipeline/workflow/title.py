"""In-process orchestration: probe, plan, transcode, package, manifests, validate, publish.

This module only wires the stages together (the Celery path wires the same functions). All
work happens in a staging directory on the origin's filesystem; the title is renamed into place
only once it validated, and the staging directory is removed on any failure, so a failed run
leaves no trace on the origin and the source is never touched. An `s3://bucket/prefix` origin
is built and validated the same way in a local temporary origin, then uploaded by
`publish_title_s3` (media first, manifests last) and the temporary origin removed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import PipelineError
from pipeline.analysis.probe import probe
from pipeline.encode.subtitles import load_subtitles, vtt_duration
from pipeline.encode.transcode import transcode
from pipeline.manifest.dash import write_mpd
from pipeline.manifest.hls import write_hls
from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan
from pipeline.media.presentation import Presentation, Track
from pipeline.package.packager import package_track
from pipeline.planning.planner import plan as make_plan
from pipeline.storage.local import check_title_id, discard, publish_local, staging_dir
from pipeline.storage.s3 import is_s3_url, parse_s3_url
from pipeline.validate.title import validate

if TYPE_CHECKING:  # DRM is optional: only imported when a title is protected
    from drm.encryption.protect import Protection

Progress = Callable[[str, float], None]  # (stage, fraction 0..1)
WORK = ".work"


@dataclass
class RemoteTitle:
    """Where an S3 publication put the title: s3:// URLs, and http URLs on a known endpoint."""

    bucket: str
    base: str  # key prefix of the title: <prefix>/<title_id>
    keys: list[str]
    endpoint: str | None = None

    def url(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.base}/{name}"

    def http_url(self, name: str) -> str | None:
        from pipeline.storage.s3 import public_url

        return public_url(self.endpoint, self.bucket, f"{self.base}/{name}")


@dataclass
class IngestResult:
    title_id: str
    title_dir: Path
    presentation: Presentation
    plan: Plan
    media: MediaInfo
    timings: dict[str, float] = field(default_factory=dict)
    protection: Protection | None = None
    remote: RemoteTitle | None = None  # set when published to S3 (title_dir is then gone)

    @property
    def master(self) -> Path:
        return self.title_dir / "master.m3u8"

    @property
    def mpd(self) -> Path:
        return self.title_dir / "manifest.mpd"

    @property
    def hls_location(self) -> str:
        """Local path of master.m3u8, or its s3:// URL when published to S3."""
        return self.remote.url("master.m3u8") if self.remote else str(self.master)

    @property
    def dash_location(self) -> str:
        return self.remote.url("manifest.mpd") if self.remote else str(self.mpd)

    def summary(self) -> dict:
        """The `--json` summary: ids, manifest paths (or URLs), renditions, stage timings."""
        return {
            "title_id": self.title_id,
            "hls": self.hls_location,
            "dash": self.dash_location,
            **(self._remote_summary() if self.remote else {}),
            "duration": round(self.presentation.duration, 3),
            "renditions": [_rendition(t) for t in self.presentation.tracks],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            **({"drm": self._drm_summary()} if self.protection else {}),
        }

    def _remote_summary(self) -> dict:
        remote = self.remote
        assert remote is not None
        out: dict = {"objects": len(remote.keys)}
        hls, dash = remote.http_url("master.m3u8"), remote.http_url("manifest.mpd")
        if hls and dash:
            out.update(hls_url=hls, dash_url=dash)
        return out

    def _drm_summary(self) -> dict:
        """Systems, scheme and KIDs per label; content keys never appear here."""
        p = self.protection
        assert p is not None
        return {
            "systems": p.systems,
            "scheme": p.scheme,
            "kids": p.kids_by_label(),
            "license_url": p.license_url,
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
    protection: Protection | None = None,
) -> IngestResult:
    """Turn one mezzanine into a validated HLS + DASH title at ORIGIN/<title_id>.

    ORIGIN is a directory, or an `s3://bucket/prefix` string (the title then lands under
    `prefix/<title_id>/` on the endpoint `pipeline.storage.s3.s3_client()` picks)."""
    options = dict(
        device_classes=device_classes,
        subtitles=subtitles,
        segment_seconds=segment_seconds,
        progress=progress,
        validate_output=validate_output,
        protection=protection,
    )
    if is_s3_url(origin):
        return _ingest_to_s3(source, title_id, str(origin), **options)
    if str(origin).startswith("s3:/"):  # Path("s3://b/p") collapsed the '//': not a dir
        raise PipelineError(origin, "pass an S3 origin as a string 's3://bucket/prefix'")
    source = Path(source)
    origin = Path(origin)
    check_title_id(title_id)
    clock = _Clock()
    report = progress or (lambda stage, fraction: None)

    with clock.stage("probe"):
        media = probe(source)
    with clock.stage("plan"):
        plan = make_plan(media, list(device_classes), segment_seconds=segment_seconds)
    texts = load_texts(subtitles, media.duration)
    if protection is not None:
        protection.load_keys(title_id, key_labels(plan))
    origin.mkdir(parents=True, exist_ok=True)
    staged = staging_dir(origin, title_id)
    try:
        work = staged / WORK
        with clock.stage("transcode"):
            outputs = transcode(plan, work, media=media, progress=lambda f: report("transcode", f))
        presentation = build_title(
            plan, outputs, staged, title_id, texts=texts, protection=protection, report=report,
            clock=clock, validate_output=validate_output, before_validate=lambda: rmtree(work),
        )  # fmt: skip
        with clock.stage("publish"):
            final = publish_local(staged, origin, title_id)
    except BaseException:
        discard(staged, origin)
        raise
    return IngestResult(title_id, final, presentation, plan, media, clock.timings, protection)


def _ingest_to_s3(source: str | Path, title_id: str, origin: str, **options: Any) -> IngestResult:
    """Build and validate in a local temporary origin, then upload; the temp dir always goes."""
    from pipeline.storage.s3 import check_access, endpoint_url, join_key
    from pipeline.storage.s3_publish import publish_title_s3

    bucket, prefix = parse_s3_url(origin)  # refuse a bad URL or bucket before hours of encoding
    base = join_key(prefix, check_title_id(title_id))
    endpoint = endpoint_url()
    check_access(bucket)
    with tempfile.TemporaryDirectory(prefix="vod-ingest-") as tmp:
        result = ingest(source, title_id, tmp, **options)
        start = time.perf_counter()
        keys = publish_title_s3(result.title_dir, bucket, prefix, title_id)
        result.timings["upload"] = time.perf_counter() - start
    result.remote = RemoteTitle(bucket, base, keys, endpoint)
    return result


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


def build_title(
    plan: Plan,
    outputs: dict[str, Path] | dict[str, Path | list[Path]],
    title_dir: Path,
    title_id: str,
    *,
    texts: Sequence[tuple[str, str]] = (),
    protection: Protection | None = None,
    report: Progress | None = None,
    clock: _Clock | None = None,
    validate_output: bool = True,
    before_validate: Callable[[], None] | None = None,
) -> Presentation:
    """Encoded renditions in title_dir: package, write manifests, validate. Shared by the
    in-process ingest and the workers' package stage; returns the HLS presentation."""
    clock = clock or _Clock()
    report = report or (lambda stage, fraction: None)
    with clock.stage("package"):
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
    with clock.stage("manifests"):
        write_manifests(by_scheme, title_dir, protection)
    if before_validate is not None:
        before_validate()
    if validate_output:
        with clock.stage("validate"):
            check_valid(title_dir)
    return by_scheme[_hls_key(protection)]


def _hls_key(protection: Protection | None) -> str:
    return protection.hls_scheme() if protection else "clear"


def _dash_key(protection: Protection | None) -> str:
    return protection.dash_scheme() if protection else "clear"


def package_sets(
    plan: Plan,
    outputs: dict[str, Path],
    title_dir: Path,
    report: Progress,
    protection: Protection | None,
) -> dict[str, list[Track]]:
    """One set of segments per scheme ("clear" when unprotected). With two schemes (`both`)
    each set lives in its own folder (cenc/, cbcs/) and its URIs say so."""
    if protection is None:
        return {"clear": package_all(plan, outputs, title_dir, report)}
    schemes = protection.segment_schemes
    sets: dict[str, list[Track]] = {}
    for scheme in schemes:
        prefix = scheme if len(schemes) > 1 else ""
        target = title_dir / prefix if prefix else title_dir
        tracks = package_all(plan, outputs, target, report, protection, scheme)
        sets[scheme] = [_rebase(t, prefix) for t in tracks] if prefix else tracks
    return sets


def _rebase(track: Track, prefix: str) -> Track:
    """Track URIs relative to the title directory when its files sit in a sub-folder."""

    def rel(uri: str | None) -> str | None:
        return f"{prefix}/{uri}" if uri else uri

    return track.model_copy(
        update={
            "init_uri": rel(track.init_uri),
            "segment_template": rel(track.segment_template),
            "segments": [s.model_copy(update={"uri": rel(s.uri)}) for s in track.segments],
        }
    )


def package_all(
    plan: Plan,
    outputs: dict[str, Path],
    title_dir: Path,
    report: Progress,
    protection: Protection | None = None,
    scheme: str = "",
) -> list[Track]:
    """Package video rungs first; audio then cuts its segments at the video segment starts."""
    tracks: list[Track] = []
    steps = len(plan.video) + len(plan.audio)
    boundaries: list[float] | None = None

    def hooks(kind: str, height: int | None) -> dict:
        if protection is None:
            return {}
        enc = protection.encryptor(scheme, protection.key_for(kind, height))
        return {"transform": enc, "init_transform": enc.init_transform}

    for i, rung in enumerate(plan.video):
        track = package_track(
            outputs[rung.name],
            title_dir,
            rung.name,
            segment_seconds=plan.segment_seconds,
            **hooks("video", rung.height),
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
                **hooks("audio", None),
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


def write_manifests(
    by_scheme: dict[str, Presentation], title_dir: Path, protection: Protection | None = None
) -> None:
    """HLS from the HLS set (cbcs when `both`), DASH from the DASH set (cenc when `both`)."""
    hls = by_scheme[_hls_key(protection)]
    dash = by_scheme[_dash_key(protection)]
    if protection is None:
        playlists = write_hls(hls)
        mpd = write_mpd(dash)
    else:
        playlists = write_hls(
            hls,
            key_lines=protection.hls_key_lines,
            session_key_lines=protection.hls_session_key_lines(hls.tracks),
        )
        mpd = write_mpd(dash, content_protection=protection.dash_content_protection)
    for name, text in playlists.items():
        (title_dir / name).write_text(text, encoding="utf-8")
    (title_dir / "manifest.mpd").write_text(mpd, encoding="utf-8")


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


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
