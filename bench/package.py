"""Benchmark: our CMAF packager (`package_track`, clear) against Shaka Packager on one track.

    python bench/package.py [--size-mb 120] [--runs 3] [--profile]

A 1080p H.264 fragmented MP4 of at least --size-mb is generated once with FFmpeg (noisy
testsrc2 at a high bitrate, fragmented like our transcoder's output) and cached in
~/.cache/vod-pipeline/bench. Each packaging run is a fresh subprocess, ours and Shaka's
alternating, so wall time and peak RSS (ru_maxrss from wait4) are measured the same way for
both; ours also reports the time spent inside `package_track` (without interpreter start-up
and imports). Prints a table of medians, the ours/Shaka ratios and one JSON line.
--profile runs `package_track` once under cProfile and prints the hot spots.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAKA = ROOT / "web/node_modules/shaka-packager/bin/packager-linux-x64"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vod-pipeline" / "bench"
BITRATE_MBPS = 40
MOVFLAGS = "+frag_keyframe+empty_moov+default_base_moof"

OURS = """
import sys, time
from pathlib import Path
from pipeline.package.packager import package_track
t0 = time.perf_counter()
track = package_track(Path(sys.argv[1]), Path(sys.argv[2]), "v", segment_seconds=6)
print(time.perf_counter() - t0, len(track.segments))
"""


def generate(size_mb: int) -> Path:
    """A cached 1080p30 H.264 track of at least size_mb MB (2 s GOP, 2 B-frames)."""
    seconds = max(5, round(size_mb * 8 / BITRATE_MBPS * 1.1))
    path = CACHE / f"h264_1080p_{BITRATE_MBPS}M_{seconds}s.mp4"
    if path.exists() and path.stat().st_size >= size_mb * 1e6:
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    argv = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
        "-vf", "noise=alls=12:allf=t", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "60", "-keyint_min", "60",
        "-sc_threshold", "0", "-b:v", f"{BITRATE_MBPS}M", "-maxrate", f"{BITRATE_MBPS}M",
        "-bufsize", f"{BITRATE_MBPS * 2}M",
        "-f", "mp4", "-movflags", MOVFLAGS, str(tmp),
    ]  # fmt: skip
    print(f"generating {path} ({seconds} s at {BITRATE_MBPS} Mb/s) ...", file=sys.stderr)
    subprocess.run(argv, check=True)
    size = tmp.stat().st_size
    if size < size_mb * 1e6:
        tmp.unlink()
        sys.exit(f"generated only {size / 1e6:.0f} MB; raise the bitrate or duration")
    tmp.rename(path)
    return path


def run_wait4(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child, rusage from os.wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"{argv[0]} failed ({proc.returncode}):\n{err.read().decode()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def ours(src: Path, out: Path) -> dict:
    wall, rss, stdout = run_wait4([sys.executable, "-c", OURS, str(src), str(out)])
    inner, segments = stdout.split()
    return {"wall": wall, "inner": float(inner), "rss": rss, "segments": int(segments)}


def shaka(src: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    argv = [
        str(SHAKA),
        f"in={src},stream=video,init_segment={out}/init.mp4,segment_template={out}/$Number$.m4s",
        "--segment_duration",
        "6",
    ]
    wall, rss, _ = run_wait4(argv)
    return {"wall": wall, "inner": wall, "rss": rss, "segments": len(list(out.glob("*.m4s")))}


def output_bytes(out: Path) -> int:
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def profile(src: Path, out: Path, top: int = 25) -> None:
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    from pipeline.package.packager import package_track

    prof = cProfile.Profile()
    prof.enable()
    package_track(src, out, "v", segment_seconds=6)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=120)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--source", type=Path, help="package this track instead of generating one")
    ap.add_argument("--profile", action="store_true", help="cProfile one run of ours")
    args = ap.parse_args(argv)
    if not SHAKA.exists():
        sys.exit(f"{SHAKA} is missing: run `bash scripts/setup.sh`")
    src = args.source or generate(args.size_mb)
    size_mb = src.stat().st_size / 1e6
    with src.open("rb") as f:  # warm the page cache so the first run is not penalised
        while f.read(1 << 24):
            pass

    work = Path(tempfile.mkdtemp(prefix="bench_package_"))
    try:
        if args.profile:
            profile(src, work / "profile")
            return 0
        results: dict[str, list[dict]] = {"ours": [], "shaka": []}
        sizes: dict[str, int] = {}
        for i in range(args.runs):
            for name, fn in (("ours", ours), ("shaka", shaka)):
                out = work / f"{name}{i}"
                r = fn(src, out)
                sizes[name] = output_bytes(out)
                results[name].append(r)
                print(
                    f"run {i + 1} {name:5}: {r['wall']:.2f} s, {r['rss']:.0f} MB", file=sys.stderr
                )
                shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {
        name: {k: statistics.median(r[k] for r in runs) for k in ("wall", "inner", "rss")}
        for name, runs in results.items()
    }
    segs = {name: runs[0]["segments"] for name, runs in results.items()}
    print(f"\nsource: {src} ({size_mb:.1f} MB), median of {args.runs} alternating runs\n")
    print(f"{'packager':<10}{'wall s':>9}{'MB/s':>9}{'in-call s':>11}{'peak RSS MB':>13}"
          f"{'segments':>10}{'out MB':>9}")  # fmt: skip
    for name in ("ours", "shaka"):
        m = med[name]
        print(
            f"{name:<10}{m['wall']:>9.2f}{size_mb / m['wall']:>9.0f}{m['inner']:>11.2f}"
            f"{m['rss']:>13.0f}{segs[name]:>10}{sizes[name] / 1e6:>9.1f}"
        )
    ratio_wall = med["ours"]["wall"] / med["shaka"]["wall"]
    ratio_inner = med["ours"]["inner"] / med["shaka"]["wall"]
    ratio_rss = med["ours"]["rss"] / med["shaka"]["rss"]
    print(
        f"\nours/shaka: wall x{ratio_wall:.2f} (in-call x{ratio_inner:.2f}), "
        f"peak RSS x{ratio_rss:.2f}"
    )
    print(json.dumps({
        "source_mb": round(size_mb, 1), "runs": args.runs,
        "ours": {k: round(v, 3) for k, v in med["ours"].items()},
        "shaka": {k: round(v, 3) for k, v in med["shaka"].items()},
        "ratio_wall": round(ratio_wall, 2), "ratio_in_call": round(ratio_inner, 2),
        "ratio_rss": round(ratio_rss, 2), "segments": segs,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
