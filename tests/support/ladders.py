"""A hand-made per-title ladder analysis (three sizes of trial encodes, hull, three rungs)."""

from __future__ import annotations

from pipeline.media.quality import ChosenRung, LadderAnalysis, RatePoint, Sample

TRIALS = {  # (w, h): [(kbps, vmaf)]
    (640, 360): [(300, 62.0), (600, 72.0), (1200, 78.0)],
    (1280, 720): [(600, 66.0), (1500, 84.0), (3000, 91.0)],
    (1920, 1080): [(1500, 80.0), (3000, 90.5), (6000, 96.0)],
}


def sample_analysis(rungs: bool = True) -> LadderAnalysis:
    points = [
        RatePoint(width=w, height=h, target_kbps=k, kbps=k * 1.02, vmaf=v)
        for (w, h), pts in TRIALS.items()
        for k, v in pts
    ]
    hull_keys = {(640, 360, 300), (640, 360, 600), (1280, 720, 1500), (1280, 720, 3000),
                 (1920, 1080, 6000)}  # fmt: skip
    hull = [p for p in points if (p.width, p.height, p.target_kbps) in hull_keys]
    chosen = [
        ChosenRung(width=640, height=360, bitrate_kbps=450, kbps=441.0, predicted_vmaf=68.0),
        ChosenRung(width=1280, height=720, bitrate_kbps=1500, kbps=1470.0, predicted_vmaf=84.0),
        ChosenRung(width=1920, height=1080, bitrate_kbps=5200, kbps=5098.0, predicted_vmaf=95.0),
    ]
    return LadderAnalysis(
        source="/media/in/big_buck_bunny.mp4",
        device_class="web",
        display_width=1920,
        display_height=1080,
        samples=[Sample(start=0, end=4, complexity=0.05)],
        points=sorted(points, key=lambda p: p.kbps),
        hull=sorted(hull, key=lambda p: p.kbps),
        rungs=chosen if rungs else [],
        target_vmaf=93.0,
        step_vmaf=6.0,
        min_kbps=200,
        max_kbps=6000,
    )
