"""What the media really is: init segments, segment timing, random access points, decodability.

Everything is measured from the bytes with our own box parser (FFmpeg 5.1 misreports the first
pts of trun v1 with negative composition offsets), and FFmpeg is used only to decode.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from core.settings import ffmpeg_exe
from pipeline.mp4 import boxes as _boxes  # noqa: F401  (registers the box descriptions)
from pipeline.mp4.audio import sample_entry_layout
from pipeline.mp4.base import Box, parse_box, read_header
from pipeline.mp4.boxes import is_sync
from pipeline.mp4.codecs import codec_string, original_format, sample_entry
from pipeline.mp4.fields import BoxFormatError
from pipeline.mp4.reader import Sample, fragment_samples, trex_defaults
from pipeline.validate.fetch import Fetcher, FetchError
from pipeline.validate.model import Sink

DECODE_TIMEOUT = 300.0
DECODE_WORKERS = 2
MAX_PENDING_DECODES = 4  # segments held in memory while waiting for a decoder
AVC_VCL = range(1, 6)
AVC_IDR = 5
HEVC_VCL = range(0, 32)
HEVC_IRAP = range(16, 22)


class MediaError(Exception):
    """The bytes are not what a CMAF init segment / media segment must be."""


@dataclass
class TrackInfo:
    uri: str
    data: bytes  # the init segment, kept to prepend to segments for decoding
    kind: str  # "video" | "audio" | other handler 4CC
    timescale: int
    codecs: str
    fmt: str  # clear sample entry 4CC: avc1, hvc1, mp4a ...
    nal_length_size: int | None  # AVC/HEVC only
    defaults: dict[str, int]
    width: int | None = None
    height: int | None = None
    encrypted: bool = False  # encv/enca: FFmpeg cannot decode it without the keys
    channels: int | None = None  # audio: from esds/dac3/dec3, not the sample entry's field
    joc: bool = False  # E-AC-3 with Dolby Atmos JOC
    edit_shift: float = 0.0  # seconds the edit list moves media time on the presentation line


@dataclass
class Chunk:
    """One moof (+ its mdat) inside a segment, for I-frame byte range checks."""

    moof_offset: int
    first_sample_offset: int
    first_sample_size: int
    first_sample_sync: bool


@dataclass
class SegmentInfo:
    uri: str
    size: int
    decode_start: int  # tfdt of the first sample
    presentation_start: int  # earliest presentation time
    duration: int  # sum of sample durations, track timescale
    sample_count: int
    first_sync: bool
    first_vcl_type: int | None  # NAL unit type of the first VCL NAL of the first sample
    chunks: list[Chunk] = field(default_factory=list)
    durations: Counter = field(default_factory=Counter)
    gaps: list[str] = field(default_factory=list)  # timing holes between moofs


def analyze_init(uri: str, data: bytes) -> TrackInfo:
    try:
        moov = ftyp = None
        for box in _top_boxes(data):
            if box[0] in ("moov", "ftyp"):
                parsed, _ = parse_box(data, box[1])
                if box[0] == "moov":
                    moov = parsed
                else:
                    ftyp = parsed
        del ftyp
        if moov is None:
            raise MediaError("no 'moov' box (not an initialisation segment)")
        hdlr = moov.find("trak/mdia/hdlr")
        mdhd = moov.find("trak/mdia/mdhd")
        if hdlr is None or mdhd is None:
            raise MediaError("moov has no trak/mdia/hdlr or mdhd")
        if moov.find("mvex") is None:
            raise MediaError("moov has no mvex (not a fragmented MP4 header)")
        kind = {"vide": "video", "soun": "audio"}.get(hdlr.handler_type, hdlr.handler_type)
        entry = sample_entry(moov)
        fmt = original_format(entry)
        try:
            codecs = codec_string(moov)
        except ValueError:
            codecs = fmt
        info = TrackInfo(
            uri=uri,
            data=data,
            kind=kind,
            timescale=mdhd.timescale,
            codecs=codecs,
            fmt=fmt,
            nal_length_size=_nal_length_size(entry, fmt),
            defaults=trex_defaults(moov),
            encrypted=entry.box_type in ("encv", "enca"),
        )
        if kind == "video":
            info.width, info.height = getattr(entry, "width", None), getattr(entry, "height", None)
        if kind == "audio":
            layout = sample_entry_layout(entry)
            info.channels, info.joc = layout.channels, layout.joc
        info.edit_shift = _edit_shift(moov, mdhd.timescale)
        if not info.timescale:
            raise MediaError("mdhd timescale is 0")
        return info
    except (BoxFormatError, ValueError, IndexError) as e:
        raise MediaError(str(e)) from None


def _edit_shift(moov: Box, timescale: int) -> float:
    """Presentation time minus media time, in seconds, from the first `elst` entries: an
    empty edit delays the track, a media_time (priming) moves it earlier."""
    elst = moov.find("trak/edts/elst")
    mvhd = moov.find("mvhd")
    if elst is None or not timescale:
        return 0.0
    movie_scale = getattr(mvhd, "timescale", 0) or timescale
    shift = 0.0
    for entry in elst.entries:
        if entry["media_time"] == -1:
            shift += entry["segment_duration"] / movie_scale
            continue
        return shift - entry["media_time"] / timescale
    return shift


def _nal_length_size(entry: Box, fmt: str) -> int | None:
    if fmt in ("avc1", "avc3"):
        cfg = entry.find("avcC")
        if cfg is not None and len(cfg.data) > 4:
            return (cfg.data[4] & 0x3) + 1
    if fmt in ("hvc1", "hev1"):
        cfg = entry.find("hvcC")
        if cfg is not None and len(cfg.data) > 21:
            return (cfg.data[21] & 0x3) + 1
    return None


def _top_boxes(data: bytes) -> list[tuple[str, int, int]]:
    """(type, offset, size) of every top-level box; raises BoxFormatError when truncated."""
    out = []
    off = 0
    while off < len(data):
        box_type, _hdr, size = read_header(data, off)
        if off + size > len(data):
            raise BoxFormatError(
                f"box '{box_type}' at offset {off} claims {size} bytes, "
                f"{len(data) - off} left (truncated)"
            )
        out.append((box_type, off, size))
        off += size
    return out


def analyze_segment(track: TrackInfo, uri: str, data: bytes) -> SegmentInfo:
    try:
        tops = _top_boxes(data)
        samples: list[Sample] = []
        chunks: list[Chunk] = []
        gaps: list[str] = []
        for box_type, off, _size in tops:
            if box_type != "moof":
                continue
            moof, _ = parse_box(data, off)
            frag = fragment_samples(moof, off, track.defaults)
            if not frag:
                continue
            if samples:
                expected = samples[-1].decode_time + samples[-1].duration
                if frag[0].decode_time != expected:
                    gaps.append(
                        f"moof at offset {off}: tfdt {frag[0].decode_time}, "
                        f"previous fragment ends at {expected}"
                    )
            chunks.append(Chunk(off, frag[0].file_offset, frag[0].size, is_sync(frag[0].flags)))
            samples.extend(frag)
    except (BoxFormatError, ValueError, IndexError) as e:
        raise MediaError(str(e)) from None
    if not samples:
        raise MediaError("no samples (no moof with a trun)")
    last = max(samples, key=lambda s: s.file_offset + s.size)
    if last.file_offset + last.size > len(data) or min(s.file_offset for s in samples) < 0:
        raise MediaError(
            f"sample data runs to byte {last.file_offset + last.size}, "
            f"the segment has {len(data)} (truncated)"
        )
    first = samples[0]
    info = SegmentInfo(
        uri=uri,
        size=len(data),
        decode_start=first.decode_time,
        presentation_start=min(s.presentation_time for s in samples),
        duration=sum(s.duration for s in samples),
        sample_count=len(samples),
        first_sync=is_sync(first.flags),
        first_vcl_type=None,
        chunks=chunks,
        durations=Counter(s.duration for s in samples),
        gaps=gaps,
    )
    if track.nal_length_size:
        payload = data[first.file_offset : first.file_offset + first.size]
        info.first_vcl_type = first_vcl_nal_type(payload, track.nal_length_size, track.fmt)
    return info


def first_vcl_nal_type(sample: bytes, length_size: int, fmt: str) -> int | None:
    """NAL unit type of the first VCL NAL unit in a length-prefixed AVC/HEVC sample."""
    hevc = fmt in ("hvc1", "hev1")
    pos = 0
    while pos + length_size < len(sample):
        size = int.from_bytes(sample[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(sample):
            return None
        head = sample[pos]
        nal_type = (head >> 1) & 0x3F if hevc else head & 0x1F
        if nal_type in (HEVC_VCL if hevc else AVC_VCL):
            return nal_type
        pos += size
    return None


def is_random_access_nal(nal_type: int | None, fmt: str) -> bool:
    if fmt in ("hvc1", "hev1"):
        return nal_type in HEVC_IRAP
    return nal_type == AVC_IDR


def decode_check(init: bytes, segment: bytes, *, ffmpeg: str | None = None) -> str | None:
    """Decode init + one segment with FFmpeg; None when clean, else FFmpeg's complaint."""
    ffmpeg = ffmpeg or ffmpeg_exe()
    cmd = [
        ffmpeg,
        "-hide_banner",
        "-nostats",
        "-v",
        "error",
        "-threads",
        "1",
        "-i",
        "pipe:0",
        "-f",
        "null",
        "-",
    ]
    try:
        proc = subprocess.run(
            cmd, input=init + segment, capture_output=True, timeout=DECODE_TIMEOUT, check=False
        )
    except FileNotFoundError:
        return f"{ffmpeg} not found"
    except subprocess.TimeoutExpired:
        return f"decoding took longer than {DECODE_TIMEOUT:.0f} s"
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0 or err:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        summary = "; ".join(lines[:3]) + (f" (+{len(lines) - 3} more)" if len(lines) > 3 else "")
        return summary or f"ffmpeg exited with status {proc.returncode}"
    return None


def report_fetch_error(sink: Sink, e: FetchError) -> None:
    code = {"missing": "file.missing", "refused": "fetch.refused"}.get(e.kind, "fetch.error")
    sink.add(code, e.uri, str(e))


class MediaStore:
    """Fetches and analyses each init segment and media segment once, whoever references it.

    Decoding runs on a pool of DECODE_WORKERS threads (one FFmpeg process per segment) while
    the next segments are fetched and parsed; at most MAX_PENDING_DECODES segments wait.
    Encrypted tracks are parsed and checked but not decoded (there are no keys here).
    """

    def __init__(
        self, fetcher: Fetcher, sink: Sink, *, decode: bool = True, ffmpeg: str | None = None
    ):
        self.fetcher = fetcher
        self.sink = sink
        self.ffmpeg = ffmpeg or ffmpeg_exe()
        self.decode = decode and shutil.which(self.ffmpeg) is not None
        if decode and not self.decode:
            sink.add("decode.unavailable", "", f"{self.ffmpeg} not found on PATH")
        self._tracks: dict[str, TrackInfo | None] = {}
        self._segments: dict[tuple[str, str], SegmentInfo | None] = {}
        self._files: dict[str, bytes | None] = {}
        self._pool = ThreadPoolExecutor(DECODE_WORKERS) if self.decode else None
        self._pending: deque[tuple[str, Future[str | None]]] = deque()

    def fetch(self, uri: str, *, cache: bool = False) -> bytes | None:
        """The file's bytes, or None after reporting it missing / empty / unreadable."""
        if uri in self._files:
            return self._files[uri]
        try:
            data: bytes | None = self.fetcher.get(uri, cache=cache)
        except FetchError as e:
            report_fetch_error(self.sink, e)
            data = None
        if data is not None and not data:
            self.sink.add("file.empty", uri, "file is empty")
            data = None
        if cache or data is None:
            self._files[uri] = data
        return data

    def track(self, init_uri: str) -> TrackInfo | None:
        if init_uri not in self._tracks:
            data = self.fetch(init_uri, cache=True)
            info = None
            if data is not None:
                try:
                    info = analyze_init(init_uri, data)
                except MediaError as e:
                    self.sink.add("media.init", init_uri, str(e))
            self._tracks[init_uri] = info
        return self._tracks[init_uri]

    def segment(self, init_uri: str, uri: str) -> SegmentInfo | None:
        key = (init_uri, uri)
        if key in self._segments:
            return self._segments[key]
        track = self.track(init_uri)
        data = self.fetch(uri)
        info = None
        if data is not None and track is not None:
            try:
                info = analyze_segment(track, uri, data)
            except MediaError as e:
                self.sink.add("media.parse", uri, str(e))
            if self._pool is not None and not track.encrypted:
                self._submit_decode(uri, track.data, data)
        self._segments[key] = info
        return info

    def _submit_decode(self, uri: str, init: bytes, data: bytes) -> None:
        while len(self._pending) >= MAX_PENDING_DECODES:
            self._collect_one()
        assert self._pool is not None
        self._pending.append((uri, self._pool.submit(decode_check, init, data, ffmpeg=self.ffmpeg)))

    def _collect_one(self) -> None:
        uri, fut = self._pending.popleft()
        problem = fut.result()
        if problem:
            self.sink.add("media.decode", uri, f"does not decode cleanly: {problem}")

    def finish(self) -> None:
        """Wait for the decoders and report what they found."""
        while self._pending:
            self._collect_one()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
