"""Packaging a title's encoded renditions: CMAF segments per scheme, text tracks, manifests.

The helpers behind the workflow's package step (`pipeline.workflow.steps.package_title`). With
DRM, each scheme gets its own segment set (`both`: cenc/ for DASH, cbcs/ for HLS) and the
manifests carry the key signalling; without, one clear set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import PipelineError
from pipeline.manifest.dash import write_mpd
from pipeline.manifest.hls import write_hls
from pipeline.manifest.images import STORYBOARD, storyboard_vtt
from pipeline.media.plan import Plan
from pipeline.media.presentation import Presentation, Track
from pipeline.package.packager import package_track
from pipeline.validate.title import validate

if TYPE_CHECKING:  # DRM is optional: only imported when a title is protected
    from drm.encryption.protect import Protection

Progress = Callable[[str, float], None]  # (stage, fraction 0..1)


def hls_key(protection: Protection | None) -> str:
    """Which segment set the HLS manifests describe ("clear" when unprotected)."""
    return protection.hls_scheme() if protection else "clear"


def dash_key(protection: Protection | None) -> str:
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
    hls = by_scheme[hls_key(protection)]
    dash = by_scheme[dash_key(protection)]
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
    images = hls.of_kind("image")
    if images:  # the smallest thumbnails, for players that read a storyboard
        board = storyboard_vtt(min(images, key=lambda t: t.width or 0), hls.duration)
        (title_dir / STORYBOARD).write_text(board, encoding="utf-8")


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
