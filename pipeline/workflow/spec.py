"""What to build, as plain data: the input of the title workflow, whichever driver runs it.

`vod ingest` builds a `TitleSpec` and runs it in-process; `vod submit` and `vod watch` build
the Celery driver's `workers.jobs.JobSpec`, which is a `TitleSpec` plus a job id. Everything
here is JSON-ready and holds no secret: content keys stay with their key source
(`pipeline.workflow.protection`), and the catalogue target (a database URL may hold a
password) is never serialised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from pipeline.storage.local import check_title_id
from pipeline.workflow.protection import DrmOptions

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_PRESET = "veryfast"
DEFAULT_SEGMENT_SECONDS = 6.0


class Subtitle(BaseModel):
    """A sidecar subtitle file (local path or s3:// URL) and its BCP-47 language."""

    path: str
    language: str = "und"


class CatalogueTarget(BaseModel):
    """Where the record step writes the title's entry: a catalogue database, else (workers
    without one) a JSON file per title in `folder`; `base_url` is the origin's public URL."""

    database_url: str | None = None
    base_url: str = DEFAULT_BASE_URL
    folder: Path | None = None


class TitleSpec(BaseModel):
    """One title to build: source in, validated HLS + DASH title at ORIGIN/<title_id> out."""

    source: str  # local path or s3://bucket/key
    title_id: str
    origin: str  # local directory or s3://bucket/prefix
    device_classes: list[str] = Field(default_factory=lambda: ["web"])
    subtitles: list[Subtitle] = Field(default_factory=list)
    segment_seconds: float = Field(DEFAULT_SEGMENT_SECONDS, gt=0)
    preset: str = DEFAULT_PRESET  # x264/x265 preset: speed against bits
    drm: DrmOptions | None = None
    audio_map: list[str] | None = None  # a channel label per source audio track (channel_map)
    validate_output: bool = True
    # "per-title": rungs chosen per class from trial encodes scored with VMAF (`per_title`)
    ladder: Literal["fixed", "per-title"] = "fixed"
    quality: bool | None = None  # VMAF report of every video rendition (default: per-title)
    catalogue: CatalogueTarget | None = Field(None, exclude=True)

    @property
    def wants_quality(self) -> bool:
        return self.quality if self.quality is not None else self.ladder == "per-title"

    @field_validator("title_id")
    @classmethod
    def _safe_title(cls, value: str) -> str:
        """Refused when the title is described, not after hours of encoding, at publish.
        The PipelineError passes through pydantic unchanged, naming the rule."""
        return check_title_id(value)

    @field_validator("audio_map")
    @classmethod
    def _channel_labels(cls, value: list[str] | None) -> list[str] | None:
        from pipeline.planning.channel_map import normalise_labels

        return normalise_labels(value) if value else None

    @field_validator("device_classes")
    @classmethod
    def _some_class(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one device class is needed")
        return value
