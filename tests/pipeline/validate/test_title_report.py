"""`vod validate` on a clean packaged title: no violations, measured stats, report formats,
locally and over HTTP."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pipeline.media.presentation import Track
from pipeline.validate.title import validate
from tests.support.requirements import requires
from tests.support.validate_titles import codes

pytestmark = requires(shutil.which("ffmpeg"), "FFmpeg", "run scripts/setup.sh (apt package ffmpeg)")


def test_good_title_has_no_violations_and_measured_stats(good: tuple[Path, list[Track]]) -> None:
    title, tracks = good
    report = validate(title)
    assert report.violations == [], report.format_text()
    assert report.ok and report.decoded
    assert sorted(report.manifests) == ["manifest.mpd", "master.m3u8"]
    assert set(report.stats) == {"v180", "v144", "aud"}
    for t in tracks[:3]:
        # independently: file sizes on disk, durations from the packager's own numbers
        sizes = [os.path.getsize(title / s.uri) for s in t.segments]
        secs = [s.duration / t.timescale for s in t.segments]
        s = report.stats[t.id]
        assert s.kind == t.kind and s.codecs == t.codecs and s.timescale == t.timescale
        assert s.segment_count == len(t.segments) == 3
        assert s.duration == pytest.approx(sum(secs))
        assert s.peak_bitrate == round(max(n * 8 / d for n, d in zip(sizes, secs, strict=True)))
        assert s.average_bitrate == round(sum(sizes) * 8 / sum(secs))
        assert s.peak_bitrate == t.bandwidth and s.complete
    assert report.stats["v180"].frame_duration == pytest.approx(1 / 30)


def test_each_manifest_alone_and_report_formats(good: tuple[Path, list[Track]]) -> None:
    title, _ = good
    for name in ("master.m3u8", "manifest.mpd"):
        report = validate(title / name, decode=False)
        assert report.ok, report.format_text()
        assert report.manifests == [name] and not report.decoded
        assert set(report.stats) == {"v180", "v144", "aud"}
    data = json.loads(report.to_json())
    assert data["ok"] is True and data["violations"] == []
    assert data["stats"]["aud"]["segment_count"] == 3
    assert report.format_text().endswith("OK (segments not decoded)")


def test_target_that_is_not_a_title(tmp_path: Path) -> None:
    assert codes(validate(tmp_path / "nope")) == {"target.invalid"}
    assert codes(validate(tmp_path)) == {"target.invalid"}
    (tmp_path / "notes.txt").write_text("hello")
    assert codes(validate(tmp_path / "notes.txt")) == {"target.invalid"}


def test_validation_over_http(
    good: tuple[Path, list[Track]], http_root: tuple[str, Path, list[str]]
) -> None:
    title, _ = good
    base, root, requested = http_root
    shutil.copytree(title, root / "good")
    local = validate(title, decode=False)

    report = validate(f"{base}/good/master.m3u8")
    assert report.ok, report.format_text()
    assert report.manifests == ["master.m3u8"] and report.decoded
    assert report.stats == {k: v for k, v in local.stats.items()}
    assert "/good/v180/3.m4s" in requested

    both = validate(f"{base}/good/", decode=False)
    assert both.ok and sorted(both.manifests) == ["manifest.mpd", "master.m3u8"]
    assert both.stats == local.stats
