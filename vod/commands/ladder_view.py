"""How `vod ladder optimize` shows an analysis: the chosen ladder, the trial points and the
hull as plain-text tables (no colour, so logs and pipes read the same)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table

from pipeline.media.quality import LadderAnalysis
from vod.commands.ingest import StageProgress


@contextmanager
def progress_bar(*, enabled: bool) -> Iterator[Callable[[str, float], None]]:
    """A progress bar on stderr for the analysis (silent with --json or without a terminal)."""
    with StageProgress(enabled=enabled) as report:
        yield report


def format_analysis(a: LadderAnalysis, width: int = 110) -> str:
    """The analysis as plain text."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    console.print(
        f"{a.source}: {a.device_class}, scored at {a.display_width}x{a.display_height} "
        f"(VMAF {a.target_vmaf:g} target, {a.step_vmaf:g}-point steps, "
        f"{a.min_kbps}-{a.max_kbps} kbps)",
        markup=False,
        highlight=False,
    )
    ladder = Table(title="Per-title ladder", title_justify="left")
    for name in ("rung", "size", "encoder kbps", "expected kbps", "predicted VMAF"):
        ladder.add_column(name, justify="left" if name == "size" else "right")
    for k, r in enumerate(a.rungs, start=1):
        ladder.add_row(
            str(k), f"{r.width}x{r.height}", str(r.bitrate_kbps), f"{r.kbps:.0f}",
            f"{r.predicted_vmaf:.2f}",
        )  # fmt: skip
    console.print(ladder)
    on_hull = {(p.width, p.height, p.target_kbps) for p in a.hull}
    points = Table(title="Trial encodes (rate-quality points)", title_justify="left")
    for name in ("size", "target kbps", "kbps", "VMAF", "hull"):
        points.add_column(name, justify="left" if name == "size" else "right")
    for p in sorted(a.points, key=lambda p: (p.width * p.height, p.kbps)):
        hull = "*" if (p.width, p.height, p.target_kbps) in on_hull else ""
        points.add_row(
            f"{p.width}x{p.height}", str(p.target_kbps), f"{p.kbps:.0f}", f"{p.vmaf:.2f}", hull
        )
    console.print(points)
    samples = ", ".join(f"{s.start:g}-{s.end:g} s" for s in a.samples)
    console.print(f"samples: {samples}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"analysis CPU: {a.analysis_cpu_seconds:.1f} s", markup=False, highlight=False)
    for note in a.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    return buffer.getvalue()
