"""Join the chunk files of one rung into one sample stream, as if FFmpeg had written one file.

`package_track` takes a list of chunk files and uses these helpers: the init segment comes
from the first chunk (all chunks must carry the same sample description), samples are read
chunk after chunk with decode times re-stamped so the timeline is exactly continuous, and
payloads are read through one virtual file that concatenates the chunks. Chunks that do not
fit together (a missing or repeated chunk, a chunk not starting on a sync sample, different
encoder settings) are refused rather than packaged into a title that stutters.
"""

from __future__ import annotations

import bisect
import dataclasses
import io
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

from pipeline.mp4.base import Box
from pipeline.mp4.codecs import sample_entry
from pipeline.mp4.reader import Sample, iter_samples, read_init

NON_SYNC = 0x00010000  # sample_is_non_sync_sample in the trun/tfhd sample flags


class ChunkJoinError(ValueError):
    """The chunk files cannot be joined into one continuous track."""


def check_chunk_inits(paths: Sequence[Path]) -> Box:
    """The first chunk's moov, once every chunk has the same track type, timescale and sample
    description (same avcC/hvcC bytes): decoders get one init segment for all of them."""
    if not paths:
        raise ChunkJoinError("no chunk files to join")
    _, first = read_init(paths[0])
    reference = _init_signature(first)
    for path in paths[1:]:
        _, moov = read_init(path)
        if _init_signature(moov) != reference:
            raise ChunkJoinError(
                f"{path}: sample description differs from {paths[0]} "
                "(chunks encoded with different settings cannot share one init segment)"
            )
    return first


def iter_joined_samples(paths: Sequence[Path]) -> Iterator[Sample]:
    """Samples of all chunks in decode order, on one continuous timeline.

    Chunks carry the title's timeline (the first starts at 0). Each chunk's decode times are
    shifted so it starts exactly where the previous one ended; one that starts more than half a
    frame away from there (a gap or an overlap: a missing or repeated chunk, or a source whose
    video does not start at the container's start) is refused, as is one whose first sample is
    not a sync sample. File offsets are positions in the concatenation of the files (read them
    with `open_joined`).
    """
    bases = _file_bases(paths)
    expected = 0
    first_offset: int | None = None
    for path, base in zip(paths, bases, strict=True):
        samples = iter_samples(path)
        first = next(samples, None)
        if first is None:
            raise ChunkJoinError(f"{path}: chunk has no samples")
        if first.flags & NON_SYNC:
            raise ChunkJoinError(f"{path}: chunk does not start with a sync sample")
        if first_offset is None:
            first_offset = first.composition_offset
        elif first.composition_offset != first_offset:
            raise ChunkJoinError(
                f"{path}: first composition offset {first.composition_offset} differs from the "
                f"first chunk's {first_offset} (the presentation timeline would jump)"
            )
        gap = first.decode_time - expected
        if 2 * abs(gap) > first.duration:
            kind = "gap" if gap > 0 else "overlap"
            raise ChunkJoinError(
                f"{path}: {kind} of {abs(gap)} ticks before this chunk "
                f"(starts at {first.decode_time}, expected {expected})"
            )
        shift = expected - first.decode_time
        sample: Sample = first
        for sample in _chain(first, samples):
            yield dataclasses.replace(
                sample,
                decode_time=sample.decode_time + shift,
                file_offset=sample.file_offset + base,
            )
        expected = sample.decode_time + shift + sample.duration


class JoinedReader(io.RawIOBase):
    """Read-only, seekable view of several files as one (offsets as from `iter_joined_samples`)."""

    def __init__(self, paths: Sequence[Path]):
        super().__init__()
        self._bases = _file_bases(paths)
        self._sizes = [Path(p).stat().st_size for p in paths]
        with ExitStack() as stack:  # every file open, or none left open
            self._files = [stack.enter_context(Path(p).open("rb")) for p in paths]
            self._stack = stack.pop_all()
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        end = self._bases[-1] + self._sizes[-1] if self._bases else 0
        self._pos = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: end}[whence] + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view):
            k = bisect.bisect_right(self._bases, self._pos) - 1
            if k < 0 or self._pos >= self._bases[k] + self._sizes[k]:
                break
            f = self._files[k]
            f.seek(self._pos - self._bases[k])
            n = f.readinto(view[done : done + self._bases[k] + self._sizes[k] - self._pos])
            if not n:
                break
            done += n
            self._pos += n
        return done

    def close(self) -> None:
        self._stack.close()
        super().close()


def open_joined(paths: Sequence[Path]) -> io.BufferedReader:
    """Open the chunk files as one file (use as a context manager)."""
    return io.BufferedReader(JoinedReader(paths))


def _file_bases(paths: Sequence[Path]) -> list[int]:
    """Offset of each file in the concatenation."""
    bases, total = [], 0
    for path in paths:
        bases.append(total)
        total += Path(path).stat().st_size
    return bases


def _init_signature(moov: Box) -> tuple[str | None, int | None, bytes]:
    handler = moov.find("trak/mdia/hdlr")
    mdhd = moov.find("trak/mdia/mdhd")
    return (
        handler.handler_type if handler is not None else None,
        mdhd.timescale if mdhd is not None else None,
        sample_entry(moov).to_bytes(),
    )


def _chain(first: Sample, rest: Iterator[Sample]) -> Iterator[Sample]:
    yield first
    yield from rest
