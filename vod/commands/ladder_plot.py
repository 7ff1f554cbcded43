"""The picture of a per-title ladder analysis: every trial encode, the hull and the chosen rungs.

`write_plot(analysis, path)` draws VMAF (at the display size) over bitrate (log scale): one
colour and marker per trial resolution, the upper convex hull as a line, the chosen rungs as
big red points labelled "WxH kbps", and the target VMAF as a dashed line; a 1200x800 PNG.

matplotlib is imported inside the function and drawn through its object API (`Figure` and the
Agg canvas), so neither `pyplot`'s global state nor the process's backend is touched.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.media.quality import LadderAnalysis, RatePoint

DPI = 150
SIZE_PX = (1200, 800)
CHOSEN_COLOUR = "#d62728"  # the chosen rungs; no resolution series uses it
HULL_COLOUR = "#222222"
TARGET_COLOUR = "#555555"
SERIES_COLOURS = [  # tab10 without its red
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
]  # fmt: skip
SERIES_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">"]


def _by_resolution(points: list[RatePoint]) -> list[tuple[tuple[int, int], list[RatePoint]]]:
    groups: dict[tuple[int, int], list[RatePoint]] = {}
    for p in points:
        groups.setdefault((p.width, p.height), []).append(p)
    return [
        (size, sorted(groups[size], key=lambda p: p.kbps))
        for size in sorted(groups, key=lambda s: (s[0] * s[1], s))
    ]


def write_plot(analysis: LadderAnalysis, path: Path) -> None:
    """Write the analysis as a PNG (150 dpi, 1200x800 px) to `path`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(SIZE_PX[0] / DPI, SIZE_PX[1] / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

    for i, ((w, h), pts) in enumerate(_by_resolution([p for p in analysis.points if p.kbps > 0])):
        ax.plot(
            [p.kbps for p in pts],
            [p.vmaf for p in pts],
            linestyle=":",
            linewidth=0.8,
            marker=SERIES_MARKERS[i % len(SERIES_MARKERS)],
            markersize=5,
            color=SERIES_COLOURS[i % len(SERIES_COLOURS)],
            label=f"{w}x{h}",
        )
    hull = sorted((p for p in analysis.hull if p.kbps > 0), key=lambda p: p.kbps)
    if hull:
        ax.plot(
            [p.kbps for p in hull],
            [p.vmaf for p in hull],
            color=HULL_COLOUR,
            linewidth=1.6,
            label="convex hull",
            zorder=3,
        )
    rungs = [r for r in analysis.rungs if r.kbps > 0]
    if rungs:
        ax.scatter(
            [r.kbps for r in rungs],
            [r.predicted_vmaf for r in rungs],
            s=160,
            color=CHOSEN_COLOUR,
            edgecolors="black",
            linewidths=0.8,
            marker="o",
            label="chosen rungs",
            zorder=5,
        )
        for r in rungs:
            ax.annotate(
                f"{r.width}x{r.height} {r.kbps:.0f} kbps",
                (r.kbps, r.predicted_vmaf),
                xytext=(-10, 6),
                textcoords="offset points",
                ha="right",
                fontsize=7,
                color=CHOSEN_COLOUR,
                zorder=6,
            )
    ax.axhline(
        analysis.target_vmaf,
        color=TARGET_COLOUR,
        linestyle="--",
        linewidth=1.0,
        label=f"target VMAF {analysis.target_vmaf:g}",
    )
    if any(p.kbps > 0 for p in analysis.points) or rungs:
        ax.set_xscale("log")
        kbps = FuncFormatter(lambda v, _: f"{v:g}")
        ax.xaxis.set_major_formatter(kbps)
        ax.xaxis.set_minor_formatter(kbps)
        ax.tick_params(axis="x", which="both", labelsize=7)
    ax.set_xlabel("bitrate (kbps, log scale)")
    ax.set_ylabel(f"VMAF at {analysis.display_width}x{analysis.display_height}")
    ax.set_title(f"{Path(analysis.source).name}: per-title ladder, {analysis.device_class}")
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
