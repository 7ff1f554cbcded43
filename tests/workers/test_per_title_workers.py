"""`vod submit --ladder per-title` on the Celery driver: the trial encodes run as tasks of their
own on the encode queue, the chosen ladder is encoded in chunks, and the quality report of the
chunked encodes is published with the title."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.common import MediaFactory
from tests.support.workers import assert_one_segment_set, make_job_spec

pytestmark = pytest.mark.slow


def test_eager_per_title_job_fans_out_trials_and_reports_quality(
    eager: None, media_factory: MediaFactory, tmp_path: Path
) -> None:
    from pipeline.validate.title import validate
    from workers.app import ENCODE_TASKS
    from workers.canvas import submit
    from workers.jobs import STAGES, get_job

    spec = make_job_spec(media_factory("basic"), tmp_path / "origin", segment_seconds=2.0,
                         chunk_seconds=4.0, ladder="per-title")  # fmt: skip
    assert submit(spec) == "queued"
    job = get_job(spec.job_id)
    assert job.state == "done", job.error
    assert all(job.stages[s].state == "done" for s in STAGES)
    assert "vod.trial" in ENCODE_TASKS
    trials = sorted(p for p in job.parts if p.startswith("trial-"))
    assert trials == ["trial-mobile-0"]  # an 8 s title is tried whole: one window
    assert {"c00000", "c00001"} <= set(job.parts)
    summary = job.summary
    analysis = summary["ladder"]["analysis"]["mobile"]
    assert summary["ladder"]["mode"] == "per-title"
    videos = sorted(
        (r["width"], r["height"]) for r in summary["renditions"] if r["kind"] == "video"
    )
    assert videos == sorted((r["width"], r["height"]) for r in analysis["rungs"])
    title_dir = tmp_path / "origin" / spec.title_id
    report = json.loads((title_dir / "quality.json").read_text())
    assert report == summary["quality"]
    assert {r["name"] for r in report["renditions"]} == {
        r["id"] for r in summary["renditions"] if r["kind"] == "video"
    }
    for r in report["renditions"]:  # both chunks scored: 8 s at every 5th-6th frame
        assert r["frames"] >= 8 * 24 // 6 and 0 < r["vmaf_p5"] <= r["vmaf_mean"] <= 100
    assert validate(title_dir).ok
    assert_one_segment_set(title_dir, summary)
