"""Per-title ladders and quality reports through FFmpeg 9 and libvmaf: a static card gets a far
cheaper ladder than moving noise, `vod ingest --ladder per-title` publishes the chosen ladder
with a quality report, the report agrees with a direct libvmaf run, and a rendition under its
class's `min_vmaf` fails the title before anything is published."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.errors import PipelineError
from core.settings import ffmpeg_exe
from pipeline.analysis.probe import probe
from pipeline.planning.ladder import load_ladder
from pipeline.workflow.per_title import analyse_class
from pipeline.workflow.title import ingest
from vod.cli import main

pytestmark = pytest.mark.slow

MOTION = "nullsrc=size=640x360:rate=25,geq=lum='random(1)*255':cb=128:cr=128"
CARD = "smptebars=size=640x360:rate=25"


def _source(folder: Path, name: str, lavfi: str, seconds: float = 6.0) -> Path:
    out = folder / f"{name}.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi,
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", f"{seconds:g}",
         "-pix_fmt", "yuv420p", "-c:v", "libx264", "-crf", "12", "-preset", "veryfast",
         "-c:a", "aac", "-b:a", "128k", str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("per-title")
    return {"card": _source(folder, "card", CARD), "motion": _source(folder, "motion", MOTION)}


def test_a_static_card_gets_a_much_cheaper_ladder_than_moving_noise(sources):
    card = analyse_class(probe(sources["card"]), "web")
    motion = analyse_class(probe(sources["motion"]), "web")
    web_sizes = {(416, 234), (640, 360)}  # the web ladder's sizes up to this 640x360 source
    for a in (card, motion):
        assert {(r.width, r.height) for r in a.rungs} <= web_sizes
        assert all(a.min_kbps <= r.kbps <= a.max_kbps for r in a.rungs)
        assert a.samples == [a.samples[0]] and a.samples[0].end == pytest.approx(6.0)
    assert card.rungs[-1].predicted_vmaf >= 95 - 0.05
    assert sum(r.kbps for r in card.rungs) < 0.4 * sum(r.kbps for r in motion.rungs)
    assert card.rungs[-1].kbps < 0.4 * motion.rungs[-1].kbps


def test_ingest_per_title_publishes_the_chosen_ladder_with_its_quality(sources, tmp_path):
    run = CliRunner().invoke(
        main,
        ["ingest", str(sources["card"]), "--title-id", "card", "--origin", str(tmp_path),
         "--ladder", "per-title", "--json"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout)
    analysis = summary["ladder"]["analysis"]["web"]
    assert summary["ladder"]["mode"] == "per-title"
    videos = [r for r in summary["renditions"] if r["kind"] == "video"]
    chosen = sorted((r["width"], r["height"]) for r in analysis["rungs"])
    assert sorted((v["width"], v["height"]) for v in videos) == chosen
    report = json.loads((tmp_path / "card" / "quality.json").read_text())
    assert report == summary["quality"] and report["ladder"] == "per-title"
    top = max(report["renditions"], key=lambda r: r["bitrate_kbps"])
    assert top["vmaf_mean"] >= analysis["rungs"][-1]["predicted_vmaf"] - 3
    assert summary["cpu_seconds"]["analysis"] > 0 and summary["cpu_seconds"]["transcode"] > 0


def _joined(rendition: Path) -> Path:
    """init + every segment of a packaged rendition, as one playable file."""
    out = rendition.parent / f"{rendition.name}.mp4"
    with out.open("wb") as f:
        f.write((rendition / "init.mp4").read_bytes())
        for seg in sorted(rendition.glob("*.m4s"), key=lambda p: int(p.stem)):
            f.write(seg.read_bytes())
    return out


def test_quality_report_agrees_with_a_direct_libvmaf_run(sources, tmp_path):
    ingest(sources["motion"], "m", tmp_path, quality=True)
    report = json.loads((tmp_path / "m" / "quality.json").read_text())
    assert report["ladder"] == "fixed" and report["display_width"] == 640
    entry = min(report["renditions"], key=lambda r: r["bitrate_kbps"])
    joined = _joined(tmp_path / "m" / entry["name"])
    log = tmp_path / "direct.json"
    graph = (
        f"[0:v]scale=640:360:flags=bicubic,setsar=1,format=yuv420p,setpts=PTS-STARTPTS[d];"
        f"[1:v]scale=640:360:flags=bicubic,setsar=1,format=yuv420p,setpts=PTS-STARTPTS[r];"
        f"[d][r]libvmaf=model=version=vmaf_v0.6.1:n_subsample={report['subsample']}"
        f":log_fmt=json:log_path={log}"
    )
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-v", "error", "-i", str(joined), "-i",
         str(sources["motion"]), "-lavfi", graph, "-f", "null", "-"],
        check=True,
    )  # fmt: skip
    direct = json.loads(log.read_text())
    assert len(direct["frames"]) == entry["frames"]
    assert direct["pooled_metrics"]["vmaf"]["mean"] == pytest.approx(entry["vmaf_mean"], abs=0.5)
    assert entry["vmaf_p5"] <= entry["vmaf_mean"]
    assert entry["measured_kbps"] == pytest.approx(entry["bitrate_kbps"], rel=0.35)


def test_a_rendition_under_min_vmaf_fails_the_title_and_nothing_is_published(
    sources, tmp_path, monkeypatch
):
    strict = load_ladder("web").model_copy(update={"min_vmaf": 99.0})
    monkeypatch.setattr("pipeline.workflow.quality.load_ladder", lambda name: strict)
    with pytest.raises(PipelineError) as failed:
        ingest(sources["motion"], "m", tmp_path, quality=True)
    message = str(failed.value)
    assert "quality.floor" in message and "is below min_vmaf 99" in message
    assert "v234p145 (416x234, 145 kbps): VMAF" in message
    assert not (tmp_path / "m").exists()
    assert sources["motion"].is_file()


def test_ladder_optimize_prints_the_ladder_and_draws_the_hull(sources, tmp_path):
    plot = tmp_path / "hull.png"
    run = CliRunner().invoke(
        main, ["ladder", "optimize", str(sources["card"]), "--device-class", "mobile",
               "--plot", str(plot), "--json"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    analysis = json.loads(run.stdout)
    assert analysis["device_class"] == "mobile" and analysis["target_vmaf"] == 93
    assert len(analysis["points"]) == 2 * 4  # the mobile sizes up to 640x360, 4 rates each
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = CliRunner().invoke(main, ["ladder", "optimize", str(sources["card"])])
    assert text.exit_code == 0, text.output
    assert "Per-title ladder" in text.output and "predicted VMAF" in text.output
    missing = CliRunner().invoke(main, ["ladder", "optimize", str(tmp_path / "none.mov")])
    assert missing.exit_code != 0 and "none.mov" in missing.output
    assert "Traceback" not in missing.output
