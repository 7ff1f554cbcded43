"""Packaging real FFmpeg fragmented MP4 into CMAF: structure, timing, bytes and decodability.

Sources are made like the transcoder makes them (same movflags): 13 s of 320x180 at 30 fps with
a 2 s GOP and 2 B-frames, and 13 s of AAC. Expectations are computed here from the files on
disk (sizes, parsed boxes, FFmpeg decodes), never from the Track the packager returns.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from core.errors import PackageError
from pipeline.encode.ffmpeg_cmd import AUDIO_MOVFLAGS, VIDEO_MOVFLAGS
from pipeline.media.presentation import Track
from pipeline.mp4.base import parse_box
from pipeline.mp4.reader import iter_samples, read_init
from pipeline.package.packager import package_track
from tests.support.requirements import requires

ROOT = Path(__file__).resolve().parents[2]
SHAKA = ROOT / "web/node_modules/shaka-packager/bin/packager-linux-x64"
FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
TIMESCALE = 90000
FPS, SECONDS, GOP = 30, 13, 60
FRAMES = FPS * SECONDS
AUDIO_RATE, AAC_FRAME = 48000, 1024


def run(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stderr}"
    return proc.stdout


def encode_video(path: Path, movflags: str) -> Path:
    run([
        *FFMPEG, "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate={FPS}:duration={SECONDS}",
        "-c:v", "libx264", "-preset", "superfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-g", str(GOP), "-keyint_min", str(GOP), "-sc_threshold", "0", "-bf", "2",
        "-flags", "+cgop", "-x264-params", "open-gop=0:scenecut=0",
        "-f", "mp4", "-movflags", movflags, "-video_track_timescale", str(TIMESCALE), str(path),
    ])  # fmt: skip
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("package")


@pytest.fixture(scope="module")
def video_src(work: Path) -> Path:
    return encode_video(work / "video.mp4", VIDEO_MOVFLAGS)


@pytest.fixture(scope="module")
def video_pos_src(work: Path) -> Path:
    """FFmpeg's default B-frame layout: positive composition offsets (first pts > first dts)."""
    return encode_video(work / "video_pos.mp4", "+frag_keyframe+empty_moov+default_base_moof")


@pytest.fixture(scope="module")
def audio_src(work: Path) -> Path:
    path = work / "audio.mp4"
    run([
        *FFMPEG, "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={AUDIO_RATE}:duration=13",
        "-c:a", "aac", "-profile:a", "aac_low", "-b:a", "96k", "-ac", "2",
        "-f", "mp4", "-movflags", AUDIO_MOVFLAGS, "-frag_duration", "2000000", str(path),
    ])  # fmt: skip
    return path


@pytest.fixture(scope="module")
def video(work: Path, video_src: Path) -> tuple[Track, Path]:
    out = work / "title"
    return package_track(video_src, out, "v180"), out / "v180"


@pytest.fixture(scope="module")
def video_pos(work: Path, video_pos_src: Path) -> tuple[Track, Path]:
    out = work / "title_pos"
    return package_track(video_pos_src, out, "v"), out / "v"


@pytest.fixture(scope="module")
def audio(work: Path, audio_src: Path, video) -> tuple[Track, Path, list[float]]:
    track, _ = video
    boundaries = [s.start / track.timescale for s in track.segments]
    out = work / "title"
    packaged = package_track(audio_src, out, "aeng", boundaries=boundaries, language="eng")
    return packaged, out / "aeng", boundaries


# --- helpers that read the output independently ------------------------------------------
def top_boxes(data: bytes) -> list[tuple[int, int, object]]:
    """(offset, size, parsed box) of every top-level box."""
    out, off = [], 0
    while off < len(data):
        box, end = parse_box(data, off)
        out.append((off, end - off, box))
        off = end
    return out


def segment_files(track_dir: Path) -> list[Path]:
    return sorted(track_dir.glob("*.m4s"), key=lambda p: int(p.stem))


def fragments(track_dir: Path):
    """(segment number, moof offset in its file, moof, mdat offset, mdat size) in order."""
    for seg in segment_files(track_dir):
        boxes = top_boxes(seg.read_bytes())
        for i, (off, _, box) in enumerate(boxes):
            if box.box_type == "moof":
                mdat_off, mdat_size, mdat = boxes[i + 1]
                assert mdat.box_type == "mdat"
                yield int(seg.stem), off, box, mdat_off, mdat_size


def nal_types(sample: bytes, length_size: int = 4) -> list[int]:
    types, i = [], 0
    while i < len(sample):
        n = int.from_bytes(sample[i : i + length_size], "big")
        types.append(sample[i + length_size] & 0x1F)
        i += length_size + n
    assert i == len(sample)
    return types


def concat(track_dir: Path, dest: Path) -> Path:
    dest.write_bytes(
        (track_dir / "init.mp4").read_bytes()
        + b"".join(p.read_bytes() for p in segment_files(track_dir))
    )
    return dest


def framemd5(path: Path, *extra: str) -> list[str]:
    out = run([*FFMPEG, "-i", str(path), *extra, "-f", "framemd5", "-"])
    return [line for line in out.splitlines() if line and not line.startswith("#")]


# --- init segment ------------------------------------------------------------------------
def test_init_is_a_cmaf_header(video, video_pos, video_pos_src: Path, audio) -> None:
    assert next(iter_samples(video_pos_src)).composition_offset > 0
    for track_dir, language in ((video[1], "und"), (video_pos[1], "und"), (audio[1], "eng")):
        boxes = [b for _, _, b in top_boxes((track_dir / "init.mp4").read_bytes())]
        assert [b.box_type for b in boxes] == ["ftyp", "moov"]
        assert "cmfc" in [e["brand"] for e in boxes[0].compatible_brands]
        moov = boxes[1]
        traks = moov.find_all("trak")
        assert len(traks) == 1
        assert traks[0].find("tkhd").track_id == 1
        assert traks[0].find("positive_cts") is None
        trex = moov.find_all("mvex/trex")
        assert len(trex) == 1 and trex[0].track_id == 1
        packed = traks[0].find("mdia/mdhd").language
        assert "".join(chr(((packed >> s) & 0x1F) + 0x60) for s in (10, 5, 0)) == language


# --- segments ----------------------------------------------------------------------------
def test_segment_count_and_styp_then_moof(video, audio) -> None:
    for track, track_dir in (video[:2], audio[:2]):
        files = segment_files(track_dir)
        assert [p.name for p in files] == ["1.m4s", "2.m4s", "3.m4s"]
        assert len(track.segments) == 3
        for path, seg in zip(files, track.segments, strict=True):
            types = [b.box_type for _, _, b in top_boxes(path.read_bytes())]
            assert types[:2] == ["styp", "moof"]
            assert types[1:] == ["moof", "mdat"] * ((len(types) - 1) // 2)
            assert seg.size == path.stat().st_size


def test_video_segments_at_multiples_of_six_seconds(video) -> None:
    track, _ = video
    assert [(s.start, s.duration) for s in track.segments] == [
        (0, 6 * TIMESCALE), (6 * TIMESCALE, 6 * TIMESCALE), (12 * TIMESCALE, 1 * TIMESCALE),
    ]  # fmt: skip


def test_tfdt_continuity_and_sequence_numbers(video, audio) -> None:
    for track, track_dir in (video[:2], audio[:2]):
        expected_dts, sequence, starts = 0, 1, {}
        for number, _, moof, _, _ in fragments(track_dir):
            assert moof.find("mfhd").sequence_number == sequence
            tfdt = moof.find("traf/tfdt").base_media_decode_time
            assert tfdt == expected_dts
            starts.setdefault(number, tfdt)
            trun = moof.find("traf/trun")
            tfhd = moof.find("traf/tfhd")
            expected_dts += sum(
                s.get("duration", tfhd.default_sample_duration) for s in trun.samples
            )
            sequence += 1
        assert [s.start for s in track.segments] == [starts[n] for n in sorted(starts)]
        assert sum(s.duration for s in track.segments) == expected_dts


def test_every_segment_and_chunk_starts_with_an_idr(video, video_src: Path) -> None:
    track, track_dir = video
    length_size = (read_init(video_src)[1].find("trak/mdia/minf/stbl/stsd").children[0]
                   .find("avcC").data[4] & 3) + 1  # fmt: skip
    chunks = 0
    for seg in segment_files(track_dir):
        data = seg.read_bytes()
        for _, _, moof, mdat_off, _ in (f for f in fragments(track_dir) if f[0] == int(seg.stem)):
            trun = moof.find("traf/trun")
            flags = [s["flags"] for s in trun.samples]
            assert not flags[0] & 0x10000 and flags[0] >> 24 & 0x3 == 2  # sync, depends on none
            assert all(f & 0x10000 for f in flags[1:])
            first = data[mdat_off + 8 : mdat_off + 8 + trun.samples[0]["size"]]
            assert 5 in nal_types(first, length_size)  # an IDR slice, read from the bitstream
            chunks += 1
    assert chunks == len(track.key_frames) == 7  # one chunk per 2 s GOP in 13 s


def test_first_frame_presents_at_tfdt(video, video_pos) -> None:
    for track_dir in (video[1], video_pos[1]):
        for _, _, moof, _, _ in fragments(track_dir):
            trun = moof.find("traf/trun")
            assert trun.version == 1
            tfdt = moof.find("traf/tfdt").base_media_decode_time
            dts, pts = tfdt, []
            for s in trun.samples:
                pts.append(dts + s["composition_offset"])
                dts += s["duration"]
            assert min(pts) == tfdt == pts[0]
    assert [s.start for s in video_pos[0].segments] == [0, 6 * TIMESCALE, 12 * TIMESCALE]


# --- bytes -------------------------------------------------------------------------------
def test_data_offset_points_at_the_source_sample_bytes(video, video_src: Path) -> None:
    _, track_dir = video
    src_bytes = video_src.read_bytes()
    source = list(iter_samples(video_src))
    assert len(source) == FRAMES
    i = 0
    for number, moof_off, moof, mdat_off, mdat_size in fragments(track_dir):
        data = (track_dir / f"{number}.m4s").read_bytes()
        trun = moof.find("traf/trun")
        assert moof.find("traf/tfhd").flags & 0x020000  # default-base-is-moof
        assert moof_off + trun.data_offset == mdat_off + 8
        pos = moof_off + trun.data_offset
        for s in trun.samples:
            src = source[i]
            assert (
                data[pos : pos + s["size"]]
                == src_bytes[src.file_offset : src.file_offset + src.size]
            )
            assert s["duration"] == src.duration
            pos += s["size"]
            i += 1
        assert pos == mdat_off + mdat_size
    assert i == FRAMES


def test_key_frame_ranges_cover_moof_mdat_header_and_idr(video, video_src: Path) -> None:
    track, track_dir = video
    source = list(iter_samples(video_src))
    src_bytes = video_src.read_bytes()
    sync = [s for s in source if not s.flags & 0x10000]
    assert len(track.key_frames) == len(sync)
    for kf, idr in zip(track.key_frames, sync, strict=True):
        data = (track_dir / f"{kf.segment_number}.m4s").read_bytes()
        moof, end = parse_box(data, kf.offset)
        assert moof.box_type == "moof"
        assert data[end + 4 : end + 8] == b"mdat"
        assert kf.length == (end - kf.offset) + 8 + idr.size
        piece = data[kf.offset : kf.offset + kf.length]
        assert piece.endswith(src_bytes[idr.file_offset : idr.file_offset + idr.size])
        assert kf.start == idr.decode_time
    assert [kf.start for kf in track.key_frames] == [n * 2 * TIMESCALE for n in range(7)]
    assert [kf.duration for kf in track.key_frames] == [2 * TIMESCALE] * 6 + [TIMESCALE]


@pytest.mark.parametrize("flavour", ["negative_cts", "positive_cts"])
def test_decodes_to_identical_frames(request, flavour: str, work: Path) -> None:
    """init + all segments decode to the source's frames: same count, pts and pixels."""
    suffix = "" if flavour == "negative_cts" else "_pos"
    _, track_dir = request.getfixturevalue(f"video{suffix}")
    video_src = request.getfixturevalue(f"video{suffix}_src")
    joined = concat(track_dir, work / f"joined_video{suffix}.mp4")
    count = run([
        "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
        "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(joined),
    ])  # fmt: skip
    assert int(count) == FRAMES
    ours = framemd5(joined, "-map", "0:v", "-pix_fmt", "yuv420p")
    theirs = framemd5(video_src, "-map", "0:v", "-pix_fmt", "yuv420p")
    assert len(ours) == FRAMES
    assert ours == theirs  # same pts, same decoded pixels (md5 of each raw frame)
    assert len({line.rsplit(",", 1)[1] for line in ours}) > FRAMES // 2  # frames really differ


def test_audio_packets_identical_and_segments_follow_boundaries(audio, audio_src, work) -> None:
    track, track_dir, boundaries = audio
    assert boundaries == [0.0, 6.0, 12.0]
    assert len(track.segments) == len(boundaries)
    for seg, b in zip(track.segments, boundaries, strict=True):
        assert seg.start % AAC_FRAME == 0
        assert abs(seg.start - b * AUDIO_RATE) <= AAC_FRAME / 2  # the frame nearest the boundary
    joined = concat(track_dir, work / "joined_audio.mp4")
    ours = [line.rsplit(",", 1)[1] for line in framemd5(joined, "-c", "copy")]
    theirs = [line.rsplit(",", 1)[1] for line in framemd5(audio_src, "-c", "copy")]
    assert ours == theirs and len(ours) == len(list(iter_samples(audio_src)))
    assert (track.codecs, track.channels, track.sample_rate) == ("mp4a.40.2", 2, AUDIO_RATE)


def test_four_second_segments_with_two_second_gop(video_src: Path, work: Path) -> None:
    track = package_track(video_src, work / "title4", "v", segment_seconds=4)
    assert [(s.start, s.duration) for s in track.segments] == [
        (0, 4 * TIMESCALE), (4 * TIMESCALE, 4 * TIMESCALE), (8 * TIMESCALE, 4 * TIMESCALE),
        (12 * TIMESCALE, TIMESCALE),
    ]  # fmt: skip
    assert len(segment_files(work / "title4" / "v")) == 4
    assert [kf.segment_number for kf in track.key_frames] == [1, 1, 2, 2, 3, 3, 4]


def test_bandwidth_from_file_sizes_and_durations(video, audio) -> None:
    for track, track_dir in (video[:2], audio[:2]):
        sizes: dict[int, int] = {}
        ticks: dict[int, int] = {}
        for number, _, moof, _, _ in fragments(track_dir):
            sizes[number] = (track_dir / f"{number}.m4s").stat().st_size
            tfhd, trun = moof.find("traf/tfhd"), moof.find("traf/trun")
            dur = sum(s.get("duration", tfhd.default_sample_duration) for s in trun.samples)
            ticks[number] = ticks.get(number, 0) + dur
        timescale = read_init(track_dir / "init.mp4")[1].find("trak/mdia/mdhd").timescale
        peak = max(sizes[n] * 8 / (ticks[n] / timescale) for n in sizes)
        average = sum(sizes.values()) * 8 / (sum(ticks.values()) / timescale)
        assert track.bandwidth == round(peak)
        assert track.average_bandwidth == round(average)
        assert track.bandwidth >= track.average_bandwidth > 0


def test_video_track_metadata(video, video_src: Path) -> None:
    track, _ = video
    assert track.kind == "video" and track.timescale == TIMESCALE
    assert (track.width, track.height, track.frame_rate) == (320, 180, "30")
    profile = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                   "stream=profile,level", "-of", "csv=p=0", str(video_src)]).strip()  # fmt: skip
    name, level = profile.split(",")
    assert name == "High"
    assert track.codecs == f"avc1.6400{int(level):02x}"


@requires(SHAKA.exists(), "Shaka Packager", "run scripts/setup.sh (npm shaka-packager)")
def test_shaka_packager_agrees(video, video_src: Path, work: Path) -> None:
    """The reference packager cuts the same source at the same times, carries the same sample
    bytes, and reads our init + segments back as one track with every frame."""
    track, track_dir = video
    out = work / "shaka"
    run([
        str(SHAKA), f"in={video_src},stream=video,init_segment={out}/init.mp4,"
        f"segment_template={out}/$Number$.m4s", "--segment_duration", "6",
    ])  # fmt: skip

    def starts_and_payload(directory: Path) -> tuple[list[int], bytes]:
        starts, payload = [], []
        for seg in segment_files(directory):
            boxes = [b for _, _, b in top_boxes(seg.read_bytes())]
            moofs = [b for b in boxes if b.box_type == "moof"]
            starts.append(moofs[0].find("traf/tfdt").base_media_decode_time)
            payload += [b.data for b in boxes if b.box_type == "mdat"]
        return starts, b"".join(payload)

    assert starts_and_payload(track_dir) == starts_and_payload(out)
    joined = concat(track_dir, work / "joined_for_shaka.mp4")
    run([str(SHAKA), f"in={joined},stream=video,output={work / 'reshaka.mp4'}"])
    count = run([
        "ffprobe", "-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets",
        "-of", "csv=p=0", str(work / "reshaka.mp4"),
    ])  # fmt: skip
    assert int(count) == FRAMES


# --- errors ------------------------------------------------------------------------------
def test_truncated_input_raises_package_error_naming_the_file(video_src: Path, work: Path):
    cut = work / "truncated.mp4"
    data = video_src.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(PackageError) as err:
        package_track(cut, work / "title_bad", "v")
    assert str(cut) in str(err.value) and "truncated" in str(err.value)


def test_header_only_input_raises_package_error(video_src: Path, work: Path):
    boxes = top_boxes(video_src.read_bytes())
    first_moof = next(off for off, _, b in boxes if b.box_type == "moof")
    head = work / "header_only.mp4"
    head.write_bytes(video_src.read_bytes()[:first_moof])
    with pytest.raises(PackageError, match="no samples") as err:
        package_track(head, work / "title_bad", "v")
    assert str(head) in str(err.value)


def test_non_fragmented_input_raises_clear_package_error(video_src: Path, work: Path):
    flat = work / "flat.mp4"
    run([*FFMPEG, "-i", str(video_src), "-c", "copy", "-f", "mp4", str(flat)])
    with pytest.raises(PackageError, match="not fragmented") as err:
        package_track(flat, work / "title_bad", "v")
    assert str(flat) in str(err.value)


def test_corrupt_sample_count_raises_package_error(video_src: Path, work: Path):
    data = bytearray(video_src.read_bytes())
    i = data.index(b"trun")
    data[i + 8 : i + 12] = (0x7FFFFFFF).to_bytes(4, "big")  # sample_count
    bad = work / "corrupt.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(PackageError) as err:
        package_track(bad, work / "title_bad", "v")
    assert re.fullmatch(
        rf"\[package\] {re.escape(str(bad))}: cannot package track 'v': trun\.samples: "
        r"sample_count=2147483647 entries of 8 bytes exceed the payload \(\d+ bytes left\)",
        str(err.value),
    ), str(err.value)


def test_output_is_deterministic(video_src: Path, video, work: Path) -> None:
    package_track(video_src, work / "again", "v180")
    digest = lambda d: [hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())]  # noqa: E731
    assert digest(work / "again" / "v180") == digest(video[1])
