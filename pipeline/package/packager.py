"""Packaging: FFmpeg's fragmented MP4 in, CMAF track out (one init + numbered .m4s segments).

Video chunks start at every sync sample (one moof per GOP, so HLS I-frame playlists can
address each IDR); a segment starts at the first chunk at or after the next multiple of the
target duration, so segments align across rungs that share the keyframe cadence. Audio
segments start at the same times as the video segments. Composition offsets are shifted so
the first frame presents at its decode time (trun v1), which CMAF wants and players honour.
Samples are streamed one segment at a time. The source is one fragmented MP4, or the chunk
files of one rung in title order (chunked encoding), joined on the fly by `chunk_join`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from os import PathLike
from pathlib import Path
from typing import BinaryIO

from core.errors import PackageError
from pipeline.media.presentation import KeyFrame, Segment, Track
from pipeline.mp4.audio import sample_entry_layout
from pipeline.mp4.base import Box
from pipeline.mp4.codecs import codec_string, sample_entry
from pipeline.mp4.fields import BoxFormatError
from pipeline.mp4.fragment import (
    TRACK_ID,
    Fragment,
    OutSample,
    build_moof,
    ftyp_cmaf,
    layout_fragment,
    styp_cmaf,
)
from pipeline.mp4.reader import Sample, iter_samples, read_init
from pipeline.package.chunk_join import check_chunk_inits, iter_joined_samples, open_joined

AUDIO_CHUNK_SECONDS = 2.0


@dataclass
class Chunk:
    samples: list[Sample] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.samples[0].decode_time

    @property
    def duration(self) -> int:
        return sum(s.duration for s in self.samples)


# A hook for sample encryption: given the chunk's samples (with their clear bytes), return the
# bytes to write and extra boxes for the traf (senc/saiz/saio). The DRM layer supplies it.
ChunkTransform = Callable[[list[OutSample], list[bytes], int], tuple[list[bytes], list[Box]]]


def language_code(lang: str) -> int:
    """ISO 639-2/T packed into mdhd's 15 bits; anything else becomes 'und'."""
    code = lang.lower() if len(lang) == 3 and lang.isalpha() else "und"
    v = 0
    for ch in code:
        v = (v << 5) | (ord(ch) - 0x60)
    return v


def cmaf_init(
    moov: Box,
    *,
    language: str = "und",
    entry: Box | None = None,
    extra_moov: Sequence[Box] = (),
    keep_priming: bool = False,
) -> bytes:
    """CMAF header from FFmpeg's moov: one track with id 1, no udta/mehd.

    Video keeps no edit list (its composition offsets are normalised so the first frame is
    presented at tfdt). Audio (`keep_priming`) keeps the encoder's priming as one edit whose
    media_time skips the priming samples (CMAF 7.5.13; AAC 1024 / 2112, E-AC-3 256 samples),
    so the first sample presented lines up with the first video frame."""
    mvhd = moov.find("mvhd")
    trak = moov.find("trak")
    if mvhd is None or trak is None:
        raise BoxFormatError("moov without mvhd/trak")
    mvhd.duration, mvhd.next_track_id = 0, TRACK_ID + 1
    tkhd = trak.find("tkhd")
    if tkhd is not None:
        tkhd.track_id, tkhd.duration = TRACK_ID, 0
        tkhd.flags = 0x3  # enabled, in movie
    edit = priming_edit(trak) if keep_priming else None
    trak.children = [c for c in trak.children if c.box_type not in ("edts", "udta")]
    if edit is not None:
        trak.children.insert(1, edit)  # after tkhd, before mdia
    mdhd = trak.find("mdia/mdhd")
    if mdhd is not None:
        mdhd.duration, mdhd.language = 0, language_code(language)
    if entry is not None:
        stsd = trak.find("mdia/minf/stbl/stsd")
        stsd.children = [entry]
    trex = moov.find("mvex/trex")
    if trex is None:
        raise BoxFormatError("moov has no mvex/trex (input is not fragmented)")
    trex.track_id = TRACK_ID
    trex.default_sample_description_index = 1
    trex.default_sample_duration = trex.default_sample_size = trex.default_sample_flags = 0
    mvex = moov.find("mvex")
    mvex.children = [trex]
    moov.children = [mvhd, trak, mvex, *extra_moov]
    return ftyp_cmaf().to_bytes() + moov.to_bytes()


def iter_chunks(
    samples: Iterator[Sample],
    *,
    video: bool,
    timescale: int,
    boundaries: Callable[[int], float] | None = None,
    tolerance: int = 0,
) -> Iterator[Chunk]:
    """Video: a chunk per GOP (from each sync sample). Audio: ~2 s chunks, also cut at the
    segment boundaries (see `iter_segments`) so that audio segments start with the frame
    nearest each boundary instead of drifting by up to a chunk."""
    chunk = Chunk()
    limit = int(AUDIO_CHUNK_SECONDS * timescale)
    chunk_duration = 0
    n = 1
    for s in samples:
        if video:
            starts_new = not s.flags & 0x00010000
        else:
            starts_new = chunk_duration >= limit
            if boundaries is not None and s.decode_time >= boundaries(n) * timescale - tolerance:
                starts_new = True
                n += 1
        if chunk.samples and starts_new:
            yield chunk
            chunk = Chunk()
            chunk_duration = 0
        chunk.samples.append(s)
        chunk_duration += s.duration
    if chunk.samples:
        yield chunk


def iter_segments(
    chunks: Iterator[Chunk], boundaries: Callable[[int], float], timescale: int, tolerance: int
) -> Iterator[list[Chunk]]:
    """Group chunks into segments; segment n+1 starts at the first chunk whose start is at or
    after boundaries(n) seconds (minus a small tolerance for rounding)."""
    current: list[Chunk] = []
    n = 1
    for c in chunks:
        if current and c.start >= boundaries(n) * timescale - tolerance:
            yield current
            current = []
            n += 1
        current.append(c)
    if current:
        yield current


def read_payloads(f: BinaryIO, samples: list[Sample]) -> list[bytes]:
    """Read the samples' bytes, coalescing contiguous samples into one read."""
    out: list[bytes] = []
    i = 0
    while i < len(samples):
        j = i
        end = samples[i].file_offset + samples[i].size
        while j + 1 < len(samples) and samples[j + 1].file_offset == end:
            j += 1
            end += samples[j].size
        f.seek(samples[i].file_offset)
        blob = f.read(end - samples[i].file_offset)
        if len(blob) != end - samples[i].file_offset:
            raise BoxFormatError("sample data runs past the end of the file (truncated mdat)")
        pos = 0
        for s in samples[i : j + 1]:
            out.append(blob[pos : pos + s.size])
            pos += s.size
        i = j + 1
    return out


def frame_rate_of(samples_durations: dict[int, int], timescale: int) -> str | None:
    if not samples_durations:
        return None
    common = max(samples_durations, key=lambda d: samples_durations[d])
    if common <= 0:
        return None
    fr = Fraction(timescale, common)
    return str(fr.numerator) if fr.denominator == 1 else f"{fr.numerator}/{fr.denominator}"


def priming_edit(trak: Box) -> Box | None:
    """An `edts` with the single edit `media_time` = the source's priming, or None."""
    elst = trak.find("edts/elst")
    if elst is None:
        return None
    media_time = next((e["media_time"] for e in elst.entries if e["media_time"] >= 0), 0)
    if media_time <= 0:
        return None
    elst.version = 0 if media_time < 2**31 else 1
    elst.entry_count = 1
    elst.entries = [{"segment_duration": 0, "media_time": media_time, "media_rate": 0x10000}]
    return trak.find("edts")


def package_track(
    src: Path | Sequence[Path],
    title_dir: Path,
    track_id: str,
    *,
    segment_seconds: float = 6.0,
    boundaries: Sequence[float] | None = None,
    language: str = "und",
    name: str | None = None,
    default: bool = False,
    transform: ChunkTransform | None = None,
    init_transform: Callable[[Box], tuple[Box, Sequence[Box]]] | None = None,
) -> Track:
    """Write `title_dir/track_id/init.mp4` and `1.m4s, 2.m4s ...`; return the measured Track.

    `boundaries`: segment start times in seconds (from the video track) for audio to follow;
    otherwise segments start at multiples of `segment_seconds`.
    `src`: a fragmented MP4, or a rung's chunk files in order (joined into one track).
    """
    sources = [Path(src)] if isinstance(src, str | PathLike) else [Path(p) for p in src]
    try:
        return _package(
            sources,
            title_dir,
            track_id,
            segment_seconds,
            boundaries,
            language,
            name,
            default,
            transform,
            init_transform,
        )
    except (BoxFormatError, ValueError, OSError) as e:
        where = sources[0] if len(sources) == 1 else f"{len(sources)} chunks from {sources[0]}"
        raise PackageError(where, f"cannot package track '{track_id}': {e}") from e


def _package(
    sources: list[Path],
    title_dir: Path,
    track_id: str,
    segment_seconds: float,
    boundaries: Sequence[float] | None,
    language: str,
    name: str | None,
    default: bool,
    transform: ChunkTransform | None,
    init_transform: Callable[[Box], tuple[Box, Sequence[Box]]] | None,
) -> Track:
    src = sources[0]
    moov = read_init(src)[1] if len(sources) == 1 else check_chunk_inits(sources)
    handler = moov.find("trak/mdia/hdlr")
    mdhd = moov.find("trak/mdia/mdhd")
    if handler is None or mdhd is None:
        raise BoxFormatError("moov without hdlr/mdhd")
    kind = {"vide": "video", "soun": "audio"}.get(handler.handler_type)
    if kind is None:
        raise BoxFormatError(f"unsupported handler '{handler.handler_type}'")
    video = kind == "video"
    timescale = mdhd.timescale
    entry = sample_entry(moov)
    codecs = codec_string(moov)
    out_dir = title_dir / track_id
    out_dir.mkdir(parents=True, exist_ok=True)

    extra_moov: Sequence[Box] = ()
    new_entry = None
    if init_transform is not None:
        new_entry, extra_moov = init_transform(entry)
    (out_dir / "init.mp4").write_bytes(
        cmaf_init(
            moov,
            language=language,
            entry=new_entry,
            extra_moov=extra_moov,
            keep_priming=not video,
        )
    )

    samples = iter_samples(src) if len(sources) == 1 else iter_joined_samples(sources)
    first = next(samples, None)
    if first is None:
        raise BoxFormatError("track has no samples")
    shift = first.composition_offset if video else 0

    def all_samples() -> Iterator[Sample]:
        yield first
        yield from samples

    def boundary(n: int) -> float:
        if boundaries is not None:
            return boundaries[n] if n < len(boundaries) else float("inf")
        return n * segment_seconds

    tolerance = max(first.duration // 2, 1)
    segments: list[Segment] = []
    key_frames: list[KeyFrame] = []
    durations: dict[int, int] = {}
    sequence = 1
    with src.open("rb") if len(sources) == 1 else open_joined(sources) as f:
        chunks = iter_chunks(
            all_samples(),
            video=video,
            timescale=timescale,
            boundaries=boundary,
            tolerance=tolerance,
        )
        for number, seg_chunks in enumerate(
            iter_segments(chunks, boundary, timescale, tolerance), start=1
        ):
            # Fragments go straight to the file: only one chunk's bytes are held in memory.
            seg_path = out_dir / f"{number}.m4s"
            with seg_path.open("wb") as seg_file:
                written = seg_file.write(styp_cmaf().to_bytes())
                for chunk in seg_chunks:
                    out = [
                        OutSample(
                            s.duration,
                            s.size,
                            not s.flags & 0x00010000,
                            s.composition_offset - shift,
                        )
                        for s in chunk.samples
                    ]
                    payloads = read_payloads(f, chunk.samples)
                    extra: list[Box] = []
                    if transform is not None:
                        payloads, extra = transform(out, payloads, sequence)
                    frag = _fragment(sequence, chunk.start, out, payloads, video, extra)
                    if video:
                        key_frames.append(
                            KeyFrame(
                                segment_number=number,
                                offset=written,
                                length=frag.moof_size + 8 + frag.sample_sizes[0],
                                start=chunk.start,
                                duration=chunk.duration,
                            )
                        )
                    written += seg_file.write(frag.data)
                    sequence += 1
                    for s in chunk.samples:
                        durations[s.duration] = durations.get(s.duration, 0) + 1
            segments.append(
                Segment(
                    uri=f"{track_id}/{number}.m4s",
                    number=number,
                    start=seg_chunks[0].start,
                    duration=sum(c.duration for c in seg_chunks),
                    size=written,
                )
            )

    return _track(
        track_id,
        kind,
        codecs,
        timescale,
        segments,
        key_frames,
        entry,
        frame_rate_of(durations, timescale) if video else None,
        language,
        name,
        default,
    )


def _fragment(
    sequence: int,
    decode_time: int,
    out: list[OutSample],
    payloads: list[bytes],
    video: bool,
    extra: Sequence[Box],
) -> Fragment:
    sizes = [len(p) for p in payloads]
    if sizes != [s.size for s in out]:
        out = [
            OutSample(s.duration, n, s.sync, s.composition_offset)
            for s, n in zip(out, sizes, strict=True)
        ]
    moof = build_moof(sequence, decode_time, out, video=video, traf_extra=extra)
    return layout_fragment(moof, b"".join(payloads))


def _track(
    track_id: str,
    kind: str,
    codecs: str,
    timescale: int,
    segments: list[Segment],
    key_frames: list[KeyFrame],
    entry: Box,
    frame_rate: str | None,
    language: str,
    name: str | None,
    default: bool,
) -> Track:
    peak = max((s.size * 8 * timescale / s.duration for s in segments if s.duration), default=0)
    total_dur = sum(s.duration for s in segments) / timescale
    avg = sum(s.size for s in segments) * 8 / total_dur if total_dur else 0
    track = Track(
        id=track_id,
        kind=kind,
        codecs=codecs,
        timescale=timescale,
        init_uri=f"{track_id}/init.mp4",
        segment_template=f"{track_id}/$Number$.m4s",
        segments=segments,
        key_frames=key_frames,
        bandwidth=round(peak),
        average_bandwidth=round(avg),
        language=language,
        name=name,
        default=default,
    )
    if kind == "video":
        track.width, track.height, track.frame_rate = entry.width, entry.height, frame_rate
    else:
        track.sample_rate = entry.sample_rate >> 16
        layout = sample_entry_layout(entry)
        track.channels, track.joc = layout.channels, layout.joc
    return track
