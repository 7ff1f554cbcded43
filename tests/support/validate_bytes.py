"""Tiny packaged titles built in memory, for pure unit tests of the validator's rules.

No FFmpeg, no disk, no network: CMAF init segments and fragments are laid out with our box
model (`pipeline.mp4`), the manifests are written here by hand, and an in-memory Fetcher
serves them under a fake https root. Every number a test expects can be derived from the
constants below (sample durations, sizes, timescales), not from the validator.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from pipeline.mp4.base import Box
from pipeline.mp4.boxes import (
    AudioSampleEntry,
    ConfigBox,
    Elst,
    Hdlr,
    Mdhd,
    Mvhd,
    Stsd,
    Tkhd,
    Trex,
    VisualSampleEntry,
)
from pipeline.mp4.fragment import OutSample, build_moof, ftyp_cmaf, layout_fragment
from pipeline.validate import title as title_module
from pipeline.validate.fetch import Fetcher, FetchError, resolve
from pipeline.validate.media import MediaStore
from pipeline.validate.model import Report, Sink

ROOT = "https://cdn.test/t/"
# avcC: version 1, profile_idc 100 (High), constraints 0, level_idc 31, lengthSizeMinusOne 3
AVCC = bytes([1, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0x00])
AVC_CODECS = "avc1.64001f"
VIDEO_TS = 90000
FRAME = 3600  # 25 fps at 90 kHz
FRAMES_PER_SEGMENT = 50  # 2 s
AUDIO_TS = 48000
AUDIO_FRAME = 960  # 20 ms
AUDIO_FRAMES_PER_SEGMENT = 100  # 2 s
IDR_SIZE = 4000
P_SIZE = 1000
AUDIO_SIZE = 300


class MemoryFetcher(Fetcher):
    """A remote-title Fetcher whose 'server' is a dict (relative path -> bytes)."""

    def __init__(self, files: dict[str, bytes | str], root: str = ROOT):
        # Fetcher.__init__ minus the http opener (slow to build, and never used here)
        self.root, self.remote, self.timeout = root, True, 0.0
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._opener = None
        self.files = {
            resolve(root, k): v.encode() if isinstance(v, str) else v for k, v in files.items()
        }
        self.requested: list[str] = []

    def _get_remote(self, uri: str, limit: int) -> bytes:
        self.requested.append(uri)
        if uri not in self.files:
            raise FetchError(uri, "missing", "HTTP 404 Not Found")
        if len(self.files[uri]) > limit:  # as Fetcher._get_remote
            raise FetchError(uri, "error", f"larger than {limit} bytes")
        return self.files[uri]


def store(files: dict[str, bytes | str]) -> tuple[MediaStore, Sink]:
    fetcher = MemoryFetcher(files)
    sink = Sink(fetcher.display)
    return MediaStore(fetcher, sink, decode=False), sink


@contextmanager
def serving(files: dict[str, bytes | str]) -> Iterator[None]:
    """`validate(ROOT...)` reads `files` instead of the network."""
    with mock.patch.object(title_module, "Fetcher", lambda root: MemoryFetcher(files, root)):
        yield


def run(files: dict[str, bytes | str], target: str = "", *, decode: bool = False) -> Report:
    with serving(files):
        return title_module.validate(ROOT + target, decode=decode)


def found(report: Report) -> list[tuple[str, str, str]]:
    return [(v.code, v.where, v.message) for v in report.violations]


# -- bytes ---------------------------------------------------------------------------------
def init_segment(
    kind: str,
    *,
    timescale: int,
    fmt: str | None = None,
    config: bytes | None = AVCC,
    width: int = 320,
    height: int = 180,
    channels: int = 2,
    elst: list[dict] | None = None,
    mvex: bool = True,
    movie_timescale: int = 1000,
) -> bytes:
    """ftyp + moov of one video ('vide') or audio ('soun') track."""
    if kind == "vide":
        fmt = fmt or "avc1"
        box = "hvcC" if fmt in ("hvc1", "hev1") else "avcC"
        children = [ConfigBox(box, data=config)] if config is not None else []
        entry: Box = VisualSampleEntry(fmt, width=width, height=height, children=children)
    else:
        fmt = fmt or "mp4a"
        entry = AudioSampleEntry(fmt, channel_count=channels)
    stbl = Box("stbl", children=[Stsd(children=[entry])])
    mdia = Box(
        "mdia",
        children=[
            Mdhd(timescale=timescale),
            Hdlr(handler_type=kind),
            Box("minf", children=[stbl]),
        ],
    )
    trak_children = [Tkhd()]
    if elst is not None:
        trak_children.append(Box("edts", children=[Elst(entries=elst)]))
    trak_children.append(mdia)
    moov_children = [Mvhd(timescale=movie_timescale), Box("trak", children=trak_children)]
    if mvex:
        moov_children.append(Box("mvex", children=[Trex()]))
    return ftyp_cmaf().to_bytes() + Box("moov", children=moov_children).to_bytes()


def nal_sample(size: int, nal_header: int) -> bytes:
    """One length-prefixed (4-byte) NAL unit filling `size` bytes."""
    return (size - 4).to_bytes(4, "big") + bytes([nal_header]) + bytes(size - 5)


@dataclass
class Frag:
    data: bytes
    moof_size: int
    first_size: int


def fragment(
    decode_time: int,
    durations: Sequence[int],
    sizes: Sequence[int],
    *,
    video: bool,
    sync_first: bool = True,
    first_nal: int = 0x65,
    offsets: Sequence[int] | None = None,
) -> Frag:
    samples = [
        OutSample(d, n, sync=(i == 0 and sync_first), composition_offset=(offsets or [0] * 9999)[i])
        for i, (d, n) in enumerate(zip(durations, sizes, strict=True))
    ]
    moof = build_moof(1, decode_time, samples, video=video)
    if video:
        payload = nal_sample(sizes[0], first_nal) + b"".join(nal_sample(n, 0x41) for n in sizes[1:])
    else:
        payload = bytes(sum(sizes))
    f = layout_fragment(moof, payload)
    return Frag(f.data, f.moof_size, sizes[0])


def video_segment(n: int, *, frames: int = FRAMES_PER_SEGMENT, **kw) -> Frag:
    """Segment n (1-based) of the standard video track: one IDR then P frames."""
    start = (n - 1) * FRAMES_PER_SEGMENT * FRAME
    sizes = [IDR_SIZE] + [P_SIZE] * (frames - 1)
    return fragment(start, [FRAME] * frames, sizes, video=True, **kw)


def audio_segment(n: int, *, frames: int = AUDIO_FRAMES_PER_SEGMENT) -> Frag:
    start = (n - 1) * AUDIO_FRAMES_PER_SEGMENT * AUDIO_FRAME
    return fragment(start, [AUDIO_FRAME] * frames, [AUDIO_SIZE] * frames, video=False)


# -- a clean title ---------------------------------------------------------------------------
@dataclass
class Title:
    files: dict[str, bytes | str] = field(default_factory=dict)
    video: list[Frag] = field(default_factory=list)
    audio: list[Frag] = field(default_factory=list)

    def edit(self, name: str, old: str, new: str, count: int = 1) -> None:
        text = self.files[name]
        assert isinstance(text, str) and old in text, (name, old)
        self.files[name] = text.replace(old, new, count)

    def peak(self, frags: list[Frag], timescale: int, frame: int, frames: int) -> int:
        return round(max(len(f.data) * 8 * timescale / (frame * frames) for f in frags))


def rates(frags: list[Frag], seconds_each: float) -> tuple[int, int]:
    """(peak, average) bit rate of equally long segments, from their byte counts."""
    peak = round(max(len(f.data) * 8 / seconds_each for f in frags))
    avg = round(sum(len(f.data) for f in frags) * 8 / (seconds_each * len(frags)))
    return peak, avg


VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n"


def media_playlist(folder: str, count: int, extinf: str = "2.000000", version: int = 7) -> str:
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{version}",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f'#EXT-X-MAP:URI="{folder}/init.mp4"',
    ]
    for n in range(1, count + 1):
        lines += [f"#EXTINF:{extinf},", f"{folder}/{n}.m4s"]
    return "\n".join(lines + ["#EXT-X-ENDLIST", ""])


def clean_title(segments: int = 2) -> Title:
    """A fresh copy of `_clean_title(segments)` (built once; tests edit their copy)."""
    return copy.deepcopy(_clean_title(segments))


@functools.cache
def _clean_title(segments: int) -> Title:
    """v180 (H.264 25 fps, 2 s segments), aud (2 s segments), an I-frame playlist, WebVTT
    subtitles; master.m3u8 and manifest.mpd agree with the media and with each other."""
    t = Title()
    t.files["v180/init.mp4"] = init_segment("vide", timescale=VIDEO_TS)
    t.files["aud/init.mp4"] = init_segment("soun", timescale=AUDIO_TS)
    for n in range(1, segments + 1):
        v, a = video_segment(n), audio_segment(n)
        t.video.append(v)
        t.audio.append(a)
        t.files[f"v180/{n}.m4s"] = v.data
        t.files[f"aud/{n}.m4s"] = a.data
    vpeak, vavg = rates(t.video, 2.0)
    apeak, aavg = rates(t.audio, 2.0)
    t.files["master.m3u8"] = "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English",LANGUAGE="en",'
            'DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="aud.m3u8"',
            '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",'
            'URI="subs/eng.m3u8"',
            f"#EXT-X-STREAM-INF:BANDWIDTH={vpeak + apeak},AVERAGE-BANDWIDTH={vavg + aavg},"
            f'CODECS="{AVC_CODECS},mp4a.40.2",RESOLUTION=320x180,FRAME-RATE=25.000,'
            'AUDIO="aac",SUBTITLES="subs"',
            "v180.m3u8",
            f'#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={vpeak},CODECS="{AVC_CODECS}",'
            'RESOLUTION=320x180,URI="v180_iframes.m3u8"',
            "",
        ]
    )
    t.files["v180.m3u8"] = media_playlist("v180", segments)
    t.files["aud.m3u8"] = media_playlist("aud", segments)
    iframes = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-I-FRAMES-ONLY",
        '#EXT-X-MAP:URI="v180/init.mp4"',
    ]
    for n, v in enumerate(t.video, start=1):
        # the moof, the mdat header and the key frame
        iframes += ["#EXTINF:2.000000,", f"#EXT-X-BYTERANGE:{v.moof_size + 8 + v.first_size}@0"]
        iframes += [f"v180/{n}.m4s"]
    t.files["v180_iframes.m3u8"] = "\n".join(iframes + ["#EXT-X-ENDLIST", ""])
    t.files["subs/eng.m3u8"] = "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            f"#EXT-X-TARGETDURATION:{2 * segments}",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            f"#EXTINF:{2 * segments}.000,",
            "eng.vtt",
            "#EXT-X-ENDLIST",
            "",
        ]
    )
    t.files["subs/eng.vtt"] = VTT
    vs = f'<S t="0" d="{FRAMES_PER_SEGMENT * FRAME}" r="{segments - 1}"/>'
    as_ = f'<S t="0" d="{AUDIO_FRAMES_PER_SEGMENT * AUDIO_FRAME}" r="{segments - 1}"/>'
    t.files["manifest.mpd"] = f"""<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" profiles="urn:mpeg:dash:profile:isoff-live:2011" minBufferTime="PT2S" mediaPresentationDuration="PT{2 * segments}.000S">
  <Period id="0" start="PT0S">
    <AdaptationSet id="1" contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <Representation id="v180" bandwidth="{vpeak}" codecs="{AVC_CODECS}" width="320" height="180">
        <SegmentTemplate timescale="{VIDEO_TS}" initialization="v180/init.mp4" media="v180/$Number$.m4s" startNumber="1">
          <SegmentTimeline>{vs}</SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="2" contentType="audio" mimeType="audio/mp4" lang="en">
      <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>
      <Representation id="aud" bandwidth="{apeak}" codecs="mp4a.40.2">
        <SegmentTemplate timescale="{AUDIO_TS}" initialization="aud/init.mp4" media="aud/$Number$.m4s" startNumber="1">
          <SegmentTimeline>{as_}</SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="3" contentType="text" mimeType="text/vtt" lang="en">
      <Representation id="sub_eng" bandwidth="256">
        <BaseURL>subs/eng.vtt</BaseURL>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""  # noqa: E501
    return t
