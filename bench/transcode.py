"""Benchmark: one decode fanned out to every rung vs one FFmpeg process (and decode) per rung,
the cost of scrubbing thumbnails on the one-decode run, and two FFmpeg binaries on that run.

    python bench/transcode.py [--source PATH] [--device-class web] [--preset veryfast]
                              [--rounds N] [--ffmpeg A,B]

Without --source a 1080p30 10 s testsrc2 + sine mezzanine is generated first. Both strategies
encode the same renditions with the same encoder settings (the per-rung runs use
`build_rung_command`, plus one audio-only run); neither makes thumbnails. The thumbnail
overhead compares the one-decode run with and without the plan's thumbnail sets, alternating
the two `--rounds` times and keeping each one's fastest run (this machine is shared: the ratio
of runs made side by side is what to read). `--ffmpeg A,B` (default `ffmpeg,auto`: Debian's
FFmpeg on PATH against VOD_FFMPEG's `auto`, the imageio-ffmpeg wheel's) runs the same
one-decode ladder command with each binary, alternating, `--rounds` times, keeping each one's
fastest, and reports B/A (child CPU from getrusage deltas). The other comparisons run the
binary VOD_FFMPEG names. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.settings import resolve_ffmpeg  # noqa: E402
from pipeline.encode.ffmpeg_cmd import build_rung_command, build_transcode_command  # noqa: E402
from pipeline.encode.transcode import run_ffmpeg  # noqa: E402
from pipeline.media.info import MediaInfo  # noqa: E402
from pipeline.media.plan import AudioRendition, Plan, VideoRung  # noqa: E402

# Apple's H.264 16:9 ladder up to 1080p (one rung per size), kbps.
APPLE_LADDER = [
    (416, 234, 145),
    (640, 360, 365),
    (768, 432, 730),
    (960, 540, 2000),
    (1280, 720, 3000),
    (1920, 1080, 6000),
]


def generate_source(path: Path, seconds: float = 10.0) -> Path:
    """A 1080p30 H.264 + stereo AAC mezzanine, encoded at high quality like a real one."""
    argv = [
        "ffmpeg", "-hide_banner", "-v", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", f"{seconds:g}", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
        "-c:a", "aac", "-b:a", "192k", "-ac", "2", str(path),
    ]  # fmt: skip
    run_ffmpeg(argv, source=str(path), duration=seconds)
    return path


def probe_source(source: Path) -> MediaInfo | None:
    try:
        from pipeline.analysis.probe import probe
    except ImportError:
        return None
    return probe(source)


def make_plan(source: Path, media: MediaInfo | None, device_class: str) -> tuple[Plan, str]:
    """The project's planner when it exists, else the Apple ladder by hand."""
    if media is not None:
        try:
            from pipeline.planning.planner import plan
        except ImportError:
            pass
        else:
            return plan(media, [device_class]), "pipeline.planning.planner"
    duration = media.duration if media else 10.0
    video_index = media.video[0].index if media and media.video else 0
    audio_index = media.audio[0].index if media and media.audio else 1
    rungs = [
        VideoRung(
            name=f"v{h}p{kbps}",
            width=w,
            height=h,
            bitrate_kbps=kbps,
            maxrate_kbps=kbps * 11 // 10,
            bufsize_kbps=kbps * 2,
            frame_rate=media.video[0].frame_rate if media and media.video else "30/1",
            device_classes=[device_class],
        )
        for w, h, kbps in APPLE_LADDER
    ]
    audio = [AudioRendition(name="a-und-aac2", source_index=audio_index, default=True)]
    plan = Plan(
        source=str(source),
        video_source_index=video_index,
        device_classes=[device_class],
        duration=duration,
        video=rungs,
        audio=audio,
    )
    return plan, "hand-built Apple ladder"


def timed(runs: list[list[str]], source: str, duration: float) -> tuple[float, float]:
    """Wall seconds and child CPU seconds (user + system) for running argvs one after another."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for argv in runs:
        run_ffmpeg(argv, source=source, duration=duration)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def binary(name: str) -> tuple[str, str]:
    """`--ffmpeg` entry (a path, a name on PATH or `auto`) -> absolute path and version line.

    An absolute path, so `run_ffmpeg` keeps it (it only swaps a bare `ffmpeg` for VOD_FFMPEG).
    """
    exe = resolve_ffmpeg(name)
    found = shutil.which(exe)
    if found is None:
        raise SystemExit(f"--ffmpeg: {name!r} ({exe}) is not an executable")
    out = subprocess.run(
        [found, "-hide_banner", "-version"], capture_output=True, text=True, check=False
    ).stdout
    version = out.split("\n", 1)[0].removeprefix("ffmpeg version ").split(" ", 1)[0]
    return str(Path(found).resolve()), version


def compare_binaries(
    names: list[str],
    argv: list[str],
    out_dir: Path,
    work: Path,
    src: str,
    duration: float,
    rounds: int,
) -> list[tuple[float, float, str]]:
    """Per binary: the fastest (wall, cpu) of the one-decode command `argv` (writing into
    `out_dir`; here each binary writes into a folder of its own under `work`), and its version.
    The binaries take turns, so a busy spell on the machine hits both alike."""
    exes = [binary(name) for name in names]
    runs: list[list[tuple[float, float]]] = [[] for _ in names]
    for _ in range(max(1, rounds)):
        for k, (exe, _version) in enumerate(exes):
            target = work / f"ffmpeg{k}"
            target.mkdir(exist_ok=True)
            own = [exe, *(_moved(a, out_dir, target) for a in argv[1:])]
            runs[k].append(timed([own], src, duration))
    return [(*min(r), version) for r, (_exe, version) in zip(runs, exes, strict=True)]


def _moved(arg: str, old: Path, new: Path) -> str:
    """An output path under `old` re-rooted under `new` (other arguments unchanged)."""
    path = Path(arg)
    return str(new / path.name) if path.parent == old else arg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="mezzanine to encode (default: generated)")
    parser.add_argument("--device-class", default="web")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each one-decode variant")
    parser.add_argument(
        "--ffmpeg",
        default="ffmpeg,auto",
        help="two FFmpeg binaries A,B to compare on the one-decode run (path, name or auto)",
    )
    args = parser.parse_args(argv)
    binaries = [b.strip() for b in args.ffmpeg.split(",")]
    if len(binaries) != 2 or not all(binaries):
        parser.error("--ffmpeg takes two binaries: A,B")

    with tempfile.TemporaryDirectory(prefix="bench-transcode-") as tmp:
        work = Path(tmp)
        source = args.source or generate_source(work / "src_1080p.mp4")
        media = probe_source(source)
        plan, origin = make_plan(source, media, args.device_class)
        src = str(source)

        thumbs_plan, plan = plan, plan.model_copy(update={"thumbnails": []})
        single_argv, _ = build_transcode_command(
            plan, work / "single", media=media, preset=args.preset
        )
        thumbs_argv, _ = build_transcode_command(
            thumbs_plan, work / "thumbs", media=media, preset=args.preset
        )
        (work / "single").mkdir()
        (work / "thumbs").mkdir()
        plain_runs, thumb_runs = [], []
        for _ in range(max(1, args.rounds)):
            plain_runs.append(timed([single_argv], src, plan.duration))
            if thumbs_plan.thumbnails:
                thumb_runs.append(timed([thumbs_argv], src, plan.duration))
        single_wall, single_cpu = min(plain_runs)
        thumbs_wall, thumbs_cpu = min(thumb_runs) if thumb_runs else (0.0, 0.0)

        (work / "per_rung").mkdir()
        per_rung = [
            build_rung_command(plan, r, work / "per_rung", media=media, preset=args.preset)
            for r in plan.video
        ]
        audio_only = plan.model_copy(update={"video": []})
        if audio_only.audio:
            per_rung.append(
                build_transcode_command(audio_only, work / "per_rung", preset=args.preset)[0]
            )
        rung_wall, rung_cpu = timed(per_rung, src, plan.duration)
        by_binary = compare_binaries(
            binaries, single_argv, work / "single", work, src, plan.duration, args.rounds
        )

    result = {
        "source": src if args.source else "generated testsrc2 1920x1080 30fps",
        "plan": origin,
        "duration_s": round(plan.duration, 3),
        "rungs": [f"{r.width}x{r.height}@{r.bitrate_kbps}k" for r in plan.video],
        "audio": len(plan.audio),
        "preset": args.preset,
        "single_decode_wall_s": round(single_wall, 2),
        "single_decode_cpu_s": round(single_cpu, 2),
        "single_decode_realtime_factor": round(plan.duration / single_wall, 2),
        "per_rung_wall_s": round(rung_wall, 2),
        "per_rung_cpu_s": round(rung_cpu, 2),
        "per_rung_realtime_factor": round(plan.duration / rung_wall, 2),
        "wall_ratio_single_over_per_rung": round(single_wall / rung_wall, 3),
        "cpu_ratio_single_over_per_rung": round(single_cpu / rung_cpu, 3),
        "thumbnails": [f"{t.width}x{t.height}/{t.interval:g}s" for t in thumbs_plan.thumbnails],
        "with_thumbnails_wall_s": round(thumbs_wall, 2),
        "with_thumbnails_cpu_s": round(thumbs_cpu, 2),
    }
    (a_wall, a_cpu, a_version), (b_wall, b_cpu, b_version) = by_binary
    result["ffmpeg"] = {
        "a": binaries[0],
        "a_version": a_version,
        "a_wall_s": round(a_wall, 2),
        "a_cpu_s": round(a_cpu, 2),
        "b": binaries[1],
        "b_version": b_version,
        "b_wall_s": round(b_wall, 2),
        "b_cpu_s": round(b_cpu, 2),
        "wall_ratio_b_over_a": round(b_wall / a_wall, 3),
        "cpu_ratio_b_over_a": round(b_cpu / a_cpu, 3),
        "rounds": max(1, args.rounds),
    }
    if thumbs_wall:
        result["thumbnail_wall_overhead"] = round(thumbs_wall / single_wall - 1, 4)
        result["thumbnail_cpu_overhead"] = round(thumbs_cpu / single_cpu - 1, 4)
    d = plan.duration
    print(f"plan: {origin}; {len(plan.video)} rungs + {len(plan.audio)} audio, {d:g} s")
    print(f"{'strategy':<22}{'wall s':>9}{'cpu s':>9}{'x realtime':>12}")
    for label, wall, cpu in [
        ("single decode", single_wall, single_cpu),
        ("process per rung", rung_wall, rung_cpu),
    ]:
        print(f"{label:<22}{wall:>9.2f}{cpu:>9.2f}{d / wall:>12.2f}")
    wall_ratio, cpu_ratio = single_wall / rung_wall, single_cpu / rung_cpu
    print(f"ratio single/per-rung: wall {wall_ratio:.3f}, cpu {cpu_ratio:.3f} (< 1: single wins)")
    if thumbs_wall:
        print(
            f"single decode + thumbnails: wall {thumbs_wall:.2f} s, cpu {thumbs_cpu:.2f} s; "
            f"overhead wall {100 * (thumbs_wall / single_wall - 1):+.1f} %, "
            f"cpu {100 * (thumbs_cpu / single_cpu - 1):+.1f} % (target: under 5 %)"
        )
    print(f"single decode per binary (fastest of {max(1, args.rounds)}, taking turns):")
    for label, name, (wall, cpu, version) in zip("AB", binaries, by_binary, strict=True):
        print(f"  {label} {name:<12}{version:<30}{wall:>9.2f}{cpu:>9.2f}{d / wall:>12.2f}")
    print(f"ratio B/A: wall {b_wall / a_wall:.3f}, cpu {b_cpu / a_cpu:.3f} (< 1: B is faster)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
