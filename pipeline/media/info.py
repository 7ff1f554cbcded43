"""What probing a source tells us: plain data, no FFmpeg here."""

from __future__ import annotations

from pydantic import BaseModel, Field


class VideoStream(BaseModel):
    index: int  # stream index in the container (for -map 0:<index>)
    codec: str  # ffprobe codec_name, e.g. "h264", "hevc", "prores"
    profile: str | None = None
    level: int | None = None
    width: int  # coded/stored width in pixels
    height: int
    sample_aspect_ratio: str = "1:1"  # "num:den"
    display_aspect_ratio: str | None = None
    rotation: int = 0  # degrees clockwise the picture must be turned for display: 0/90/180/270
    frame_rate: str  # exact fraction "30000/1001"
    fps: float  # same as float
    variable_frame_rate: bool = False
    bit_depth: int = 8
    pix_fmt: str | None = None
    color_primaries: str | None = None
    color_transfer: str | None = None
    color_space: str | None = None
    hdr: bool = False  # PQ (smpte2084) or HLG (arib-std-b67) transfer
    interlaced: bool = False
    duration: float | None = None
    start_time: float = 0.0  # seconds, ffprobe start_time (where the stream starts in the file)

    @property
    def display_width(self) -> int:
        """Square-pixel width after SAR and rotation are applied."""
        w, h = self._square_pixel_size()
        return h if self.rotation in (90, 270) else w

    @property
    def display_height(self) -> int:
        w, h = self._square_pixel_size()
        return w if self.rotation in (90, 270) else h

    def _square_pixel_size(self) -> tuple[int, int]:
        num, _, den = self.sample_aspect_ratio.partition(":")
        try:
            sar = int(num) / int(den)
        except (ValueError, ZeroDivisionError):
            sar = 1.0
        if sar <= 0:
            sar = 1.0
        return round(self.width * sar), self.height


class AudioStream(BaseModel):
    index: int
    codec: str  # "aac", "ac3", "eac3", "pcm_s16le", ...
    profile: str | None = None
    language: str = "und"  # ISO 639-2 as tagged, "und" when absent
    title: str | None = None
    channels: int
    channel_layout: str | None = None  # "stereo", "5.1(side)", ...
    sample_rate: int
    bit_rate: int | None = None
    duration: float | None = None
    start_time: float = 0.0  # seconds; differs from the video's in TS captures, delayed MOV audio


class SubtitleStream(BaseModel):
    index: int
    codec: str
    language: str = "und"
    title: str | None = None


class MediaInfo(BaseModel):
    path: str
    container: str  # ffprobe format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration: float  # seconds
    size: int  # bytes
    bit_rate: int | None = None
    start_time: float = 0.0  # the container's (earliest stream's) start: FFmpeg's time zero
    video: list[VideoStream] = Field(default_factory=list)
    audio: list[AudioStream] = Field(default_factory=list)
    subtitles: list[SubtitleStream] = Field(default_factory=list)
