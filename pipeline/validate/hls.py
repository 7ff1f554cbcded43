"""HLS checks: playlist rules (RFC 8216 + Apple authoring spec) and manifest-vs-media agreement.

Two phases: `parse()` reads the playlists (needs no media) and reports what the text alone
shows; `check()` runs after the media was analysed and compares declared numbers with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import m3u8

from pipeline.validate.fetch import FetchError, resolve
from pipeline.validate.media import MediaStore, report_fetch_error
from pipeline.validate.model import RenditionStats, Sink

MAP_MIN_VERSION = 6  # EXT-X-MAP in a playlist that is not I-frames only (RFC 8216 7)
IFRAME_MAP_MIN_VERSION = 5
TOLERANCE = 0.10
VIDEO_CODEC_PREFIXES = ("avc1", "avc3", "hvc1", "hev1", "dvh1", "dvhe", "av01", "vp09", "vp08")
IFRAME_FORBIDDEN = ("FRAME-RATE", "AUDIO", "SUBTITLES", "CLOSED-CAPTIONS")
_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')

StatsLookup = Callable[[str], RenditionStats | None]


def attributes(line: str) -> dict[str, str]:
    """Attribute list of a tag line, quotes removed."""
    _, _, rest = line.partition(":")
    return {k: v.strip('"') for k, v in _ATTR.findall(rest)}


def nearest_int(x: float) -> int:
    return math.floor(x + 0.5)


def split_codecs(codecs: str | None) -> list[str]:
    return [c.strip() for c in (codecs or "").split(",") if c.strip()]


@dataclass
class HlsSegment:
    uri: str
    duration: float
    byterange: str | None = None


@dataclass
class MediaPlaylist:
    uri: str
    name: str
    init: str | None
    segments: list[HlsSegment]
    iframes_only: bool = False


@dataclass
class Variant:
    playlist: str
    bandwidth: int | None
    average_bandwidth: int | None
    codecs: str | None
    resolution: tuple[int, int] | None
    frame_rate: float | None
    audio: str | None


@dataclass
class IFrameStream:
    playlist: str
    attrs: dict[str, str]


@dataclass
class HlsTitle:
    master: str
    variants: list[Variant] = field(default_factory=list)
    audio_groups: dict[str, list[str]] = field(default_factory=dict)
    audio_channels: dict[str, str] = field(default_factory=dict)  # playlist -> CHANNELS
    subtitles: list[str] = field(default_factory=list)
    iframes: list[IFrameStream] = field(default_factory=list)
    playlists: dict[str, MediaPlaylist] = field(default_factory=dict)
    image_streams: list[dict[str, str]] = field(default_factory=list)  # see `images`

    def media_playlists(self) -> list[MediaPlaylist]:
        """Audio/video playlists (not I-frame ones) with an init segment, in master order."""
        out: list[MediaPlaylist] = []
        uris = [v.playlist for v in self.variants]
        uris += [u for group in self.audio_groups.values() for u in group]
        for uri in uris:
            pl = self.playlists.get(uri)
            if pl is not None and pl.init and not pl.iframes_only and pl not in out:
                out.append(pl)
        return out


class HlsChecker:
    def __init__(self, master_uri: str, media: MediaStore, sink: Sink):
        self.master_uri = master_uri
        self.media = media
        self.fetcher = media.fetcher
        self.sink = sink
        self.title = HlsTitle(master_uri)

    # -- phase 1: text ------------------------------------------------------------------
    def parse(self) -> HlsTitle:
        doc = self._load(self.master_uri)
        if doc is None:
            return self.title
        pl, text = doc
        if not pl.is_variant:  # a media playlist given directly: check it alone
            media = self._media_playlist(self.master_uri, pl, text, subtitles=False)
            if media is not None:
                self.title.playlists[self.master_uri] = media
                self.title.variants.append(
                    Variant(self.master_uri, None, None, None, None, None, None)
                )
            return self.title
        self._master(pl, text)
        return self.title

    def _load(self, uri: str) -> tuple[m3u8.M3U8, str] | None:
        try:
            text = self.fetcher.text(uri)
        except FetchError as e:
            report_fetch_error(self.sink, e)
            return None
        if not text.strip():
            self.sink.add("file.empty", uri, "playlist is empty")
            return None
        if not text.lstrip().startswith("#EXTM3U"):
            self.sink.add("hls.parse", uri, "does not start with #EXTM3U")
            return None
        try:
            return m3u8.M3U8(text), text
        except Exception as e:  # the m3u8 parser raises bare ValueError/IndexError/...
            self.sink.add("hls.parse", uri, f"cannot parse: {e}")
            return None

    def _master(self, pl: m3u8.M3U8, text: str) -> None:
        uri = self.master_uri
        if not pl.is_independent_segments:
            self.sink.add("hls.independent_segments", uri, "no EXT-X-INDEPENDENT-SEGMENTS")
        for m in pl.media:
            if not m.uri:
                continue
            target = resolve(uri, m.uri)
            if (m.type or "").upper() == "AUDIO":
                self.title.audio_groups.setdefault(m.group_id or "", []).append(target)
                if m.channels:
                    self.title.audio_channels[target] = m.channels
            elif (m.type or "").upper() == "SUBTITLES":
                self.title.subtitles.append(target)
        for p in pl.playlists:
            si = p.stream_info
            v = Variant(
                playlist=resolve(uri, p.uri),
                bandwidth=si.bandwidth,
                average_bandwidth=si.average_bandwidth,
                codecs=si.codecs,
                resolution=si.resolution,
                frame_rate=si.frame_rate,
                audio=si.audio,
            )
            self.title.variants.append(v)
            if v.audio and v.audio not in self.title.audio_groups:
                self.sink.add(
                    "hls.audio_group",
                    uri,
                    f"variant {p.uri} names AUDIO group {v.audio!r}, which is not defined",
                )
            if any(c.lower().startswith("wvtt") for c in split_codecs(v.codecs)):
                self.sink.add(
                    "hls.codecs", uri, f"variant {p.uri}: 'wvtt' in CODECS breaks Apple players"
                )
        for line in text.splitlines():
            if line.startswith("#EXT-X-IMAGE-STREAM-INF:"):
                self.title.image_streams.append(attributes(line))
            if line.startswith("#EXT-X-I-FRAME-STREAM-INF:"):
                attrs = attributes(line)
                if "URI" not in attrs:
                    self.sink.add("hls.parse", uri, "EXT-X-I-FRAME-STREAM-INF without URI")
                    continue
                bad = [a for a in IFRAME_FORBIDDEN if a in attrs]
                if bad:
                    self.sink.add(
                        "hls.iframe_attrs",
                        uri,
                        f"I-frame stream {attrs['URI']} has {', '.join(bad)}",
                    )
                self.title.iframes.append(IFrameStream(resolve(uri, attrs["URI"]), attrs))

        seen: set[str] = set()
        for p_uri in (
            [v.playlist for v in self.title.variants]
            + [u for g in self.title.audio_groups.values() for u in g]
            + [i.playlist for i in self.title.iframes]
        ):
            if p_uri in seen:
                continue
            seen.add(p_uri)
            doc = self._load(p_uri)
            if doc is None:
                continue
            media = self._media_playlist(p_uri, *doc, subtitles=False)
            if media is not None:
                self.title.playlists[p_uri] = media
        for s_uri in dict.fromkeys(self.title.subtitles):
            doc = self._load(s_uri)
            if doc is None:
                continue
            media = self._media_playlist(s_uri, *doc, subtitles=True)
            if media is not None:
                for seg in media.segments:
                    self._check_vtt(seg.uri)

    def _media_playlist(
        self, uri: str, pl: m3u8.M3U8, text: str, *, subtitles: bool
    ) -> MediaPlaylist | None:
        if pl.is_variant:
            self.sink.add("hls.parse", uri, "a master playlist where a media playlist belongs")
            return None
        iframes = bool(pl.is_i_frames_only)
        init = pl.segment_map[0].uri if pl.segment_map else None
        if not subtitles:
            if init is None:
                self.sink.add("hls.map", uri, "no EXT-X-MAP (fMP4 segments need one)")
            else:
                need = IFRAME_MAP_MIN_VERSION if iframes else MAP_MIN_VERSION
                if pl.version is None or pl.version < need:
                    self.sink.add(
                        "hls.version",
                        uri,
                        f"EXT-X-VERSION is {pl.version or 'absent (1)'}; "
                        f"EXT-X-MAP needs {need} or higher",
                    )
        if not pl.is_endlist:
            self.sink.add("hls.endlist", uri, "no EXT-X-ENDLIST (a VOD playlist must end)")
        if (pl.playlist_type or "").upper() != "VOD":
            self.sink.add(
                "hls.playlist_type",
                uri,
                f"EXT-X-PLAYLIST-TYPE is {pl.playlist_type or 'absent'}, not VOD",
            )
        target = pl.target_duration
        if target is None:
            self.sink.add("hls.target_duration", uri, "no EXT-X-TARGETDURATION")
        segments = []
        for i, s in enumerate(pl.segments, start=1):
            dur = float(s.duration or 0)
            if target is not None and nearest_int(dur) > target:
                self.sink.add(
                    "hls.target_duration",
                    uri,
                    f"segment {i} ({s.uri}): EXTINF {dur:g} rounds to "
                    f"{nearest_int(dur)} > EXT-X-TARGETDURATION {target}",
                )
            segments.append(HlsSegment(resolve(uri, s.uri), dur, s.byterange))
        if not segments:
            self.sink.add("hls.parse", uri, "media playlist has no segments")
        if iframes and "#EXT-X-I-FRAMES-ONLY" not in text:
            self.sink.add("hls.iframes_only", uri, "no EXT-X-I-FRAMES-ONLY")
        name = PurePosixPath(urlsplit(uri).path).stem
        return MediaPlaylist(uri, name, resolve(uri, init) if init else None, segments, iframes)

    def _check_vtt(self, uri: str) -> None:
        data = self.media.fetch(uri, cache=True)
        if data is not None and not data.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT"):
            self.sink.add("media.vtt", uri, "does not start with 'WEBVTT'")

    def iframe_playlist_uris(self) -> set[str]:
        return {i.playlist for i in self.title.iframes}

    # -- phase 2: against the media -----------------------------------------------------
    def check(self, stats: StatsLookup) -> None:
        for pl in self.title.media_playlists():
            self._check_extinf(pl)
        for v in self.title.variants:
            self._check_variant(v, stats)
        for i in self.title.iframes:
            pl = self.title.playlists.get(i.playlist)
            if pl is not None and pl.init:
                if not pl.iframes_only:
                    self.sink.add("hls.iframes_only", pl.uri, "no EXT-X-I-FRAMES-ONLY")
                self._check_iframe_codecs(i, pl.init)
                self._check_iframes(pl)

    def _check_extinf(self, pl: MediaPlaylist) -> None:
        assert pl.init is not None
        track = self.media.track(pl.init)
        if track is None:
            return
        infos = [self.media.segment(pl.init, s.uri) for s in pl.segments]
        frame = frame_seconds(infos, track.timescale)
        for n, (seg, info) in enumerate(zip(pl.segments, infos, strict=True), start=1):
            if info is None:
                continue
            actual = info.duration / track.timescale
            if abs(seg.duration - actual) > frame + 1e-6:
                self.sink.add(
                    "hls.extinf",
                    pl.uri,
                    f"segment {n} ({self.fetcher.display(seg.uri)}): EXTINF "
                    f"{seg.duration:.6f} s, media {actual:.6f} s "
                    f"(off by {seg.duration - actual:+.3f} s, one frame is "
                    f"{frame:.3f} s)",
                )

    def _check_variant(self, v: Variant, stats: StatsLookup) -> None:
        pl = self.title.playlists.get(v.playlist)
        if pl is None or pl.init is None:
            return
        where = self.master_uri
        label = f"variant {self.fetcher.display(v.playlist)}"
        track = self.media.track(pl.init)
        own = stats(pl.init)
        audio_inits = [
            p.init
            for u in self.title.audio_groups.get(v.audio or "", [])
            if (p := self.title.playlists.get(u)) is not None and p.init
        ]
        is_video = (
            (track.kind == "video")
            if track is not None
            else (
                v.resolution is not None
                or any(c.lower().startswith(VIDEO_CODEC_PREFIXES) for c in split_codecs(v.codecs))
            )
        )
        if self.master_uri == v.playlist:  # a lone media playlist: no master attributes
            return
        if is_video:
            missing = [
                name
                for name, val in (
                    ("CODECS", v.codecs),
                    ("RESOLUTION", v.resolution),
                    ("FRAME-RATE", v.frame_rate),
                )
                if not val
            ]
            if missing:
                self.sink.add("hls.variant_attrs", where, f"{label} lacks {', '.join(missing)}")
        # CODECS: the bitstream's codecs of the variant's playlist and its audio group
        if v.codecs and track is not None:
            expected = [track.codecs]
            for a in audio_inits:
                at = self.media.track(a)
                if at is not None and at.codecs not in expected:
                    expected.append(at.codecs)
            declared = split_codecs(v.codecs)
            if sorted(c.lower() for c in declared) != sorted(c.lower() for c in expected):
                self.sink.add(
                    "hls.codecs",
                    where,
                    f'{label}: CODECS="{v.codecs}", the bitstream has "{",".join(expected)}"',
                )
        # BANDWIDTH / AVERAGE-BANDWIDTH: video + the largest rendition of the audio group
        if own is None:
            return
        audio_stats = [stats(a) for a in audio_inits]
        if any(s is None for s in audio_stats):
            return
        peak = own.peak_bitrate + max((s.peak_bitrate for s in audio_stats if s), default=0)
        avg = own.average_bitrate + max((s.average_bitrate for s in audio_stats if s), default=0)
        if v.bandwidth is None:
            self.sink.add("hls.bandwidth", where, f"{label} has no BANDWIDTH")
        elif not within(v.bandwidth, peak):
            self.sink.add(
                "hls.bandwidth",
                where,
                f"{label}: BANDWIDTH={v.bandwidth}, measured peak {peak} b/s "
                f"({pct(v.bandwidth, peak)})",
            )
        if v.average_bandwidth is None:
            self.sink.add("hls.average_bandwidth", where, f"{label} has no AVERAGE-BANDWIDTH")
        elif not within(v.average_bandwidth, avg):
            self.sink.add(
                "hls.average_bandwidth",
                where,
                f"{label}: AVERAGE-BANDWIDTH={v.average_bandwidth}, measured "
                f"average {avg} b/s ({pct(v.average_bandwidth, avg)})",
            )

    def _check_iframe_codecs(self, i: IFrameStream, init: str) -> None:
        track = self.media.track(init)
        codecs = i.attrs.get("CODECS")
        label = f"I-frame stream {self.fetcher.display(i.playlist)}"
        if track is None:
            return
        if not codecs:
            self.sink.add("hls.codecs", self.master_uri, f"{label} has no CODECS")
        elif [c.lower() for c in split_codecs(codecs)] != [track.codecs.lower()]:
            self.sink.add(
                "hls.codecs",
                self.master_uri,
                f'{label}: CODECS="{codecs}", the bitstream has "{track.codecs}"',
            )

    def _check_iframes(self, pl: MediaPlaylist) -> None:
        assert pl.init is not None
        if self.media.track(pl.init) is None:
            return
        ends: dict[str, int] = {}
        for n, seg in enumerate(pl.segments, start=1):
            label = f"I-frame {n} ({self.fetcher.display(seg.uri)} {seg.byterange or ''})"
            if not seg.byterange:
                self.sink.add("hls.iframe_range", pl.uri, f"{label}: no EXT-X-BYTERANGE")
                continue
            length_s, _, offset_s = seg.byterange.partition("@")
            try:
                length = int(length_s)
                offset = int(offset_s) if offset_s else ends.get(seg.uri, -1)
            except ValueError:
                self.sink.add("hls.parse", pl.uri, f"{label}: bad EXT-X-BYTERANGE")
                continue
            if offset < 0:
                self.sink.add(
                    "hls.iframe_range",
                    pl.uri,
                    f"{label}: byte range without offset and no previous range",
                )
                continue
            ends[seg.uri] = offset + length
            info = self.media.segment(pl.init, seg.uri)
            if info is None:
                continue
            chunk = next((c for c in info.chunks if c.moof_offset == offset), None)
            if chunk is None:
                self.sink.add(
                    "hls.iframe_range",
                    pl.uri,
                    f"{label}: offset {offset} is not the start of a moof",
                )
                continue
            if not chunk.first_sample_sync:
                self.sink.add(
                    "hls.iframe_sync",
                    pl.uri,
                    f"{label}: the fragment's first sample is not a sync sample",
                )
            end = chunk.first_sample_offset + chunk.first_sample_size
            if offset + length != end:
                self.sink.add(
                    "hls.iframe_range",
                    pl.uri,
                    f"{label}: range ends at byte {offset + length}, the key frame ends at {end}",
                )


def frame_seconds(infos, timescale: int) -> float:
    """The most common sample duration of the analysed segments, in seconds."""
    counts: dict[int, int] = {}
    for info in infos:
        if info is not None:
            for d, c in info.durations.items():
                counts[d] = counts.get(d, 0) + c
    if not counts:
        return 0.0
    return max(counts, key=lambda d: counts[d]) / timescale


def within(declared: int | float, measured: int | float, tolerance: float = TOLERANCE) -> bool:
    if measured <= 0:
        return declared <= 0
    return abs(declared - measured) <= tolerance * measured


def pct(declared: int | float, measured: int | float) -> str:
    if measured <= 0:
        return "nothing measured"
    diff = (declared - measured) / measured * 100
    return f"{diff:+.1f}%"
