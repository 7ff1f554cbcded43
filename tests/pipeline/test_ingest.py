"""`vod ingest` end to end: real FFmpeg, our packager, manifests, validation, publication."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from core.errors import PipelineError
from pipeline.validate.title import validate
from pipeline.workflow.title import ingest

pytestmark = pytest.mark.slow

from tests.support.common import run_vod  # noqa: E402
from vod.errors import EXIT_ERROR  # noqa: E402


def test_cli_summary_describes_published_title(sample_title: dict) -> None:
    s = sample_title["summary"]
    assert s["title_id"] == "sample"
    assert Path(s["hls"]).is_file() and Path(s["dash"]).is_file()
    video = [r for r in s["renditions"] if r["kind"] == "video"]
    audio = [r for r in s["renditions"] if r["kind"] == "audio"]
    # 720p source: no rung above the source, several below it.
    assert max(r["height"] for r in video) == 720
    assert len(video) >= 4
    assert all(r["codecs"].startswith("avc1.") for r in video)
    assert [a["language"] for a in audio] == ["eng"]
    assert set(s["timings"]) >= {
        "probe",
        "plan",
        "transcode",
        "package",
        "manifests",
        "validate",
        "publish",
    }
    # Nothing but the title is left on the origin (no staging, no intermediates).
    assert sorted(p.name for p in sample_title["origin"].iterdir()) == ["sample"]
    assert not list(sample_title["dir"].rglob("*.mp4.part"))
    assert not (sample_title["dir"] / ".work").exists()


def test_manifests_parse_and_describe_every_rendition(sample_title: dict) -> None:
    title = sample_title["dir"]
    master = m3u8.load(str(title / "master.m3u8"))
    assert master.is_variant
    video = [r for r in sample_title["summary"]["renditions"] if r["kind"] == "video"]
    assert len(master.playlists) == len(video)
    for pl in master.playlists:
        assert pl.stream_info.resolution and pl.stream_info.frame_rate
        assert "mp4a.40.2" in pl.stream_info.codecs
    assert {m.type for m in master.media} == {"AUDIO", "SUBTITLES"}
    assert len(master.iframe_playlists) == len(video)
    mpd = MPEGDASHParser.parse(str(title / "manifest.mpd"))
    sets = mpd.periods[0].adaptation_sets
    kinds = sorted(a.content_type for a in sets)
    assert kinds == ["audio", "image", "text", "video"]  # image: scrubbing thumbnails
    vset = next(a for a in sets if a.content_type == "video")
    assert len(vset.representations) == len(video)


def test_vod_validate_accepts_the_title(sample_title: dict) -> None:
    proc = run_vod("validate", str(sample_title["dir"]), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["violations"] == []


def test_segments_are_six_seconds_and_start_on_idr(sample_title: dict) -> None:
    title = sample_title["dir"]
    media = m3u8.load(str(title / "v360p365.m3u8"))
    durations = [seg.duration for seg in media.segments]
    assert durations[0] == pytest.approx(6.0, abs=0.04)
    assert sum(durations) == pytest.approx(12.0, abs=0.1)
    # Every segment decodes on its own (with the init segment) and its first frame is a key frame.
    for seg in media.segments:
        data = (title / "v360p365" / "init.mp4").read_bytes() + (title / seg.uri).read_bytes()
        probe = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-select_streams",
                "v",
                "-show_entries",
                "frame=key_frame,pict_type",
                "-of",
                "csv=p=0",
                "-i",
                "-",
            ],
            input=data,
            capture_output=True,
            check=True,
        )
        frames = probe.stdout.decode().split()
        assert frames[0].startswith("1,I"), frames[:3]
        assert len(frames) == round(seg.duration * 30)


@pytest.mark.parametrize(
    "kind,classes",
    [
        ("anamorphic", "mobile"),
        ("rotated", "mobile"),
        ("noaudio", "mobile"),
        ("two_languages", "mobile"),
        ("surround", "tv"),
        ("short", "mobile"),
    ],
)
def test_special_sources_give_valid_titles(
    kind: str, classes: str, media_factory, tmp_path: Path
) -> None:
    source = media_factory(kind)
    result = ingest(source, kind, tmp_path, device_classes=classes.split(","))
    assert validate(result.title_dir).ok
    tracks = result.presentation.tracks
    video = [t for t in tracks if t.kind == "video"]
    audio = [t for t in tracks if t.kind == "audio"]
    top = max(video, key=lambda t: t.width * t.height)
    src = result.media.video[0]
    if kind == "anamorphic":  # square-pixel output at the display aspect ratio
        assert top.width / top.height == pytest.approx(
            src.display_width / src.display_height, rel=0.02
        )
        assert top.width != src.width or top.height != src.height
    if kind == "rotated":  # a phone clip stays portrait
        assert all(t.height > t.width for t in video)
    if kind == "noaudio":
        assert audio == []
        assert "mp4a" not in (result.title_dir / "master.m3u8").read_text()
    if kind == "two_languages":
        assert sorted(t.language for t in audio) == ["eng", "fra"]
    if kind == "surround":
        assert sorted(t.channels for t in audio) == [2, 6]
    if kind == "short":
        assert all(len(t.segments) == 1 for t in video)
        assert result.presentation.duration < 6


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        ("zero_byte", re.escape("file is empty (0 bytes)")),
        (
            "truncated",
            r"file is truncated: 'mdat' box at byte \d+ declares \d+ bytes but only \d+ remain "
            r"\(\d+ of \d+ bytes present\)",
        ),
        ("text_as_mov", re.escape("not a media file: no MP4/MOV structure (moov atom not found)")),
        ("no_streams", re.escape("no audio or video streams (found: data)")),
    ],
)
def test_bad_sources_fail_cleanly(kind: str, cause: str, media_factory, tmp_path: Path) -> None:
    source = media_factory(kind)
    before = source.read_bytes()
    origin = tmp_path / "origin"
    proc = run_vod("ingest", str(source), "--title-id", "bad", "--origin", str(origin))
    assert proc.returncode == EXIT_ERROR, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(rf"error: \[probe\] {re.escape(str(source))}: {cause}", lines[0]), lines
    assert source.read_bytes() == before
    assert not (origin / "bad").exists()
    assert not (origin / ".staging").exists()


def test_missing_source_names_the_path(tmp_path: Path) -> None:
    proc = run_vod(
        "ingest", str(tmp_path / "nope.mov"), "--title-id", "x", "--origin", str(tmp_path / "o")
    )
    assert proc.returncode == EXIT_ERROR
    assert proc.stderr == f"error: [probe] {tmp_path / 'nope.mov'}: file not found\n"


@pytest.mark.parametrize("title_id", ["../escape", "a/b", ".hidden", "", "x" * 200])
def test_hostile_title_ids_are_refused(title_id: str, sample_mov: Path, tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="invalid title id"):
        ingest(sample_mov, title_id, tmp_path / "o")
    assert not (tmp_path / "escape").exists()


def test_unusable_origin_is_refused_before_probing(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "origin-file"
    not_a_dir.write_text("")
    with pytest.raises(PipelineError, match="origin is not a directory"):
        ingest(tmp_path / "missing.mov", "t", not_a_dir / "sub")  # the source is never probed
    proc = run_vod("ingest", str(tmp_path / "missing.mov"), "--title-id", "t",
                   "--origin", str(not_a_dir))  # fmt: skip
    assert proc.returncode == EXIT_ERROR
    assert proc.stderr == f"error: [publish] {not_a_dir}: origin is not a directory\n"


def test_failure_mid_pipeline_keeps_previous_title(
    media_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = media_factory("short")
    first = ingest(source, "t", tmp_path, device_classes=["mobile"])
    master_before = (first.title_dir / "master.m3u8").read_text()

    def broken(*args, **kwargs):
        raise PipelineError(source, "simulated packaging failure", stage="package")

    monkeypatch.setattr("pipeline.workflow.packaging.package_track", broken)
    with pytest.raises(PipelineError, match="simulated"):
        ingest(source, "t", tmp_path, device_classes=["mobile"])
    assert (first.title_dir / "master.m3u8").read_text() == master_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]
    monkeypatch.undo()
    again = ingest(source, "t", tmp_path, device_classes=["mobile"])  # retry works
    assert validate(again.title_dir).ok


def test_ingest_records_the_title_in_the_catalogue(
    media_factory, tmp_path: Path, repo_root: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'catalogue.db'}"
    imported = run_vod(
        "catalogue", "--database-url", db, "import", str(repo_root / "fixtures" / "sample.json")
    )
    assert imported.returncode == 0, imported.stderr
    before = json.loads(
        run_vod(
            "catalogue",
            "--database-url",
            db,
            "list",
            "--territory",
            "GB",
            "--at",
            "2026-06-01T00:00:00Z",
            "--json",
        ).stdout
    )
    assert [e["packaged"] for e in before] == [False]
    proc = run_vod(
        "ingest",
        str(media_factory("short")),
        "--title-id",
        "sample",
        "--origin",
        str(tmp_path / "o"),
        "--device-class",
        "mobile",
        "--catalogue-db",
        db,
        "--base-url",
        "https://cdn.example",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["catalogue"] == "created"
    after = json.loads(
        run_vod(
            "catalogue",
            "--database-url",
            db,
            "list",
            "--territory",
            "GB",
            "--at",
            "2026-06-01T00:00:00Z",
            "--json",
        ).stdout
    )
    assert [e["title_id"] for e in after] == ["sample"] and after[0]["packaged"]
    assert after[0]["max_height"] == 360
