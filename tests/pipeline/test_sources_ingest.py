"""Delivered mezzanines end to end (issue 13): each generated source is ingested, validates
clean, and the output is measured: sync (flash against beep), where every track ends, which
source track lands in which channel, frame rates. Real FFmpeg, so `slow`."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from fixtures.studio import mono_beep_time
from pipeline.analysis.probe import probe
from pipeline.encode.chunk_encode import encode_chunks
from pipeline.encode.chunks import plan_chunks
from pipeline.encode.transcode import transcode
from pipeline.mp4.reader import iter_samples
from pipeline.package.chunk_join import iter_joined_samples
from pipeline.planning.ladder import Ladder
from pipeline.planning.planner import plan
from pipeline.validate.title import validate
from pipeline.workflow.result import IngestResult
from pipeline.workflow.title import ingest
from tests.support.av_timing import (
    beep_time,
    decoded_pcm,
    decoded_seconds,
    first_loud,
    flash_time,
    joined,
    presentation_start,
)

pytestmark = pytest.mark.slow

AAC_FRAME = 1024 / 48000
FLASH_AT = 2.0


def _ingest(source: Path, origin: Path, title_id: str, **kw) -> IngestResult:
    result = ingest(source, title_id, origin, **{"device_classes": ["mobile"], **kw})
    report = validate(result.title_dir)  # decodes every segment and a few audio frames
    assert report.ok, report.format_text()
    return result


def _track_file(result: IngestResult, track_id: str, tmp: Path) -> Path:
    return joined(result.title_dir / track_id, tmp / f"{result.title_id}-{track_id}.mp4")


def _smallest_video(result: IngestResult, tmp: Path) -> Path:
    video = min(result.presentation.of_kind("video"), key=lambda t: t.height or 0)
    return _track_file(result, video.id, tmp)


@pytest.mark.parametrize(
    ("kind", "languages", "warning"),
    [
        ("dub_long", ["eng", "spa"], "audio #2 (spa) runs 0.757 s past the picture"),
        ("audio_short", ["eng"], "audio #1 (eng) ends 1.500 s before the picture"),
        ("ts_offset", ["eng"], None),  # audio starts 1.4 s after the video
        ("mov_delayed_audio", ["eng"], None),  # an edit list delays the audio by 0.5 s
    ],
)
def test_tracks_are_aligned_to_the_picture(
    media_factory, tmp_path: Path, kind: str, languages: list[str], warning: str | None
) -> None:
    source = media_factory(kind)
    result = _ingest(source, tmp_path / "origin", kind)
    summary = result.summary()
    if warning is None:
        assert "warnings" not in summary
    else:
        (text,) = summary["warnings"]
        assert text.startswith(warning), text
    video = _smallest_video(result, tmp_path)
    flash = presentation_start(video) + flash_time(video, 25)
    assert abs(flash - FLASH_AT) < 0.05
    picture_end = result.plan.duration
    audio = result.presentation.of_kind("audio")
    assert [a.language for a in audio] == languages
    for track in audio:
        path = _track_file(result, track.id, tmp_path)
        start = presentation_start(path)
        beep = start + beep_time(path)
        assert abs(beep - flash) < AAC_FRAME, (track.id, beep, flash)  # in sync
        end = start + decoded_seconds(path)
        assert abs(end - picture_end) < AAC_FRAME, (track.id, end, picture_end)  # ends together


def _channel_beeps(result: IngestResult, track_id: str, tmp: Path) -> list[float | None]:
    path = _track_file(result, track_id, tmp)
    pcm, _ = decoded_pcm(path)
    start = presentation_start(path)
    return [None if t is None else round(start + t, 2) for t in map(first_loud, pcm)]


@pytest.mark.parametrize(("kind", "tracks"), [("mono_mxf", 6), ("mono_mov", 8)])
def test_discrete_mono_tracks_become_5_1_and_stereo(
    media_factory, tmp_path: Path, kind: str, tracks: int
) -> None:
    """Six (MXF, MPEG-2) or eight (MOV, ProRes) mono PCM tracks by the default rule: L R C LFE
    Ls Rs in track order, tracks 7-8 the stereo pair. Track k beeps at 0.5 + 0.5 k s."""
    source = media_factory(kind)
    assert [a.channels for a in probe(source).audio] == [1] * tracks
    result = _ingest(source, tmp_path / "origin", kind, device_classes=["mobile", "tv"])
    assert any("by the default rule" in w for w in result.summary()["warnings"])
    channels = {a.id: a.channels for a in result.presentation.of_kind("audio")}
    assert channels == {"a-und-aac2": 2, "a-und-eac3-6": 6}
    surround = _channel_beeps(result, "a-und-eac3-6", tmp_path)
    assert surround == pytest.approx([mono_beep_time(k) for k in range(6)], abs=0.02)
    stereo = _channel_beeps(result, "a-und-aac2", tmp_path)
    if tracks == 8:  # the Lt Rt pair, not a downmix of the bed
        assert stereo == pytest.approx([mono_beep_time(6), mono_beep_time(7)], abs=0.02)
    else:  # the bed downmixed: L and R lead
        assert stereo == pytest.approx([mono_beep_time(0), mono_beep_time(1)], abs=0.02)


def test_a_channel_map_reorders_and_leaves_out_tracks(media_factory, tmp_path: Path) -> None:
    """The sidecar's map (here through the spec): tracks 1 and 2 swapped, the pair left out."""
    source = media_factory("mono_mov")
    labels = ["R", "L", "C", "LFE", "Ls", "Rs", "-", "-"]
    result = _ingest(source, tmp_path / "origin", "mapped", audio_map=labels)
    assert "warnings" not in result.summary()
    assert any("channel map R L C LFE Ls Rs - -" in n for n in result.plan.notes)
    (stereo,) = result.presentation.of_kind("audio")  # mobile: stereo only
    assert _channel_beeps(result, stereo.id, tmp_path) == pytest.approx(
        [mono_beep_time(1), mono_beep_time(0)], abs=0.02
    )


def _frames(path: Path) -> list[int]:
    return [s.duration for s in iter_samples(path)]


def test_1080i25_is_deinterlaced_to_progressive(media_factory, tmp_path: Path) -> None:
    """A ladder capped at 30 fps keeps the frame rate: one frame per frame."""
    result = _ingest(media_factory("i1080"), tmp_path / "origin", "i1080")
    assert result.plan.deinterlace == "send_frame"
    assert {r["frame_rate"] for r in result.summary()["renditions"] if r["kind"] == "video"} == {
        "25"
    }
    assert len(_frames(_smallest_video(result, tmp_path))) == 100  # 4 s


def test_interlaced_keeps_its_field_rate_where_the_ladder_allows(
    media_factory, tmp_path: Path
) -> None:
    result = _ingest(
        media_factory("interlaced", duration=4), tmp_path / "origin", "i576", device_classes=["web"]
    )
    assert result.plan.deinterlace == "send_field"
    assert any("one frame per field" in n for n in result.plan.notes)
    frames = _frames(_smallest_video(result, tmp_path))
    assert len(frames) == 200 and len(set(frames)) == 1  # 50 fps, constant


def test_variable_frame_rate_comes_out_constant(media_factory, tmp_path: Path) -> None:
    result = _ingest(media_factory("vfr"), tmp_path / "origin", "vfr")
    assert any("variable frame rate" in n for n in result.plan.notes)
    frames = _frames(_smallest_video(result, tmp_path))
    assert len(set(frames)) == 1 and len(frames) == pytest.approx(30 * 8, abs=3)


def _timing(samples) -> list[tuple[int, int, int]]:
    return [(s.decode_time, s.composition_offset, s.duration) for s in samples]


def _one_rung(cap: int) -> dict[str, Ladder]:
    return {
        "test": Ladder.model_validate(
            {"device_class": "test", "max_frame_rate": cap, "profile": "high",
             "rungs": [{"width": 320, "height": 180, "bitrate_kbps": 300}],
             "audio": {"bitrate_kbps": 96}}
        )
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("ts_offset", {"tracks": [["eng", -0.5, 13.5]], "duration": 13}),  # picture shifted
        ("interlaced", {"duration": 13}),  # one frame per field
    ],
)
def test_chunked_encode_matches_the_whole_run(
    media_factory, tmp_path: Path, kind: str, params: dict
) -> None:
    source = media_factory(kind, **params)
    media = probe(source)
    p = plan(media, ["test"], _one_rung(60))
    assert p.video_start > 0 or p.deinterlace == "send_field"
    chunks = plan_chunks(p.duration, p.gop_seconds, p.segment_seconds, 6)
    assert len(chunks) == 2
    video_only = p.model_copy(update={"audio": []})
    full = transcode(video_only, tmp_path / "full", media=media, preset="ultrafast")
    parts = encode_chunks(video_only, chunks, tmp_path / "parts", media=media, preset="ultrafast")
    for rung in p.video:
        whole = _timing(iter_samples(full[rung.name]))
        split = _timing(iter_joined_samples(parts[rung.name]))
        assert split == whole, rung.name
        rate = Fraction(rung.frame_rate)
        assert len(whole) == pytest.approx(float(rate * Fraction(p.duration)), abs=1)
