"""What building a title produced, and its summary (the `--json` output and the job summary).

The summary is made by one function, `title_summary`, from two halves: what packaging produced
(`packaged_summary`: duration, renditions, DRM KIDs) and where publication put it. The
in-process driver calls it through `IngestResult.summary()`; the Celery driver calls it once in
its publish step, where both halves meet. Content keys never appear in it, only KIDs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.media.info import MediaInfo
from pipeline.media.plan import Plan
from pipeline.media.presentation import Presentation, Track
from pipeline.media.quality import LadderAnalysis, QualityReport
from pipeline.storage.publish import Published

if TYPE_CHECKING:
    from drm.encryption.protect import Protection

ENTRY_POINTS = {"hls": "master.m3u8", "dash": "manifest.mpd"}


@dataclass
class IngestResult:
    """A published title, as the in-process driver built it."""

    title_id: str
    title_dir: Path  # the local title; for an S3 origin, the build folder (removed by then)
    presentation: Presentation
    plan: Plan
    media: MediaInfo
    published: Published
    timings: dict[str, float] = field(default_factory=dict)
    protection: Protection | None = None
    catalogue: str | None = None  # outcome of the record step, when it ran
    quality: QualityReport | None = None
    analyses: dict[str, LadderAnalysis] = field(default_factory=dict)  # per-title, per class
    ladder: str = "fixed"
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # FFmpeg CPU per step

    @property
    def master(self) -> Path:
        return self.title_dir / ENTRY_POINTS["hls"]

    @property
    def mpd(self) -> Path:
        return self.title_dir / ENTRY_POINTS["dash"]

    @property
    def remote(self) -> bool:
        """True when the title went to an S3 origin."""
        return self.published.destination.is_s3

    @property
    def location(self) -> str:
        """The title's folder on the origin: a directory or an s3:// URL."""
        return self.published.location

    def summary(self) -> dict[str, Any]:
        """The `--json` summary: ids, manifest paths (or URLs), renditions, stage timings."""
        packaged = packaged_summary(self.presentation, self.protection)
        packaged["ladder"] = ladder_summary(self.ladder, self.analyses)
        if self.quality is not None:
            packaged["quality"] = self.quality.model_dump(mode="json")
        out = title_summary(self.title_id, self.published, packaged, self.timings)
        if self.catalogue is not None:
            out["catalogue"] = self.catalogue
        if self.plan.warnings:  # tracks trimmed/padded to the picture, guessed channel maps
            out["warnings"] = list(self.plan.warnings)
        if self.cpu_seconds:
            out["cpu_seconds"] = dict(self.cpu_seconds)
        return out


def ladder_summary(mode: str, analyses: dict[str, LadderAnalysis]) -> dict[str, Any]:
    """How the video ladder was chosen: fixed, or per title (with each class's analysis)."""
    out: dict[str, Any] = {"mode": mode}
    if analyses:
        out["analysis"] = {c: a.model_dump(mode="json") for c, a in analyses.items()}
    return out


def packaged_summary(presentation: Presentation, protection: Protection | None) -> dict[str, Any]:
    """Duration, renditions and DRM (KIDs per label, never keys) of a packaged title."""
    out: dict[str, Any] = {
        "duration": round(presentation.duration, 3),
        "renditions": [_rendition(t) for t in presentation.tracks],
    }
    if protection is not None:
        out["drm"] = {
            "systems": protection.systems,
            "scheme": protection.scheme,
            "kids": protection.kids_by_label(),
            "license_url": protection.license_url,
        }
    return out


def title_summary(
    title_id: str, published: Published, packaged: dict[str, Any], timings: dict[str, float]
) -> dict[str, Any]:
    """The one summary of a published title (see the module docstring)."""
    where = published.destination
    out: dict[str, Any] = {
        "title_id": title_id,
        "hls": where.url(ENTRY_POINTS["hls"]),
        "dash": where.url(ENTRY_POINTS["dash"]),
    }
    if where.is_s3:
        out["objects"] = len(published.keys)
        hls, dash = where.http_url(ENTRY_POINTS["hls"]), where.http_url(ENTRY_POINTS["dash"])
        if hls and dash:
            out.update(hls_url=hls, dash_url=dash)
    out["duration"] = packaged["duration"]
    out["renditions"] = packaged["renditions"]
    out["timings"] = {k: round(v, 3) for k, v in timings.items()}
    if packaged.get("drm"):
        out["drm"] = packaged["drm"]
    if packaged.get("warnings"):
        out["warnings"] = packaged["warnings"]
    for key in ("ladder", "quality"):  # how the ladder was chosen, its VMAF report
        if key in packaged:
            out[key] = packaged[key]
    return out


def _rendition(t: Track) -> dict[str, Any]:
    out: dict[str, Any] = {"id": t.id, "kind": t.kind, "codecs": t.codecs}
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
    elif t.kind == "image":
        out.update(
            width=t.width,
            height=t.height,
            tile_layout=t.tile_layout,
            tile_seconds=t.tile_seconds,
            bandwidth=t.bandwidth,
        )
    else:
        out.update(language=t.language, uri=t.uri)
    if t.segments:
        out["segments"] = len(t.segments)
    return out
