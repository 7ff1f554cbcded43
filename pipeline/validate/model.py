"""The validation report: violations with stable codes, and what was measured per rendition."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

# Stable violation codes (documented here so the CLI and CI can rely on them).
CODES: dict[str, str] = {
    "target.invalid": "the target is not a title directory, manifest or http(s) URL of one",
    "fetch.refused": "a manifest points where this title may not make us read",
    "fetch.error": "a referenced file could not be read (I/O or HTTP error)",
    "file.missing": "a referenced file does not exist",
    "file.empty": "a referenced file is empty",
    "hls.parse": "an HLS playlist does not parse",
    "hls.version": "EXT-X-VERSION missing or too low for the features used (EXT-X-MAP needs 6)",
    "hls.independent_segments": "the master playlist lacks EXT-X-INDEPENDENT-SEGMENTS",
    "hls.variant_attrs": "a video variant lacks CODECS, RESOLUTION or FRAME-RATE",
    "hls.audio_group": "a variant names an AUDIO group the master does not define",
    "hls.endlist": "a VOD media playlist lacks EXT-X-ENDLIST",
    "hls.playlist_type": "a media playlist lacks EXT-X-PLAYLIST-TYPE:VOD",
    "hls.map": "an fMP4 media playlist lacks EXT-X-MAP",
    "hls.target_duration": "an EXTINF rounded to the nearest integer exceeds EXT-X-TARGETDURATION",
    "hls.extinf": "an EXTINF differs from the segment's media duration by more than a frame",
    "hls.bandwidth": "BANDWIDTH is not within 10% of the measured peak bit rate",
    "hls.average_bandwidth": "AVERAGE-BANDWIDTH missing or not within 10% of the measured average",
    "hls.codecs": "CODECS does not match the bitstream",
    "hls.iframes_only": "an I-frame playlist lacks EXT-X-I-FRAMES-ONLY",
    "hls.iframe_attrs": "an EXT-X-I-FRAME-STREAM-INF has attributes it must not have",
    "hls.iframe_range": "an I-frame byte range does not cover exactly a moof and its key frame",
    "hls.iframe_sync": (
        "an I-frame byte range points at a fragment that starts with a non-sync sample"
    ),
    "dash.xml_unsafe": "the MPD declares a DTD or entities (refused: XXE / entity expansion)",
    "dash.parse": "the MPD does not parse",
    "dash.type": "the MPD is not static",
    "dash.template": "a Representation has no usable SegmentTemplate",
    "dash.start_number": "the first segment ($Number$ = startNumber) is not the timeline's first",
    "dash.timescale": "SegmentTemplate@timescale differs from the track's mdhd timescale",
    "dash.timeline_time": "a SegmentTimeline start differs from the segment's media start",
    "dash.timeline_duration": "a SegmentTimeline duration differs from the media by > one frame",
    "dash.duration": "mediaPresentationDuration differs from the media",
    "dash.bandwidth": "@bandwidth is not within 10% of the measured peak bit rate",
    "dash.codecs": "@codecs does not match the bitstream",
    "media.init": "an init segment is not a usable fragmented MP4 header",
    "media.parse": "a media segment's boxes do not parse (or it is truncated)",
    "media.sync": "a video segment does not start with a sync sample (trun flags)",
    "media.idr": "a video segment's first frame is not an IDR / IRAP picture",
    "media.tfdt": "decode times are not continuous (tfdt of n+1 != tfdt of n + duration)",
    "media.decode": "FFmpeg cannot decode a segment cleanly",
    "media.vtt": "a subtitle file is not WebVTT",
    "decode.unavailable": "FFmpeg is not installed, segments were not decoded",
    "align.rungs": "segments of the video rungs do not start at the same times",
    "align.hls_dash": "HLS and DASH describe a track with different segments",
    "av.duration": "audio and video end more than one segment apart",
    "av.start": "audio and video are presented from instants more than one audio frame apart",
    "media.channels": "decoded audio has another channel count than its configuration says",
    "hls.channels": "EXT-X-MEDIA CHANNELS does not match the audio stream",
    "dash.channels": "AudioChannelConfiguration does not match the audio stream",
    "dash.mixed_channels": "an AdaptationSet mixes audio channel configurations",
    "image.declared": "a thumbnail track's declaration (layout, size, timing) is incomplete",
    "image.tile": "a thumbnail tile image's size is not the declared grid x thumbnail size",
    "image.decode": "a thumbnail tile image is not exactly one JPEG that decodes",
    "image.timing": "a thumbnail tile image does not cover grid x thumbnail duration",
    "image.coverage": "the thumbnails end before the title does",
    "quality.report": "quality.json is not a quality report",
    "quality.floor": "a video rendition's measured VMAF is below its device class's min_vmaf",
}


class Violation(BaseModel):
    code: str
    where: str  # file or URI (relative to the title root when inside it)
    message: str

    def line(self) -> str:
        return f"{self.code:<24} {self.where}: {self.message}"


class RenditionStats(BaseModel):
    """Measured from the media (segment file sizes and sample durations)."""

    name: str  # HLS playlist stem or DASH Representation id
    kind: str
    codecs: str
    init: str
    timescale: int
    segment_count: int
    duration: float  # seconds, sum of sample durations
    peak_bitrate: int  # bits/s, the largest segment bit rate (size * 8 / duration)
    average_bitrate: int  # bits/s, total bytes * 8 / total duration
    frame_duration: float = 0.0  # seconds, the most common sample duration
    complete: bool = True  # False when segments were missing or unreadable (figures partial)


class Report(BaseModel):
    target: str
    manifests: list[str] = Field(default_factory=list)
    decoded: bool = False  # whether segments were decoded with FFmpeg
    violations: list[Violation] = Field(default_factory=list)
    stats: dict[str, RenditionStats] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def codes(self) -> set[str]:
        return {v.code for v in self.violations}

    def to_json(self, indent: int | None = 2) -> str:
        data = self.model_dump(mode="json")
        data["ok"] = self.ok
        return json.dumps(data, indent=indent)

    def format_text(self, *, stats: bool = False) -> str:
        """One violation per line, then a summary line (and per-rendition stats if asked)."""
        lines = [v.line() for v in self.violations]
        if stats:
            for name, s in self.stats.items():
                lines.append(
                    f"  {name:<16} {s.kind:<6} {s.codecs:<14} {s.segment_count:>4} segs "
                    f"{s.duration:9.3f} s  peak {s.peak_bitrate / 1000:9.1f} kb/s  "
                    f"avg {s.average_bitrate / 1000:9.1f} kb/s"
                )
        n = len(self.violations)
        verdict = "OK" if self.ok else f"FAILED: {n} violation{'s' if n != 1 else ''}"
        mode = "" if self.decoded else " (segments not decoded)"
        lines.append(f"{self.target}: {verdict}{mode}")
        return "\n".join(lines)


def _printable(text: str) -> str:
    """One line, no control characters (box types and URIs come from untrusted bytes)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Sink:
    """Collects violations, deduplicated, with locations shown relative to the title root."""

    def __init__(self, display):
        self._display = display
        self._seen: set[tuple[str, str, str]] = set()
        self.violations: list[Violation] = []

    def add(self, code: str, uri: str, message: str) -> None:
        assert code in CODES, code
        where = _printable(self._display(uri) if uri else "")
        message = _printable(message)
        key = (code, where, message)
        if key not in self._seen:
            self._seen.add(key)
            self.violations.append(Violation(code=code, where=where, message=message))
