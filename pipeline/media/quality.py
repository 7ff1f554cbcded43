"""Measured picture quality: plain data shared by per-title planning and the quality report.

VMAF is always measured the standard way (Netflix): each encode is upscaled (bicubic) to the
title's display size and compared frame by frame with the source at that size, so figures of
different rungs are on one scale. 6 VMAF points are about one just-noticeable difference.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

VMAF_MODEL = "vmaf_v0.6.1"


class Sample(BaseModel):
    """A stretch of the title that trial encodes are made of: [start, end) seconds."""

    start: float
    end: float
    complexity: float = 0.0  # bits per pixel of a quick constant-quality encode: higher = harder

    @property
    def seconds(self) -> float:
        return self.end - self.start


class RatePoint(BaseModel):
    """One trial encode: a size at a target bitrate, and what it gave."""

    width: int
    height: int
    target_kbps: int
    kbps: float  # measured over the sample
    vmaf: float  # mean over the sample's frames


class ChosenRung(BaseModel):
    """A rung of a per-title ladder: the hull's size at that bitrate, with its predicted VMAF."""

    width: int
    height: int
    bitrate_kbps: int  # the encoder's target, corrected by what the trials of this size spent
    kbps: float  # the bitrate it is expected to spend (on the hull's axis)
    predicted_vmaf: float


class LadderAnalysis(BaseModel):
    """What `vod ladder optimize` found for one device class."""

    source: str
    device_class: str
    display_width: int  # the size every trial is scored at
    display_height: int
    samples: list[Sample]
    points: list[RatePoint]
    hull: list[RatePoint]  # upper convex hull of VMAF over bitrate, ascending bitrate
    rungs: list[ChosenRung]  # ascending bitrate
    target_vmaf: float
    step_vmaf: float
    min_kbps: int
    max_kbps: int
    analysis_cpu_seconds: float = 0.0
    notes: list[str] = Field(default_factory=list)


class RenditionQuality(BaseModel):
    """VMAF of one video rendition of the final output against the source."""

    name: str
    width: int
    height: int
    bitrate_kbps: int  # target
    measured_kbps: float  # the rendition's media bytes x 8 / duration
    vmaf_mean: float
    vmaf_p5: float  # 5th percentile of the per-frame scores: the bad moments
    frames: int
    min_vmaf: float | None = None  # the floor of its device classes (the highest), if any

    @property
    def below_floor(self) -> bool:
        return self.min_vmaf is not None and self.vmaf_mean < self.min_vmaf


class QualityReport(BaseModel):
    """quality.json: one entry per video rendition, scored at the display size."""

    model: str = VMAF_MODEL
    display_width: int
    display_height: int
    subsample: int = 1  # every n-th frame scored
    renditions: list[RenditionQuality]
    ladder: str = "fixed"  # "fixed" | "per-title"
