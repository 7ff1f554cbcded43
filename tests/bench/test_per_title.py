"""bench/per_title.py: the summary contract, the comparison, the table and the early failure."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bench import per_title
from bench.per_title import (
    BenchError,
    check_cli,
    compare,
    parse_summary,
    render,
    rendition_bytes,
    verdict,
)

FIXED = [  # name, w, h, target kbps, measured kbps, vmaf
    ("v234p145", 416, 234, 145, 150.0, 55.0),
    ("v360p365", 640, 360, 365, 370.0, 70.0),
    ("v540p2000", 960, 540, 2000, 1980.0, 88.0),
    ("v720p3000", 1280, 720, 3000, 2950.0, 93.0),
]


def _summary(rungs: list[tuple[str, int, int, int, float, float]], mode: str) -> dict[str, Any]:
    renditions = [
        {"name": n, "width": w, "height": h, "bitrate_kbps": k, "measured_kbps": m,
         "vmaf_mean": v, "vmaf_p5": v - 4, "frames": 300, "min_vmaf": None}
        for n, w, h, k, m, v in rungs
    ]  # fmt: skip
    ladder: dict[str, Any] = {"mode": mode}
    if mode == "per-title":
        ladder["analysis"] = {}
    return {
        "title_id": "t",
        "renditions": [],
        "quality": {
            "model": "vmaf_v0.6.1",
            "display_width": 1280,
            "display_height": 720,
            "subsample": 1,
            "ladder": mode,
            "renditions": renditions,
        },
        "ladder": ladder,
        "cpu_seconds": {"analysis": 6.0, "transcode": 30.0, "quality": 12.0},
    }


def _per_title_rungs(factor: float) -> list[tuple[str, int, int, int, float, float]]:
    return [(f"pt{i}", w, h, int(k * factor), m * factor, v)
            for i, (_, w, h, k, m, v) in enumerate(FIXED)]  # fmt: skip


def _title(root: Path, names: list[str], size: int) -> Path:
    """A title folder with `size` bytes of media per rendition, plus manifests that don't count."""
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "init.mp4").write_bytes(b"i" * 100)
        (root / name / "seg1.m4s").write_bytes(b"s" * (size - 100))
    (root / "master.m3u8").write_text("#EXTM3U\n")
    (root / "a-und-aac2").mkdir()
    (root / "a-und-aac2" / "seg1.m4s").write_bytes(b"a" * 5000)
    return root


def test_parse_summary_reads_the_quality_contract_and_counts_video_bytes(tmp_path: Path) -> None:
    title = _title(tmp_path / "t", [r[0] for r in FIXED], 1000)
    ladder = parse_summary(_summary(FIXED, "fixed"), title)
    assert ladder.mode == "fixed"
    assert ladder.points == [(150.0, 55.0), (370.0, 70.0), (1980.0, 88.0), (2950.0, 93.0)]
    assert ladder.top["name"] == "v720p3000"
    assert ladder.bytes == 4 * 1000  # audio and manifests left out
    assert ladder.analysis_share == pytest.approx(0.2)


def test_a_summary_without_the_contract_is_a_clear_error() -> None:
    with pytest.raises(BenchError, match="lacks 'quality'"):
        parse_summary({"title_id": "t", "renditions": []})
    broken = _summary(FIXED, "fixed")
    del broken["quality"]["renditions"][0]["vmaf_mean"]
    with pytest.raises(BenchError, match="vmaf_mean"):
        parse_summary(broken)


def test_rendition_bytes_follows_per_format_copies(tmp_path: Path) -> None:
    for parent in ("cenc", "cbcs"):
        (tmp_path / parent / "v1").mkdir(parents=True)
        (tmp_path / parent / "v1" / "seg.m4s").write_bytes(b"x" * 10)
    assert rendition_bytes(tmp_path, ["v1", "v2"]) == 20


def test_compare_and_verdict_on_a_ladder_needing_80_percent_of_the_bits(tmp_path: Path) -> None:
    fixed = parse_summary(_summary(FIXED, "fixed"), _title(tmp_path / "f", [r[0] for r in FIXED],
                                                          1000))  # fmt: skip
    rungs = _per_title_rungs(0.8)
    per = parse_summary(_summary(rungs, "per-title"), _title(tmp_path / "p", [r[0] for r in rungs],
                                                            800))  # fmt: skip
    row = compare("bikes.mp4", fixed, per)
    assert row["bd_rate"] == pytest.approx(-20.0, abs=0.1)
    assert row["bytes_ratio"] == pytest.approx(0.8)
    assert row["top_vmaf_delta"] == 0
    assert row["analysis_share"] == pytest.approx(0.2)

    worse = compare("carphone", fixed, parse_summary(_summary(_per_title_rungs(1.1), "per-title")))
    assert worse["bd_rate"] > 0
    summary = verdict([row, worse], long_share=0.42)
    assert summary["avg_bd_rate"] == pytest.approx((-20.0 + worse["bd_rate"]) / 2, abs=0.01)
    assert summary["targets"] == {
        "avg_bd_rate_le_-20": False,
        "no_clip_bd_rate_gt_0": False,
        "top_vmaf_within_1": True,
        "long_analysis_le_50pct": True,
    }
    assert verdict([row], None)["targets"]["avg_bd_rate_le_-20"] is True
    assert verdict([row], None)["targets"]["long_analysis_le_50pct"] is None
    json.dumps(summary)  # the JSON line


def test_no_common_quality_range_is_reported_not_raised() -> None:
    fixed = parse_summary(_summary(FIXED[:2], "fixed"))
    per = parse_summary(_summary([("x", 1280, 720, 3000, 3000.0, 95.0),
                                  ("y", 1920, 1080, 6000, 6000.0, 97.0)], "per-title"))  # fmt: skip
    row = compare("bbb", fixed, per)
    assert row["bd_rate"] is None and "share no VMAF range" in row["bd_rate_error"]
    one_rung = compare("carphone", fixed, parse_summary(_summary(FIXED[1:2], "per-title")))
    assert "at least 2 points" in one_rung["bd_rate_error"]
    summary = verdict([row, one_rung], None)
    assert summary["targets"]["no_clip_bd_rate_gt_0"] is None
    assert summary["bd_rate_not_measured"] == ["bbb", "carphone"]
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(render([row, one_rung], summary))
    assert "no overlap" in out.getvalue() and "n/a: < 2 rungs" in out.getvalue()


def test_table_shows_each_clip_the_average_and_the_targets() -> None:
    fixed = parse_summary(_summary(FIXED, "fixed"))
    rows = [compare(name, fixed, parse_summary(_summary(_per_title_rungs(f), "per-title")))
            for name, f in [("bigbuckbunny.mp4", 0.7), ("bikes.mp4", 0.8)]]  # fmt: skip
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(render(rows, verdict(rows, 0.6)))
    text = out.getvalue()
    assert "bigbuckbunny.mp4" in text and "bikes.mp4" in text and "average" in text
    assert "-20.0 %" in text and "-30.0 %" in text
    assert "average BD-rate <= -20 %: met" in text
    assert "(60 %): MISSED" in text


def _fake_vod(folder: Path, help_text: str) -> Path:
    folder.mkdir()
    vod = folder / "vod"
    vod.write_text(f"#!/bin/sh\ncat <<'EOF'\n{help_text}\nEOF\n")
    vod.chmod(vod.stat().st_mode | stat.S_IXUSR)
    return vod


def test_without_the_per_title_option_it_fails_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _fake_vod(tmp_path / "old", "Usage: vod ingest [OPTIONS] SOURCE\n  --title-id TEXT")
    with pytest.raises(BenchError, match="no `--ladder per-title`"):
        check_cli(old)
    check_cli(_fake_vod(tmp_path / "new", "  --ladder [fixed|per-title]\n  --quality"))  # landed

    monkeypatch.setattr(per_title, "vod_command", lambda: old)
    monkeypatch.setattr(per_title, "fetch_clips", lambda cache: pytest.fail("fetched clips"))
    assert per_title.main(["--clips", str(tmp_path / "clips")]) == 1
    captured = capsys.readouterr()
    assert "optimiser has not landed" in captured.err
    assert captured.out == ""


FAKE_VOD = '''#!{python}
"""A stand-in `vod` that honours the summary contract (per-title: 0.75x the bits)."""
import json, sys
from pathlib import Path

args = sys.argv[1:]
if "--help" in args:
    print("  --ladder [fixed|per-title]\\n  --quality\\n  --json")
    sys.exit(0)
opt = {{args[i]: args[i + 1] for i in range(2, len(args) - 1) if args[i].startswith("--")}}
mode, factor = opt["--ladder"], (0.75 if opt["--ladder"] == "per-title" else 1.0)
rungs = {rungs!r}
renditions = []
for name, w, h, kbps, measured, vmaf in rungs:
    folder = Path(opt["--origin"]) / opt["--title-id"] / name
    folder.mkdir(parents=True)
    (folder / "1.m4s").write_bytes(b"x" * int(measured * factor))
    renditions.append({{"name": name, "width": w, "height": h, "bitrate_kbps": int(kbps * factor),
                        "measured_kbps": measured * factor, "vmaf_mean": vmaf, "vmaf_p5": vmaf,
                        "frames": 10, "min_vmaf": None}})
ladder = {{"mode": mode}}
if mode == "per-title":
    ladder["analysis"] = {{"web": {analysis!r}}}
print(json.dumps({{"title_id": opt["--title-id"], "renditions": [],
    "quality": {{"display_width": 1280, "display_height": 720, "renditions": renditions}},
    "ladder": ladder, "cpu_seconds": {{"analysis": 3.0, "transcode": 10.0, "quality": 4.0}}}}))
'''


def test_a_full_run_against_a_vod_that_honours_the_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from bench.clips import CLIPS
    from tests.support.ladders import sample_analysis

    vod = tmp_path / "bin" / "vod"
    vod.parent.mkdir()
    analysis = sample_analysis().model_dump()
    vod.write_text(FAKE_VOD.format(python=sys.executable, rungs=FIXED, analysis=analysis))
    vod.chmod(vod.stat().st_mode | stat.S_IXUSR)
    clips = {name: tmp_path / name for name in CLIPS}
    monkeypatch.setattr(per_title, "vod_command", lambda: vod)
    monkeypatch.setattr(per_title, "fetch_clips", lambda cache: clips)

    assert per_title.main(["--plots", str(tmp_path / "plots")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["clip"] for r in result["clips"]] == list(CLIPS)
    assert result["avg_bd_rate"] == pytest.approx(-25.0, abs=0.1)
    assert result["avg_bytes_ratio"] == pytest.approx(0.75, abs=0.01)
    assert result["avg_analysis_share"] == pytest.approx(0.3)
    assert result["targets"]["avg_bd_rate_le_-20"] is True
    assert result["targets"]["long_analysis_le_50pct"] is None  # no --long
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "bigbuckbunny-web.png", "bikes-web.png", "carphone_pristine-web.png"
    ]  # fmt: skip
