"""Audio against the picture, and against what the manifests say about it.

* `av.start`: an audio track is presented from a different instant than the video, by more
  than one audio frame. Presentation times come from the boxes: the first segment's earliest
  sample, moved by the edit list (an empty edit delays, a media_time skips priming), so a
  title whose audio starts 1.4 s late, or whose priming edit is wrong, is caught.
* `av.duration`: audio and video end more than one (video) segment apart.
* `media.channels`: decoding a few frames gives another channel count than the track's own
  configuration (esds AudioSpecificConfig, dac3/dec3).
* `hls.channels` / `dash.channels`: EXT-X-MEDIA CHANNELS or AudioChannelConfiguration do not
  match the stream (as decoded when FFmpeg is there, else as configured).
* `dash.mixed_channels`: one AdaptationSet holds Representations of different channel
  configurations (a player switches within a set, so a stereo device could land on 5.1).
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict

from pipeline.mp4.audio import AAC_CHANNELS
from pipeline.validate.dash import DashChecker
from pipeline.validate.hls import HlsChecker
from pipeline.validate.media import MediaStore, SegmentInfo, TrackInfo
from pipeline.validate.model import RenditionStats, Sink

DECODE_TIMEOUT = 60.0
DECODED_PACKETS = 3
MPEG_CHANNELS = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
CICP_CHANNELS = "urn:mpeg:mpegB:cicp:ChannelConfiguration"
DOLBY_CHANNELS = "tag:dolby.com,2014:dash:audio_channel_configuration:2011"
_DOLBY_PAIR_BITS = (10, 9, 6, 5, 4, 2)  # Lc/Rc, Lrs/Rrs, Lsd/Rsd, Lw/Rw, Lvh/Rvh, Lts/Rts

Infos = dict[str, tuple[TrackInfo, list[SegmentInfo | None]]]
Tracks = dict[str, tuple[str, list[str]]]


def check_av_timing(sink: Sink, infos: Infos, stats: dict[str, RenditionStats]) -> None:
    """`av.start` and `av.duration` for every audio track against the longest video."""
    videos = [i for i, (t, _) in infos.items() if t.kind == "video" and stats[i].complete]
    if not videos:
        return
    ref = max(videos, key=lambda i: stats[i].duration)
    v_track, v_segs = infos[ref]
    v_start = presentation_start(v_track, v_segs)
    segment = max((s.duration for s in v_segs if s is not None), default=0) / v_track.timescale
    v = stats[ref]
    for init, (track, segs) in infos.items():
        if track.kind != "audio" or not stats[init].complete:
            continue
        a = stats[init]
        a_start = presentation_start(track, segs)
        frame = a.frame_duration or 1024 / track.timescale
        if a_start is not None and v_start is not None and abs(a_start - v_start) > frame + 1e-6:
            sink.add(
                "av.start",
                init,
                f"audio {a.name} is presented from {a_start:.3f} s, video {v.name} from "
                f"{v_start:.3f} s ({a_start - v_start:+.3f} s, more than one audio frame, "
                f"{frame * 1000:.1f} ms)",
            )
        ends = (a_start or 0.0) + a.duration - ((v_start or 0.0) + v.duration)
        if abs(ends) > segment + 1e-6:
            sink.add(
                "av.duration",
                init,
                f"audio {a.name} lasts {a.duration:.3f} s, video {v.name} {v.duration:.3f} s: "
                f"they end {ends:+.3f} s apart, more than one segment ({segment:.3f} s)",
            )


def presentation_start(track: TrackInfo, segs: list[SegmentInfo | None]) -> float | None:
    """When the track's first sample is presented, in seconds (None without a first segment)."""
    if not segs or segs[0] is None:
        return None
    return segs[0].presentation_start / track.timescale + track.edit_shift


def check_channels(
    sink: Sink,
    media: MediaStore,
    tracks: Tracks,
    infos: Infos,
    hls: list[HlsChecker],
    dash: list[DashChecker],
) -> None:
    """Decoded against configured channels, then the manifests against the stream."""
    actual: dict[str, int] = {}
    for init, (track, _) in infos.items():
        if track.kind != "audio" or track.channels is None:
            continue
        actual[init] = track.channels
        decoded = _decoded(media, init, track, tracks[init][1])
        if decoded is not None and decoded != track.channels:
            sink.add(
                "media.channels",
                init,
                f"decodes to {decoded} channels, its configuration says {track.channels}",
            )
        actual[init] = decoded if decoded is not None else track.channels
    for h in hls:
        for uri, declared in h.title.audio_channels.items():
            playlist = h.title.playlists.get(uri)
            init = playlist.init if playlist is not None else None
            if init not in actual:
                continue
            problem = _hls_problem(declared, infos[init][0], actual[init])
            if problem:
                where = h.fetcher.display(uri)
                sink.add("hls.channels", h.master_uri, f"{where}: CHANNELS={declared}, {problem}")
    for d in dash:
        by_set: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for r in d.title.representations:
            if r.init not in actual:
                continue
            by_set[r.adaptation_set].append((r.id, actual[r.init]))
            declared = declared_channels(r.channel_config)
            if declared is not None and declared != actual[r.init]:
                scheme, value = r.channel_config or ("", "")
                sink.add(
                    "dash.channels",
                    d.mpd_uri,
                    f"Representation {r.id}: AudioChannelConfiguration {value} ({scheme}) means "
                    f"{declared} channels, the stream has {actual[r.init]}",
                )
        for key, members in by_set.items():
            if len({channels for _, channels in members}) > 1:
                listed = ", ".join(f"{rid} {ch} ch" for rid, ch in members)
                sink.add(
                    "dash.mixed_channels",
                    d.mpd_uri,
                    f"AdaptationSet {key} mixes channel configurations: {listed}",
                )


def declared_channels(config: tuple[str, str] | None) -> int | None:
    """Channel count an AudioChannelConfiguration declares (None: absent or unknown scheme)."""
    if config is None:
        return None
    scheme, value = config
    try:
        if scheme == MPEG_CHANNELS:
            return int(value)
        if scheme == CICP_CHANNELS:
            return AAC_CHANNELS.get(int(value))
        if scheme == DOLBY_CHANNELS:
            mask = int(value, 16)
            bits = [bit for bit in range(16) if mask >> bit & 1]
            return sum(2 if bit in _DOLBY_PAIR_BITS else 1 for bit in bits)
    except ValueError:
        return None
    return None


def decoded_channels(data: bytes, ffprobe: str = "ffprobe") -> int | None:
    """Channels of the first frames FFmpeg decodes from init + segment bytes (None: cannot)."""
    cmd = [
        ffprobe, "-v", "error", "-read_intervals", f"%+#{DECODED_PACKETS}",
        "-select_streams", "a:0", "-show_entries", "frame=channels", "-of", "json", "-i", "pipe:0",
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, input=data, capture_output=True, timeout=DECODE_TIMEOUT, check=False
        )
        frames = json.loads(proc.stdout or b"{}").get("frames") or []
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    counts = [int(f["channels"]) for f in frames if f.get("channels")]
    return max(set(counts), key=counts.count) if counts else None


def _decoded(media: MediaStore, init: str, track: TrackInfo, segment_uris: list[str]) -> int | None:
    if not media.decode or track.encrypted or not segment_uris:
        return None
    segment = media.fetch(segment_uris[0])
    return None if segment is None else decoded_channels(track.data + segment)


def _hls_problem(declared: str, track: TrackInfo, channels: int) -> str | None:
    """What is wrong with a CHANNELS value for this stream, or None."""
    joc = declared.upper().endswith("/JOC")
    if joc and not track.joc:
        return "the stream has no Atmos JOC"
    if track.joc and not joc:
        return "the stream is Atmos (E-AC-3 JOC): CHANNELS must be 16/JOC"
    if not joc and _count(declared) != channels:
        return f"the stream has {channels} channels"
    return None


def _count(declared: str) -> int | None:
    try:
        return int(declared.split("/")[0])
    except ValueError:
        return None
