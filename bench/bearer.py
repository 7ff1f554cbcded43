"""Benchmark: what bearer-token verification costs per API request.

    python bench/bearer.py [--requests 3000] [--concurrency 8] [--server-workers 1]

Runs the catalogue API twice in this invocation on the same SQLite catalogue (the bundled sample
rights) under the same loopback load of `GET /catalogue?territory=GB`: once with `--no-auth`
(every caller the local operator: the baseline), once verifying an ES256 RFC 9068 token from the
development issuer on every request, as production does. Prints throughput, p50/p99 and
server CPU per request for both, the ratios against the baseline, and the in-process cost of
one `TokenVerifier.verify` call; then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import loopback  # noqa: E402

from auth import dev_issuer  # noqa: E402
from auth.verify import TokenVerifier  # noqa: E402

SAMPLE = ROOT / "fixtures" / "sample.json"
VOD = [sys.executable, "-m", "vod.cli"]


def serve(env: dict[str, str], no_auth: bool) -> tuple[subprocess.Popen, str]:
    port = loopback.free_port()
    cmd = [*VOD, "catalogue", "serve", "--port", str(port)] + (["--no-auth"] if no_auth else [])
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    return proc, loopback.wait_healthy(proc, f"http://127.0.0.1:{port}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    jwks = dev_issuer.init(work / "auth")
    token = dev_issuer.mint(work / "auth", role="operator", issuer="vod-dev", audience="vod-api",
                            ttl=3600)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOD_")}
    env.update({"VOD_DATABASE_URL": f"sqlite:///{work / 'vod.db'}", "VOD_AUTH_JWKS": str(jwks),
                "PYTHONPATH": str(ROOT)})  # fmt: skip
    subprocess.run([*VOD, "catalogue", "import", str(SAMPLE)], env=env, check=True,
                   capture_output=True)  # fmt: skip
    items = list(enumerate(range(args.requests)))
    results = {}
    for name, no_auth in (("no-auth (baseline)", True), ("bearer ES256", False)):
        proc, base = serve(env, no_auth)
        loopback.AUTH.clear()
        if not no_auth:
            loopback.AUTH["Authorization"] = f"Bearer {token}"
        try:
            out, _ = loopback.http_phase(
                proc, base, lambda c, _: c.get("/catalogue", params={"territory": "GB"}),
                items, args.concurrency,
            )  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(10)
        results[name] = out
    verifier = TokenVerifier(str(jwks), issuer="vod-dev", audience="vod-api")
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        verifier.verify(token)
    verify_us = (time.perf_counter() - start) / n * 1e6
    base = results["no-auth (baseline)"]
    print(f"{'mode':22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'srv CPU ms':>10} {'x base':>7}")
    for name, r in results.items():
        print(f"{name:22} {r['per_s']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{r['server_cpu_ms']:10.2f} {r['per_s'] / base['per_s']:7.2f}")  # fmt: skip
    print(f"TokenVerifier.verify in-process: {verify_us:.0f} µs per token")
    print(json.dumps({"results": results, "verify_us": verify_us}))


if __name__ == "__main__":
    main()
