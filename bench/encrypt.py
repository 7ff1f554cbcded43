"""Benchmark: package + encrypt a 1080p H.264 track (cenc, cbcs) against raw AES and Shaka.

    python bench/encrypt.py [--size-mb 120] [--repeat 3] [--cache DIR]

A 1080p30 H.264 fragmented track of at least --size-mb is generated once (x264 ultrafast at
~40 Mb/s over testsrc2 with grain, so it does not compress to nothing) and cached. Each side
runs in its own subprocess, timed from outside (wall, best of --repeat) with its peak RSS
from wait4(): our packager clear / cenc / cbcs, `cryptography`'s raw AES-128-CTR over the
same bytes, and Shaka Packager packaging the same track with the same scheme (clear_lead 0).
Prints a table and one JSON line. "MB/s" is source megabytes over wall time, except for
raw-ctr where it is over the time spent inside AES alone (its wall includes reading the file).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAKA = ROOT / "web/node_modules/shaka-packager/bin/packager-linux-x64"
KID = bytes.fromhex("0123456789abcdef0123456789abcdef")
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
BITRATE_MBPS = 40
CHUNK = 4 << 20
FRAGMENTED = "+frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets"  # as transcoded
SIDES = ("raw-ctr", "ours-clear", "ours-cenc", "ours-cbcs", "shaka-clear", "shaka-cenc",
         "shaka-cbcs")  # fmt: skip


def generate_source(cache: Path, size_mb: int) -> Path:
    """Cached 1080p30 H.264 fragmented like the transcoder's output, >= size_mb megabytes."""
    path = cache / f"bench-1080p-{size_mb}mb.mp4"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    seconds = math.ceil(size_mb * 8 / BITRATE_MBPS) + 2
    tmp = path.with_suffix(".part")
    argv = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
        "-vf", "noise=alls=12:allf=t", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", f"{BITRATE_MBPS}M",
        "-maxrate", f"{BITRATE_MBPS}M", "-bufsize", f"{2 * BITRATE_MBPS}M",
        "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
        "-f", "mp4", "-movflags", FRAGMENTED, str(tmp),
    ]  # fmt: skip
    subprocess.run(argv, check=True)
    if tmp.stat().st_size < size_mb * 1_000_000:
        raise SystemExit(f"generated only {tmp.stat().st_size / 1e6:.0f} MB; raise the bitrate")
    tmp.rename(path)
    return path


# --- workers (run in a subprocess each) -----------------------------------------------------
def work_raw_ctr(src: Path) -> dict[str, float]:
    """AES-128-CTR over the track's bytes with one encryptor: the ceiling for cenc."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(KEY), modes.CTR(bytes(16))).encryptor()
    buf = bytearray(CHUNK)
    out = bytearray(CHUNK + 16)
    total, spent = 0, 0.0
    with src.open("rb", buffering=0) as f:
        while n := f.readinto(buf):
            t = time.perf_counter()
            enc.update_into(memoryview(buf)[:n], out)
            spent += time.perf_counter() - t
            total += n
    return {"crypto_seconds": spent, "bytes": total}


def work_ours(src: Path, out: Path, scheme: str) -> dict[str, float]:
    from drm.encryption.sample import TrackEncryptor
    from pipeline.package.packager import package_track

    t = time.perf_counter()
    if scheme == "clear":
        package_track(src, out, "v")
    else:
        enc = TrackEncryptor(scheme, KID, KEY)
        package_track(src, out, "v", transform=enc, init_transform=enc.init_transform)
    return {"inner_seconds": time.perf_counter() - t}


def shaka_argv(src: Path, out: Path, scheme: str) -> list[str]:
    argv = [
        str(SHAKA),
        f"in={src},stream=video,init_segment={out}/init.mp4,segment_template={out}/$Number$.m4s",
        "--segment_duration", "6", "--quiet",
    ]  # fmt: skip
    if scheme != "clear":
        argv += ["--enable_raw_key_encryption", "--protection_scheme", scheme, "--clear_lead", "0"]
        argv += ["--keys", f"label=:key_id={KID.hex()}:key={KEY.hex()}"]
    return argv


def run_side(side: str, src: Path, scratch: Path) -> dict[str, float]:
    """One timed run in a fresh process: wall seconds, peak RSS (MB), worker's own figures."""
    out = scratch / side
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    kind, _, scheme = side.partition("-")
    if kind == "shaka":
        argv = shaka_argv(src, out, scheme)
    else:
        argv = [sys.executable, __file__, "--worker", side, "--source", str(src), "--out", str(out)]
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    stdout, stderr = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{side} failed ({proc.returncode}):\n{stderr.decode()[-2000:]}")
    result = {"wall_seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024}
    if kind != "shaka":
        result.update(json.loads(stdout.decode().strip().splitlines()[-1]))
    result["output_mb"] = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    shutil.rmtree(out, ignore_errors=True)
    return result


def worker(side: str, src: Path, out: Path) -> None:
    scheme = side.split("-", 1)[1]
    result = work_raw_ctr(src) if side == "raw-ctr" else work_ours(src, out, scheme)
    print(json.dumps(result))


# --- report ---------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=120)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vod-bench")
    ap.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    ap.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.source, args.out)
        return

    src = generate_source(args.cache, args.size_mb)
    size = src.stat().st_size
    sides = [s for s in SIDES if not s.startswith("shaka") or SHAKA.exists()]
    if len(sides) < len(SIDES):
        print("Shaka Packager not found (run `bash scripts/setup.sh`): skipping it")
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-encrypt-") as tmp:
        for _ in range(max(1, args.repeat)):
            for side in sides:
                r = run_side(side, src, Path(tmp))
                if side not in best or r["wall_seconds"] < best[side]["wall_seconds"]:
                    best[side] = r

    mb = size / 1e6
    raw_mbps = best["raw-ctr"]["bytes"] / 1e6 / best["raw-ctr"]["crypto_seconds"]
    print(f"source: {src} ({mb:.1f} MB, 1080p30 H.264)")
    print(f"{'side':<12} {'wall s':>8} {'MB/s':>8} {'inner s':>8} {'peak RSS MB':>12}")
    for side, r in best.items():
        seconds = r.get("crypto_seconds", r["wall_seconds"])
        inner = r.get("inner_seconds", r.get("crypto_seconds", float("nan")))
        print(
            f"{side:<12} {r['wall_seconds']:>8.2f} {mb / seconds:>8.0f} {inner:>8.2f} "
            f"{r['peak_rss_mb']:>12.0f}"
        )
    summary: dict[str, object] = {"source_mb": round(mb, 1), "raw_ctr_mbps": round(raw_mbps)}
    for scheme in ("cenc", "cbcs"):
        ours = best[f"ours-{scheme}"]
        ours_mbps = mb / ours["wall_seconds"]
        summary[f"{scheme}_mbps"] = round(ours_mbps)
        summary[f"{scheme}_vs_raw_ctr"] = round(ours_mbps / raw_mbps, 3)
        summary[f"{scheme}_peak_rss_mb"] = round(ours["peak_rss_mb"])
        vs_raw_wall = best["raw-ctr"]["wall_seconds"] / ours["wall_seconds"]
        summary[f"{scheme}_vs_raw_ctr_process"] = round(vs_raw_wall, 3)
        line = (
            f"{scheme}: {ours_mbps:.0f} MB/s = {ours_mbps / raw_mbps:.1%} of raw AES-CTR "
            f"({vs_raw_wall:.0%} of the raw-ctr process: read + encrypt + start-up)"
        )
        if f"shaka-{scheme}" in best:
            ratio = ours["wall_seconds"] / best[f"shaka-{scheme}"]["wall_seconds"]
            summary[f"{scheme}_vs_shaka_wall"] = round(ratio, 2)
            summary[f"shaka_{scheme}_peak_rss_mb"] = round(best[f"shaka-{scheme}"]["peak_rss_mb"])
            line += f", {ratio:.2f}x Shaka Packager's wall time"
        print(line)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
