"""The encoding plan: what the transcode stage must produce. Plain data, built by `plan.py`."""

from __future__ import annotations

from pydantic import BaseModel, Field


class VideoRung(BaseModel):
    name: str  # unique and file-name safe, e.g. "v720p3000"
    width: int  # even, square pixels, as displayed (rotation already applied)
    height: int
    bitrate_kbps: int  # target average bitrate
    maxrate_kbps: int  # VBV maxrate (peak cap)
    bufsize_kbps: int
    codec: str = "h264"  # "h264" | "hevc"
    profile: str = "high"  # "baseline" | "main" | "high" | "main10"
    level: str | None = None  # "4.0", ... (None: let the encoder choose)
    frame_rate: str  # output frame rate as an exact fraction "30/1", "30000/1001"
    tonemap: bool = False  # HDR source tone-mapped to SDR BT.709 for this rung
    device_classes: list[str] = Field(default_factory=list)  # classes that use this rung


class AudioRendition(BaseModel):
    name: str  # unique and file-name safe, e.g. "a-eng-aac2"
    source_index: int  # container stream index of the source audio stream
    language: str = "und"
    codec: str = "aac"  # "aac" | "eac3" | "ac3"
    channels: int = 2
    bitrate_kbps: int = 128
    sample_rate: int = 48000
    default: bool = False  # DEFAULT=YES in HLS / first in DASH
    device_classes: list[str] = Field(default_factory=list)
    # Studio mezzanines carry one mono track per channel: these streams are joined, in this
    # order, into `merge_layout` ("5.1": L R C LFE Ls Rs; "stereo": L R) before encoding.
    merge_indexes: list[int] = Field(default_factory=list)
    merge_layout: str | None = None
    offset: float = 0.0  # seconds the source audio starts after the picture (negative: before)


class ThumbnailSet(BaseModel):
    """Scrubbing thumbnails of one size, packed into JPEG tile images (`columns` x `rows`)."""

    name: str  # unique and file-name safe, e.g. "thumbs320x180"
    width: int  # one thumbnail, as displayed (square pixels; portrait sources stay portrait)
    height: int
    interval: float  # seconds between thumbnails: whole GOPs, so each sits on an IDR time
    columns: int
    rows: int
    count: int  # thumbnails in the title: ceil(duration / interval)
    jpeg_qscale: int = 5  # FFmpeg mjpeg -q:v
    max_image_bytes: int = 400 * 1024
    tonemap: bool = False  # HDR source: thumbnails get the SDR rungs' tone-mapping
    device_classes: list[str] = Field(default_factory=list)

    @property
    def per_image(self) -> int:
        return self.columns * self.rows

    @property
    def images(self) -> int:
        return -(-self.count // self.per_image)


class Plan(BaseModel):
    source: str  # path of the mezzanine
    video_source_index: int | None  # None for an audio-only source (refused by ingest)
    device_classes: list[str]
    gop_seconds: float = 2.0  # closed GOP, IDR at identical timestamps in every rung
    segment_seconds: float = 6.0
    duration: float  # seconds: the programme, i.e. the picture's; every track ends here
    video: list[VideoRung] = Field(default_factory=list)
    audio: list[AudioRendition] = Field(default_factory=list)
    thumbnails: list[ThumbnailSet] = Field(default_factory=list)
    video_start: float = 0.0  # the picture's first timestamp in the input: shifted to 0
    deinterlace: str | None = None  # "send_field" (keep the field rate) | "send_frame"
    notes: list[str] = Field(default_factory=list)  # what the plan does to the source, and why
    warnings: list[str] = Field(default_factory=list)  # what content ops should look at
