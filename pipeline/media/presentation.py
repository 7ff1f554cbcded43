"""One presentation model that both the HLS and the DASH writers describe.

Built by the packaging stage from what it actually wrote, so every number here is measured
(sizes, durations, bitrates), never taken from the plan.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Segment(BaseModel):
    uri: str  # relative to the title directory, e.g. "v720p3000/3.m4s"
    number: int  # 1-based, matches $Number$ in the DASH template
    start: int  # presentation start in track timescale units (the tfdt of its first sample)
    duration: int  # in track timescale units
    size: int  # bytes


class KeyFrame(BaseModel):
    """An IDR inside a segment, for HLS I-frame playlists (byte range covers moof + the frame)."""

    segment_number: int
    offset: int  # byte offset of the chunk's moof within the segment file
    length: int  # bytes from that moof to the end of the key frame sample
    start: int  # presentation time, track timescale units
    duration: int  # until the next key frame (or end of track)


class Track(BaseModel):
    id: str  # rendition name, unique in the title, file-name safe
    kind: Literal["video", "audio", "text", "image"]
    codecs: str  # RFC 6381 string: "avc1.64001f", "mp4a.40.2", "ec-3", "wvtt"; "jpeg" (image)
    timescale: int = 1
    init_uri: str | None = None  # "v720p3000/init.mp4"; None for text
    segment_template: str | None = None  # "v720p3000/$Number$.m4s"
    segments: list[Segment] = Field(default_factory=list)
    key_frames: list[KeyFrame] = Field(default_factory=list)
    bandwidth: int = 0  # bits/s, measured peak over segments
    average_bandwidth: int = 0  # bits/s, measured average over the track
    # video; image: one thumbnail (a tile image holds tile_layout of them)
    width: int | None = None
    height: int | None = None
    frame_rate: str | None = None  # "30", "30000/1001"
    # audio
    sample_rate: int | None = None
    channels: int | None = None  # from the decoder configuration (esds/dac3/dec3)
    joc: bool = False  # E-AC-3 Joint Object Coding (Dolby Atmos)
    # audio and text
    language: str = "und"  # BCP-47 / ISO 639 as given by the source
    name: str | None = None  # human label ("English", "English 5.1")
    default: bool = False
    # text: one WebVTT file for the whole title
    uri: str | None = None  # "subs/en.vtt"
    # image (scrubbing thumbnails): each segment is one JPEG tile image
    tile_layout: str | None = None  # "COLSxROWS"
    tile_seconds: float | None = None  # time one thumbnail covers

    @property
    def duration_seconds(self) -> float:
        return sum(s.duration for s in self.segments) / self.timescale if self.segments else 0.0


class Presentation(BaseModel):
    title_id: str
    duration: float  # seconds, the longest track
    segment_seconds: float = 6.0  # target; TARGETDURATION is computed from the segments
    tracks: list[Track] = Field(default_factory=list)

    def of_kind(self, kind: str) -> list[Track]:
        return [t for t in self.tracks if t.kind == kind]
