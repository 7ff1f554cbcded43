"""Chunked encoding: chunk planning, chunk commands, and chunked vs un-chunked titles compared.

The end-to-end check encodes the 60 s `long` fixture (426x240, 30 fps, 2 s GOP) with a 2-rung
plan once in one FFmpeg run and once as four chunks (0, 18, 36, 54 s), packages both, and
compares what is on disk: segment times, IDRs, decoded frame timestamps against the source's,
and `vod validate`. Frame rates where frames fall between chunk boundaries (30000/1001) and
rate conversion are checked sample by sample on a shorter source.
"""

from __future__ import annotations

import math
import re
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import PackageError, TranscodeError
from pipeline.analysis.probe import probe
from pipeline.encode.chunk_encode import encode_audio, encode_chunk, encode_chunks
from pipeline.encode.chunks import Chunk, boundary_unit, plan_chunks
from pipeline.encode.ffmpeg_cmd import (
    build_chunk_command,
    chunk_keyframe_expr,
    keyframe_expr,
)
from pipeline.encode.transcode import transcode
from pipeline.media.plan import AudioRendition, Plan
from pipeline.media.presentation import Presentation, Track
from pipeline.mp4.base import parse_box
from pipeline.mp4.reader import (
    fragment_samples,
    iter_samples,
    iter_top_level,
    read_init,
    trex_defaults,
)
from pipeline.package.chunk_join import NON_SYNC, iter_joined_samples, open_joined
from pipeline.package.packager import package_track
from pipeline.validate.title import validate
from pipeline.workflow.packaging import package_all, write_manifests
from tests.support.common import video_rung

FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
GOP, SEGMENT, CHUNK = 2.0, 6.0, 18.0
PRESET = "ultrafast"


def chunk_plan(source: Path, duration: float, rungs: list, audio: bool = True) -> Plan:
    return Plan(
        source=str(source),
        video_source_index=0,
        device_classes=["web"],
        gop_seconds=GOP,
        segment_seconds=SEGMENT,
        duration=duration,
        video=rungs,
        audio=[AudioRendition(name="a-eng", source_index=1, language="eng")] if audio else [],
    )


def spans(chunks: list[Chunk]) -> list[tuple[float, float]]:
    return [(c.start, c.end) for c in chunks]


# --- planning ---------------------------------------------------------------------------------


def test_chunks_start_on_multiples_of_the_chunk_length() -> None:
    chunks = plan_chunks(60, GOP, SEGMENT, CHUNK)
    assert spans(chunks) == [(0, 18), (18, 36), (36, 54), (54, 60)]
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    assert [c.last for c in chunks] == [False, False, False, True]


def test_tail_shorter_than_a_segment_joins_the_last_chunk() -> None:
    assert spans(plan_chunks(58, GOP, SEGMENT, CHUNK)) == [(0, 18), (18, 36), (36, 58)]
    assert spans(plan_chunks(54.04, GOP, SEGMENT, CHUNK))[-1] == (36, 54.04)


@pytest.mark.parametrize("duration", [5, 18, 20, 23.9])
def test_short_sources_are_not_chunked(duration: float) -> None:
    (only,) = plan_chunks(duration, GOP, SEGMENT, CHUNK)
    assert (only.start, only.end, only.last) == (0, duration, True)


def test_chunk_length_is_rounded_down_to_whole_segments_but_never_below_one() -> None:
    assert spans(plan_chunks(60, GOP, SEGMENT, 20)) == spans(plan_chunks(60, GOP, SEGMENT, 18))
    assert [c.start for c in plan_chunks(30, GOP, SEGMENT, 4)] == [0, 6, 12, 18, 24]


def test_boundaries_are_gop_and_segment_multiples() -> None:
    assert boundary_unit(4, 6) == 12  # a 6 s segment does not end on a 4 s GOP: use 12 s
    assert [c.start for c in plan_chunks(60, 4, 6, 18)] == [0, 12, 24, 36, 48]
    assert boundary_unit(2.002, 6.006) == Fraction(6006, 1000)
    assert [c.start for c in plan_chunks(60.06, 2.002, 6.006, 19)] == [0, 18.018, 36.036, 54.054]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((0, 2, 6, 18), "duration must be positive: 0"),
        ((60, 0, 6, 18), "gop_seconds must be positive: 0"),
        ((60, 2, -6, 18), "segment_seconds must be positive: -6"),
        ((60, 2, 6, 0), "chunk_seconds must be positive: 0"),
    ],
)
def test_plan_chunks_refuses_non_positive_inputs(args: tuple, reason: str) -> None:
    with pytest.raises(ValueError) as err:
        plan_chunks(*args)
    assert str(err.value) == reason


def test_chunk_travels_as_json() -> None:
    chunk = plan_chunks(60, GOP, SEGMENT, CHUNK)[1]
    assert Chunk.model_validate_json(chunk.model_dump_json()) == chunk


@given(
    duration=st.floats(0.04, 20_000, allow_nan=False),
    gop=st.sampled_from([1.0, 2.0, 2.002, 4.0]),
    segment=st.sampled_from([2.0, 4.0, 6.0, 6.006, 10.0]),
    chunk_seconds=st.floats(0.5, 3_000, allow_nan=False),
)
def test_chunks_tile_the_title(
    duration: float, gop: float, segment: float, chunk_seconds: float
) -> None:
    chunks = plan_chunks(duration, gop, segment, chunk_seconds)
    unit = float(boundary_unit(gop, segment))
    assert chunks[0].start == 0 and chunks[-1].end == duration
    assert all(a.end == b.start for a, b in zip(chunks, chunks[1:], strict=False))
    assert all(c.end > c.start for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    for c in chunks:
        for period in (segment, gop):
            ratio = c.start / period
            assert math.isclose(ratio, round(ratio), abs_tol=1e-6), (c.start, period)
    if duration <= chunk_seconds:
        assert len(chunks) == 1
    if len(chunks) > 1:
        step = chunks[1].start
        assert all(math.isclose(c.end - c.start, step) for c in chunks[:-1])
        assert step <= max(chunk_seconds, unit) + 1e-9 and step > chunk_seconds - unit - 1e-9
        assert unit - 1e-9 <= chunks[-1].end - chunks[-1].start < step + unit
    elif duration > chunk_seconds:  # not worth splitting: fewer than two chunks
        assert duration < float(unit * max(1, math.floor(chunk_seconds / unit))) + unit


# --- commands (pure) --------------------------------------------------------------------------

NTSC = "30000/1001"


def command(chunk: Chunk, frame_rate: str = "30/1") -> tuple[list[str], dict[str, Path]]:
    rungs = [video_rung("v180", 320, 180, 250, frame_rate=frame_rate)]
    plan = chunk_plan(Path("/src/t.mov"), 60, rungs)
    return build_chunk_command(plan, chunk, Path("/out"))


def test_chunk_command_seeks_before_input_and_keeps_absolute_time() -> None:
    argv, outputs = command(Chunk(index=1, start=18, end=36))
    before_input = argv[: argv.index("-i")]  # read from a margin before to a margin after
    seek = ["-accurate_seek", "-ss", "17", "-t", "20", "-copyts"]
    assert before_input[-len(seek) :] == seek
    graph = argv[argv.index("-filter_complex") + 1]
    assert "trim=start=17.991667:end=35.991667" in graph  # a quarter frame before 18 s / 36 s
    assert argv[argv.index("-force_key_frames") + 1] == "expr:gte(t+18.000001,(n_forced+9)*2)"
    assert "frag_discont" in argv[argv.index("-movflags") + 1]
    assert "-an" in argv and "0:1" not in argv  # audio is encoded once, un-chunked
    assert outputs == {"v180": Path("/out/v180.c00001.mp4")}
    assert argv[-1] == "/out/v180.c00001.mp4"


def test_first_and_last_chunks_are_open_at_the_title_edges() -> None:
    first, _ = command(Chunk(index=0, start=0, end=18))
    assert first[first.index("-ss") + 1] == "0"
    assert "trim=end=17.991667" in first[first.index("-filter_complex") + 1]
    assert first[first.index("-force_key_frames") + 1] == keyframe_expr(GOP)
    last, _ = command(Chunk(index=3, start=54, end=60, last=True))
    assert "-t" not in last[: last.index("-i")]
    graph = last[last.index("-filter_complex") + 1]
    assert "trim=start=53.991667[" in graph


def test_chunk_keyframes_follow_the_title_timeline_when_frames_straddle_the_start() -> None:
    # At 30000/1001 the first frame at or after 18 s is frame 540, at 18.018 s.
    assert chunk_keyframe_expr(2, 18, Fraction(NTSC)) == "expr:gte(t+18.018001,(n_forced+9)*2)"
    argv, _ = command(Chunk(index=1, start=18, end=36), NTSC)
    assert "trim=start=18.009658:end=35.994292" in argv[argv.index("-filter_complex") + 1]


def test_chunk_must_start_on_a_gop() -> None:
    with pytest.raises(TranscodeError, match="GOP boundary"):
        command(Chunk(index=1, start=19, end=36))


def test_joined_reader_reads_across_files(tmp_path: Path) -> None:
    parts = [b"abc", b"", b"defgh", b"ij"]
    paths = []
    for i, data in enumerate(parts):
        paths.append(tmp_path / f"{i}.bin")
        paths[-1].write_bytes(data)
    with open_joined(paths) as f:
        f.seek(2)
        assert f.read(6) == b"cdefgh"
        f.seek(0)
        assert f.read() == b"".join(parts)


# --- end to end: chunked vs un-chunked --------------------------------------------------------


def ffprobe_csv(path: Path, *args: str) -> list[str]:
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", *args, "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split(",")[0] for line in proc.stdout.splitlines() if line.strip(",")]


def frame_times(path: Path) -> list[int]:
    """Decoded frames' presentation times in ms from the first frame's, in output order.

    (FFmpeg's demuxer delays CMAF tracks with negative composition offsets by the B-frame
    delay, so times are compared from the first frame.)
    """
    times = [float(t) for t in ffprobe_csv(path, "-show_entries", "frame=pts_time")]
    return [round((t - times[0]) * 1000) for t in times]


def track_file(title: Path, track: Track, out: Path) -> Path:
    """init + every segment of a track as one file, for FFmpeg to decode."""
    with out.open("wb") as f:
        f.write((title / str(track.init_uri)).read_bytes())
        for segment in track.segments:
            f.write((title / segment.uri).read_bytes())
    return out


def make_title(plan: Plan, outputs: dict, title: Path) -> Presentation:
    tracks = package_all(plan, outputs, title, lambda stage, fraction: None)
    presentation = Presentation(
        title_id=title.name,
        segment_seconds=plan.segment_seconds,
        tracks=tracks,
        duration=max(t.duration_seconds for t in tracks),
    )
    write_manifests({"clear": presentation}, title)
    return presentation


@pytest.fixture(scope="module")
def long_titles(media_factory, tmp_path_factory: pytest.TempPathFactory) -> dict:
    source = media_factory("long", duration=60, width=426, height=240)
    media = probe(source)
    rungs = [video_rung("v180", 320, 180, 250), video_rung("v240", 426, 240, 400)]
    plan = chunk_plan(source, media.duration, rungs)
    work = tmp_path_factory.mktemp("chunks")
    chunks = plan_chunks(plan.duration, GOP, SEGMENT, CHUNK)
    assert [c.start for c in chunks] == [0, 18, 36, 54]

    full = transcode(plan, work / "full", media=media, preset=PRESET)
    chunked: dict = encode_chunks(plan, chunks, work / "parts", media=media, preset=PRESET)
    chunked.update(encode_audio(plan, work / "parts"))
    return {
        "source": source,
        "plan": plan,
        "work": work,
        "full_files": full,
        "chunk_files": chunked,
        "full": (work / "t-full", make_title(plan, full, work / "t-full")),
        "chunked": (work / "t-chunked", make_title(plan, chunked, work / "t-chunked")),
    }


@pytest.mark.slow
def test_chunked_title_has_the_same_segments(long_titles: dict) -> None:
    _, full = long_titles["full"]
    _, chunked = long_titles["chunked"]
    assert [t.id for t in chunked.tracks] == [t.id for t in full.tracks]
    for a, b in zip(full.tracks, chunked.tracks, strict=True):
        assert len(a.segments) == len(b.segments) == 10
        assert [(s.start, s.duration) for s in b.segments] == [
            (s.start, s.duration) for s in a.segments
        ], a.id
        assert [(k.start, k.duration) for k in b.key_frames] == [
            (k.start, k.duration) for k in a.key_frames
        ]
    assert chunked.duration == full.duration


@pytest.mark.slow
def test_chunks_join_into_the_same_sample_timeline(long_titles: dict) -> None:
    def timing(samples) -> list[tuple[int, int, int, bool]]:
        return [
            (s.decode_time, s.composition_offset, s.duration, not s.flags & NON_SYNC)
            for s in samples
        ]

    for rung in long_titles["plan"].video:
        full = timing(iter_samples(long_titles["full_files"][rung.name]))
        joined = timing(iter_joined_samples(long_titles["chunk_files"][rung.name]))
        assert len(joined) == 1800
        assert [t[:3] for t in joined] == [t[:3] for t in full]  # dts, cts offset, duration
        assert [i for i, t in enumerate(joined) if t[3]] == list(range(0, 1800, 60))


@pytest.mark.slow
def test_every_segment_starts_with_an_idr(long_titles: dict) -> None:
    title, presentation = long_titles["chunked"]
    for track in presentation.of_kind("video"):
        _, moov = read_init(title / str(track.init_uri))
        for segment in track.segments:
            path = title / segment.uri
            with path.open("rb") as f:
                moof = next(t for t in iter_top_level(f) if t.type == "moof")
                f.seek(moof.offset)
                box, _ = parse_box(f.read(moof.size))
                first = fragment_samples(box, moof.offset, trex_defaults(moov))[0]
                f.seek(first.file_offset)
                payload = f.read(first.size)
            assert not first.flags & NON_SYNC, segment.uri
            assert 5 in nal_types(payload), f"{segment.uri} does not start with an IDR"


def nal_types(sample: bytes) -> list[int]:
    """NAL unit types of an AVC sample with 4-byte length prefixes."""
    types, pos = [], 0
    while pos + 4 < len(sample):
        size = int.from_bytes(sample[pos : pos + 4], "big")
        types.append(sample[pos + 4] & 0x1F)
        pos += 4 + size
    return types


@pytest.mark.slow
def test_decoded_frames_match_the_source(long_titles: dict) -> None:
    source = frame_times(long_titles["source"])
    assert len(source) == 1800
    work = long_titles["work"]
    for name in ("full", "chunked"):
        title, presentation = long_titles[name]
        for track in presentation.of_kind("video"):
            decoded = frame_times(track_file(title, track, work / f"{name}-{track.id}.mp4"))
            assert decoded == source, f"{name} {track.id}: frames missing, repeated or moved"


@pytest.mark.slow
def test_same_init_segment_from_chunks(long_titles: dict) -> None:
    full_title, full = long_titles["full"]
    chunked_title, _ = long_titles["chunked"]
    for track in full.of_kind("video"):
        init = str(track.init_uri)
        assert (chunked_title / init).read_bytes() == (full_title / init).read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["full", "chunked"])
def test_both_titles_validate(long_titles: dict, name: str) -> None:
    report = validate(long_titles[name][0])
    assert report.ok, report.format_text()


@pytest.mark.slow
def test_join_refuses_chunks_that_do_not_fit(long_titles: dict, tmp_path: Path) -> None:
    parts = long_titles["chunk_files"]
    low, high = parts["v180"], parts["v240"]
    with pytest.raises(PackageError, match="gap of"):
        package_track([low[0], low[2]], tmp_path, "gap")
    with pytest.raises(PackageError, match="overlap of"):
        package_track([low[0], low[1], low[1]], tmp_path, "overlap")
    with pytest.raises(PackageError, match="expected 0"):
        package_track(low[1:], tmp_path, "no-start")
    with pytest.raises(PackageError, match="sample description differs"):
        package_track([low[0], high[1]], tmp_path, "mixed")


def test_failed_chunk_leaves_no_files(tmp_path: Path) -> None:
    source = tmp_path / "missing.mp4"
    plan = chunk_plan(source, 60, [video_rung("v180", 320, 180, 250)])
    with pytest.raises(TranscodeError) as err:
        encode_chunk(plan, Chunk(index=0, start=0, end=18), tmp_path / "out")
    assert (err.value.stage, err.value.path) == ("transcode", str(source))
    # FFmpeg's exit status for a missing input is its own (5.1: 1, 9: 254); the cause is ours.
    code, _, cause = err.value.cause.partition(": ")
    assert re.fullmatch(r"ffmpeg exited with code [1-9][0-9]*", code)
    assert cause == f"{source}: No such file or directory"
    assert not list((tmp_path / "out").iterdir())


# --- frame rates whose frames fall between chunk boundaries -----------------------------------


@pytest.fixture(scope="module")
def ntsc_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 s of 320x180 at 30000/1001: frame 540 is at 18.018 s, the GOP at 34 s has 59 frames."""
    out = tmp_path_factory.mktemp("ntsc") / "ntsc.mp4"
    spec = f"testsrc2=size=320x180:rate={NTSC}:duration=40"
    subprocess.run(
        [*FFMPEG, "-f", "lavfi", "-i", spec, "-c:v", "libx264", "-preset", PRESET, str(out)],
        check=True,
    )
    return out


@pytest.mark.slow
@pytest.mark.parametrize("frame_rate", [NTSC, "30/1"])
def test_chunks_match_one_run_when_frames_straddle_boundaries(
    ntsc_source: Path, frame_rate: str, tmp_path: Path
) -> None:
    media = probe(ntsc_source)  # same rate: no fps filter; 30/1: rate conversion
    rung = video_rung("v", 320, 180, 200, frame_rate=frame_rate)
    plan = chunk_plan(ntsc_source, media.duration, [rung], audio=False)
    chunks = plan_chunks(plan.duration, GOP, SEGMENT, CHUNK)
    assert [c.start for c in chunks] == [0, 18]
    full = transcode(plan, tmp_path / "full", media=media, preset=PRESET)["v"]
    parts = encode_chunks(plan, chunks, tmp_path / "parts", media=media, preset=PRESET)["v"]

    def timing(samples) -> list[tuple[int, int, bool]]:
        return [(s.decode_time, s.duration, not s.flags & NON_SYNC) for s in samples]

    assert timing(iter_joined_samples(parts)) == timing(iter_samples(full))
