"""Per-title ladders, the pure parts: the hull, the rungs chosen on it, the trial grid, the
sample windows, pooling, the ladder settings and the planner taking chosen rungs. The FFmpeg
parts (trials, VMAF, ingest) are in test_per_title_encode.py."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import LadderError, PipelineError
from pipeline.analysis.quality import frame_sizes, percentile, score_windows, vmaf_scores
from pipeline.media.info import MediaInfo, VideoStream
from pipeline.media.quality import ChosenRung, RatePoint, Sample
from pipeline.planning.hull import (
    best_at,
    choose_rungs,
    curve_vmaf,
    encoder_target,
    size_curves,
    upper_hull,
)
from pipeline.planning.ladder import Ladder, load_ladder, load_ladder_file
from pipeline.planning.per_title import (
    bounds,
    choose_samples,
    pool,
    rate_points,
    trial_rungs,
    windows,
)
from pipeline.planning.planner import plan


def _point(w, h, kbps, vmaf, target=None):
    return RatePoint(width=w, height=h, target_kbps=target or round(kbps), kbps=kbps, vmaf=vmaf)


def _family():
    """Three sizes with the classic crossing curves: small wins at low rates, big at high."""
    out = []
    for (w, h), scale in (((640, 360), 300), ((1280, 720), 900), ((1920, 1080), 2000)):
        for kbps in (150, 300, 600, 1200, 2400, 4800, 9600):
            vmaf = (
                100
                * (1 - math.exp(-kbps / scale))
                * (0.88 if w == 640 else 0.96 if w == 1280 else 1)
            )
            out.append(_point(w, h, kbps, round(vmaf, 3)))
    return out


def _is_concave_and_rising(hull):
    for a, b in zip(hull, hull[1:], strict=False):
        assert b.kbps > a.kbps and b.vmaf >= a.vmaf
    for a, b, c in zip(hull, hull[1:], hull[2:], strict=False):
        left = (b.vmaf - a.vmaf) / (b.kbps - a.kbps)
        right = (c.vmaf - b.vmaf) / (c.kbps - b.kbps)
        assert right <= left + 1e-9


def test_hull_is_monotone_and_convex_and_above_every_point():
    points = _family()
    hull = upper_hull(points)
    _is_concave_and_rising(hull)
    for p in points:  # nothing above the hull within its range
        if hull[0].kbps <= p.kbps <= hull[-1].kbps:
            for a, b in zip(hull, hull[1:], strict=False):
                if a.kbps <= p.kbps <= b.kbps:
                    line = a.vmaf + (b.vmaf - a.vmaf) * (p.kbps - a.kbps) / (b.kbps - a.kbps)
                    assert p.vmaf <= line + 1e-9


@given(st.lists(st.tuples(st.integers(50, 20000), st.floats(0, 100)), min_size=1, max_size=30))
def test_hull_of_any_points_is_monotone_and_convex(raw):
    hull = upper_hull([_point(640, 360, k, v) for k, v in raw])
    assert hull
    _is_concave_and_rising(hull)
    assert hull[-1].vmaf == max(v for _, v in raw)


def test_hull_drops_points_after_the_best_quality_and_duplicates():
    points = [_point(640, 360, 100, 40), _point(640, 360, 100, 30), _point(640, 360, 400, 80),
              _point(640, 360, 800, 79)]  # fmt: skip
    assert [(p.kbps, p.vmaf) for p in upper_hull(points)] == [(100, 40), (400, 80)]


def test_curves_are_monotone_and_interpolate_in_log_rate():
    curves = size_curves([_point(640, 360, 100, 50), _point(640, 360, 400, 70),
                          _point(640, 360, 200, 45)])  # fmt: skip
    assert [p.vmaf for p in curves[(640, 360)]] == [50, 50, 70]  # the dip is noise
    curve = curves[(640, 360)]
    assert curve_vmaf(curve, 99) is None  # never extrapolated down
    assert curve_vmaf(curve, 300) == pytest.approx(50 + 20 * math.log(1.5) / math.log(2))
    assert curve_vmaf(curve, 5000) == 70  # saturated above the dearest trial


def test_best_size_switches_up_as_the_rate_grows():
    curves = size_curves(_family())
    assert best_at(curves, 150)[0] == (640, 360)
    assert best_at(curves, 9600)[0] == (1920, 1080)
    assert best_at(curves, 100) is None


def test_rungs_reach_the_target_within_bounds_and_step_down_by_a_jnd():
    rungs = choose_rungs(_family(), target_vmaf=95, step_vmaf=6, min_kbps=150, max_kbps=9600,
                         max_rungs=12)  # fmt: skip
    assert rungs == sorted(rungs, key=lambda r: r.kbps)
    top = rungs[-1]
    assert top.predicted_vmaf >= 95 - 0.05 and top.kbps < 9600
    # 720p reaches 95 at 900 ln 96 = 4108 kbps (log-linear between the 2400 and 4800 kbps
    # trials: a little more), 1080p only at 2000 ln 20 = 5991 kbps
    assert (top.width, top.height) == (1280, 720) and 4108 <= top.kbps <= 4800
    assert rungs[0].kbps == 150  # the floor
    steps = [b.predicted_vmaf - a.predicted_vmaf for a, b in zip(rungs, rungs[1:], strict=False)]
    assert all(s <= 6 + 0.5 for s in steps[1:])  # above the floor rung: one JND apart
    assert all(150 <= r.kbps <= 9600 for r in rungs)
    sizes = [r.width * r.height for r in rungs]
    assert sizes == sorted(sizes)  # never a smaller picture for more bits


def test_cap_stops_the_top_rung_below_the_target():
    rungs = choose_rungs(_family(), target_vmaf=99.5, step_vmaf=6, min_kbps=150, max_kbps=3000,
                         max_rungs=8)  # fmt: skip
    assert rungs[-1].kbps == 3000 and rungs[-1].predicted_vmaf < 99.5


def test_rung_count_is_capped_by_widening_the_steps():
    rungs = choose_rungs(_family(), target_vmaf=95, step_vmaf=2, min_kbps=150, max_kbps=9600,
                         max_rungs=4)  # fmt: skip
    assert len(rungs) == 4 and rungs[0].kbps == 150
    assert choose_rungs([], target_vmaf=95, step_vmaf=6, min_kbps=1, max_kbps=2, max_rungs=3) == []


def test_an_easy_title_gets_a_cheaper_ladder_than_a_hard_one():
    easy = [p.model_copy(update={"kbps": p.kbps / 4}) for p in _family()]
    args = {"target_vmaf": 93, "step_vmaf": 6, "min_kbps": 30, "max_kbps": 9600, "max_rungs": 8}
    hard_top = choose_rungs(_family(), **args)[-1].kbps
    easy_top = choose_rungs(easy, **args)[-1].kbps
    assert easy_top == pytest.approx(hard_top / 4, rel=0.02)


def test_encoder_target_corrects_for_rate_control_undershoot():
    curve = [_point(640, 360, 90, 50, target=100), _point(640, 360, 360, 70, target=400)]
    assert encoder_target(curve, 90) == 100
    assert encoder_target(curve, 180) == 200
    assert encoder_target(curve, 720) == 800  # beyond: the last ratio


def _web_like():
    return Ladder.model_validate({
        "device_class": "web", "max_frame_rate": 60, "profile": "high",
        "rungs": [{"width": 640, "height": 360, "bitrate_kbps": 400},
                  {"width": 1280, "height": 720, "bitrate_kbps": 3000},
                  {"width": 1920, "height": 1080, "bitrate_kbps": 6000}],
        "audio": {"bitrate_kbps": 128},
    })  # fmt: skip


def _media(width=1280, height=720, duration=120.0):
    video = VideoStream(index=0, codec="h264", width=width, height=height, frame_rate="25/1",
                        fps=25.0)  # fmt: skip
    return MediaInfo(path="/in/t.mov", container="mov", duration=duration, size=1, video=[video])


def test_trials_use_the_class_sizes_never_above_the_source_and_its_settings():
    ladder = _web_like()
    fixed = plan(_media(), ["web"], {"web": ladder})
    trials = trial_rungs(fixed, ladder)
    assert {(t.width, t.height) for t in trials} == {(640, 360), (1280, 720)}
    assert len(trials) == 2 * ladder.per_title.rate_points
    low, high = bounds(ladder)
    assert (low, high) == (400, 6000)
    for t in trials:
        assert low <= t.bitrate_kbps <= high
        assert t.maxrate_kbps == round(t.bitrate_kbps * 1.5)
        assert t.frame_rate == "25/1" and t.profile == "high" and t.name.startswith("trial")
    assert len({t.name for t in trials}) == len(trials)


def test_rate_points_are_log_spaced_and_clipped():
    assert rate_points(1280 * 720 * 25, 100, 100_000, 3) == [230, 1030, 4608]
    points = rate_points(640 * 360 * 25, 400, 6000, 4)
    assert points[0] == 400 and points[-1] == 1152 and points == sorted(set(points))
    assert rate_points(100, 400, 6000, 4) == [400]  # a tiny size: just the floor


def test_per_title_settings_are_checked_and_documented_defaults_hold():
    ladder = load_ladder("web")
    assert ladder.per_title.target_vmaf == 95 and ladder.per_title.step_vmaf == 6
    with pytest.raises(ValueError, match="min_kbps 900 must be below max_kbps 800"):
        Ladder.model_validate({**_web_like().model_dump(), "per_title": {"min_kbps": 900,
                               "max_kbps": 800}})  # fmt: skip


def test_bad_per_title_field_names_the_file(tmp_path):
    text = tmp_path / "web.yaml"
    text.write_text(
        "device_class: web\nmax_frame_rate: 30\nprofile: high\n"
        "rungs: [{width: 640, height: 360, bitrate_kbps: 400}]\naudio: {bitrate_kbps: 128}\n"
        "per_title: {target_vmaf: 120}\n"
    )
    with pytest.raises(LadderError, match="per_title.target_vmaf"):
        load_ladder_file(text)


def test_long_titles_are_sampled_by_complexity_short_ones_tried_whole():
    assert choose_samples([], 20.0) == [Sample(start=0, end=20.0)]
    cut = windows(120.0, 2.0)
    assert len(cut) == 60 and cut[0] == Sample(start=0, end=2) and cut[-1].end == 120
    scored = [w.model_copy(update={"complexity": (k * 7) % 30}) for k, w in enumerate(cut)]
    picked = choose_samples(scored, 120.0)
    assert len(picked) == 3 and picked == sorted(picked, key=lambda s: s.start)
    levels = sorted(s.complexity for s in picked)
    assert levels[0] < 10 <= levels[1] < 20 <= levels[2]  # easy, typical and hard


def test_complexity_is_bits_per_pixel_per_frame_of_each_window():
    text = "#tb 0: 1/25\n0, 0, 0, 1, 1000, 0x1\n0, 1, 1, 1, 500, 0x2\n1, 0, 0, 1, 9, 0x3\n" \
           "0, 100, 100, 1, 3000, 0x4\n"  # fmt: skip
    packets = frame_sizes(text, "x")
    assert packets == [(0.0, 1000), (0.04, 500), (4.0, 3000)]
    scored = score_windows([Sample(start=0, end=4), Sample(start=4, end=8)], packets, 100)
    assert [s.complexity for s in scored] == [60.0, 240.0]
    with pytest.raises(PipelineError, match="no time base"):
        frame_sizes("0, 0, 0, 1, 5, 0x1\n", "x")


def test_vmaf_logs_are_read_or_refused_by_name():
    log = '{"frames": [{"metrics": {"vmaf": 90.0}}, {"metrics": {"vmaf": 70.0}}]}'
    assert vmaf_scores(log, "a") == [90.0, 70.0]
    with pytest.raises(PipelineError, match="b: not a libvmaf JSON log"):
        vmaf_scores('{"frame": []}', "b")
    assert percentile([10, 20, 30, 40, 50], 0.05) == pytest.approx(12.0)
    assert percentile([7], 0.05) == 7


def test_pool_weights_windows_by_length():
    ladder = _web_like()
    trials = trial_rungs(plan(_media(), ["web"], {"web": ladder}), ladder)[:1]
    samples = [Sample(start=0, end=4), Sample(start=60, end=62)]
    name = trials[0].name
    points = pool(trials, [{name: (100.0, 90.0)}, {name: (400.0, 60.0)}], samples)
    assert points[0].kbps == 200.0 and points[0].vmaf == 80.0


def test_planner_takes_chosen_rungs_with_the_class_settings():
    chosen = [ChosenRung(width=640, height=360, bitrate_kbps=300, kbps=280, predicted_vmaf=70),
              ChosenRung(width=1280, height=720, bitrate_kbps=1800, kbps=1700,
                         predicted_vmaf=94)]  # fmt: skip
    p = plan(_media(), ["web"], {"web": _web_like()}, per_title={"web": chosen})
    assert [(r.width, r.height, r.bitrate_kbps, r.maxrate_kbps) for r in p.video] == [
        (640, 360, 300, 450), (1280, 720, 1800, 2700)]  # fmt: skip
    assert all(Fraction(r.frame_rate) == 25 for r in p.video)
    with pytest.raises(PipelineError, match="per-title ladder for web is empty"):
        plan(_media(), ["web"], {"web": _web_like()}, per_title={"web": []})


def test_a_cheaper_rung_never_gets_a_bigger_picture_than_a_dearer_one():
    # noisy trials: 720p looks better than 360p at low rates, 360p better at high rates
    points = [_point(640, 360, 200, 40), _point(640, 360, 800, 90), _point(640, 360, 3200, 97),
              _point(1280, 720, 200, 50), _point(1280, 720, 800, 80),
              _point(1280, 720, 3200, 85)]  # fmt: skip
    rungs = choose_rungs(points, target_vmaf=95, step_vmaf=6, min_kbps=200, max_kbps=3200,
                         max_rungs=8)  # fmt: skip
    assert (rungs[-1].width, rungs[-1].height) == (640, 360)
    assert {(r.width, r.height) for r in rungs} == {(640, 360)}
