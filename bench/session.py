"""Benchmark: playback sessions and licence requests per second, with p50/p99, over loopback.

    python bench/session.py [--requests 2000] [--titles 50] [--concurrency 8]
                            [--server-workers 1] [--admin-url URL] [--redis-url URL]

The subscriber API (catalogue + activation + playback + QoE) runs under uvicorn in a
subprocess on a fresh PostgreSQL database (`vod_bench_<hex>`, dropped afterwards) and Redis
(a key prefix of its own, deleted afterwards). Set-up: N titles with GB SVOD rights and a
presentation (KIDs from a private key store; no media needed), requests/4 Premium customers
(4 streams each) activated through the API, one ClearKey desktop each. Then, on the same
requests and the same `--concurrency` keep-alive client threads:

- POST /entitlements: the decision alone (the baseline);
- POST /playback/v1/sessions: decision + stream slot (Redis Lua) + signed CDN URLs + record;
- POST .../license: credential check + slot renewal + key-store lookup + JWK licence;
- POST .../heartbeat, and CMCD event reports (one line each) to /qoe/v1/cmcd.

Prints per-second throughput, p50/p99 latency and server/client CPU per request, the ratios to
the baseline in the same run, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402
from loopback import AUTH, http_phase, over_http, start_server  # noqa: E402

from catalogue import db, store  # noqa: E402
from catalogue.importer import import_file  # noqa: E402
from drm.keys import kid_uuid  # noqa: E402
from drm.keystore import LocalKeyStore  # noqa: E402
from drm.signalling.clearkey import license_request  # noqa: E402

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
DEVICES = "/tmf-api/subscriber/v1/device"
SESSIONS = "/playback/v1/sessions"
LADDER = [(416, 234), (640, 360), (960, 540), (1280, 720), (1920, 1080)]


def setup_catalogue(url: str, titles: int, keys: LocalKeyStore, work: Path) -> list[str]:
    ids = [f"bench-{i:04d}" for i in range(titles)]
    rights = work / "rights.json"
    engine = db.setup(url)
    for tid in ids:
        rights.write_text(
            json.dumps(
                {
                    "title_id": tid,
                    "windows": [
                        {
                            "territory": "GB",
                            "license_type": "SVOD",
                            "tier": "basic",
                            "format_profile": "HD",
                            "start": "2026-01-01",
                            "end": None,
                        }
                    ],
                }
            )
        )
        kids = {lb: kid_uuid(k.kid) for lb, k in keys.keys_for(tid, ["AUDIO", "SD", "HD"]).items()}
        renditions = [
            {
                "id": f"v{h}p",
                "kind": "video",
                "codecs": "avc1.64001f",
                "width": w,
                "height": h,
                "bandwidth": h * 4000,
            }
            for w, h in LADDER
        ]
        renditions.append({"id": "a-en", "kind": "audio", "codecs": "mp4a.40.2"})
        summary = {
            "title_id": tid,
            "hls": "master.m3u8",
            "dash": "manifest.mpd",
            "renditions": renditions,
            "drm": {"scheme": "cbcs", "kids": kids},
        }
        with db.session_scope(engine) as s:
            store.import_windows(s, import_file(rights).windows)
            store.record_presentation(s, tid, summary, "http://cdn.invalid")
    engine.dispose()
    return ids


def activate(base: str, customers: list[str], concurrency: int) -> float:
    def one(customer: str) -> None:
        with httpx.Client(base_url=base, timeout=60, headers=AUTH) as c:
            body = {"customerId": customer, "territory": "GB", "productOffering": {"id": "premium"}}
            order = c.post(ORDERS, json=body).json()
            assert order["state"] == "completed", order
            dev = {
                "customerId": customer,
                "deviceId": "desk",
                "drmSystem": "clearkey",
                "securityLevel": "ClearKey",
                "deviceClass": "desktop",
            }
            assert c.post(DEVICES, json=dev).status_code == 201

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, customers))
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> dict[str, Any]:
    admin = args.admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"vod_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = "postgresql+psycopg://" + admin.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    prefix = f"vodbench-{uuid.uuid4().hex[:8]}:"
    r = redis.Redis.from_url(args.redis_url)
    proc = None
    result: dict[str, Any] = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "server_workers": args.server_workers,
    }
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            keys = LocalKeyStore(work / "keys.sqlite")
            titles = setup_catalogue(url, args.titles, keys, work)
            env = {
                db.ENV_URL: url,
                "VOD_TOKEN_SECRET": uuid.uuid4().hex,
                "VOD_SESSION_SECRET": uuid.uuid4().hex,
                "VOD_PLAYBACK_REDIS_URL": args.redis_url,
                "VOD_REDIS_PREFIX": prefix,
                "VOD_KEY_STORE": str(work / "keys.sqlite"),
                "VOD_ORIGIN_URL": "https://cdn.example",
                "VOD_HEARTBEAT_TTL": "600",
            }
            proc, base = start_server("api.app:create_app", env, args.server_workers)
            n = args.requests
            customers = [f"bench-c{i:05d}" for i in range((n + 3) // 4 + 2)]
            result["activation_s"] = activate(base, customers, args.concurrency)
            bodies = [
                {
                    "customerId": customers[i // 4],
                    "deviceId": "desk",
                    "titleId": titles[i % len(titles)],
                }
                for i in range(n)
            ]
            ent = [
                {
                    "title_id": b["titleId"],
                    "territory": "GB",
                    "tier": {
                        "name": "premium",
                        "includes": ["basic", "standard"],
                        "max_height": 2160,
                    },
                    "device": {
                        "device_class": "desktop",
                        "registered": True,
                        "security_level": "ClearKey",
                    },
                }
                for b in bodies
            ]

            def post(path: str) -> Any:
                return lambda c, body: c.post(path, json=body)

            # warm-up on the spare customers (not counted, freed afterwards)
            warm = [{"customerId": customers[-1], "deviceId": "desk", "titleId": titles[0]}] * 3
            over_http(base, post("/entitlements"), list(enumerate(ent[:100])), args.concurrency)
            over_http(base, post(SESSIONS), list(enumerate(warm)), 1, expect=(201,))

            phases: dict[str, Any] = {}
            phases["entitlement"], _ = http_phase(
                proc, base, post("/entitlements"), list(enumerate(ent)), args.concurrency
            )
            phases["session"], sessions = http_phase(
                proc,
                base,
                post(SESSIONS),
                list(enumerate(bodies)),
                args.concurrency,
                expect=(201,),
            )
            licences = [
                (
                    s["license"]["url"],
                    license_request(
                        [
                            bytes.fromhex(k.replace("-", ""))
                            for k in s["license"]["policy"]["kids"].values()
                        ]
                    ),
                )
                for s in sessions
            ]
            phases["licence"], answers = http_phase(
                proc,
                base,
                lambda c, item: c.post(item[0], content=item[1]),
                list(enumerate(licences)),
                args.concurrency,
            )
            result["keys_per_licence"] = sum(len(a["keys"]) for a in answers) / len(answers)
            phases["heartbeat"], _ = http_phase(
                proc,
                base,
                lambda c, s: c.post(s["heartbeat"]["url"]),
                list(enumerate(sessions)),
                args.concurrency,
            )
            now = int(time.time() * 1000)
            reports = [
                f'e=t,sid="{s["sessionId"]}",sta=p,msd=700,br=(3000),ts={now}'.encode()
                for s in sessions
            ]
            phases["cmcd"], _ = http_phase(
                proc,
                base,
                lambda c, line: c.post(
                    "/qoe/v1/cmcd", content=line, headers={"Content-Type": "application/cmcd"}
                ),
                list(enumerate(reports)),
                args.concurrency,
                expect=(204,),
            )
            fourth = httpx.post(base + SESSIONS, json=bodies[0], headers=AUTH, timeout=30)
            result["fifth_stream_status"] = fourth.status_code  # Premium: 4 streams each
            result["phases"] = phases
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        for key in r.scan_iter(match=f"{prefix}*"):
            r.delete(key)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return result


def report(r: dict[str, Any]) -> None:
    p = r["phases"]
    base = p["entitlement"]
    print(
        f"\n{r['requests']} requests per path, {r['concurrency']} client threads, "
        f"{r['server_workers']} uvicorn worker(s); activation of the customers took "
        f"{r['activation_s']:.1f} s"
    )
    print(
        f"{'path':42} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x baseline/s':>13} "
        f"{'server CPU ms':>14} {'client CPU ms':>14}"
    )
    rows = [
        ("POST /entitlements (baseline)", "entitlement"),
        ("POST /playback/v1/sessions", "session"),
        ("POST .../license (ClearKey)", "licence"),
        ("POST .../heartbeat", "heartbeat"),
        ("POST /qoe/v1/cmcd (1 report)", "cmcd"),
    ]
    for label, key in rows:
        s = p[key]
        print(
            f"{label:42} {s['per_s']:8,.0f} {s['p50_ms']:8.2f} {s['p99_ms']:8.2f} "
            f"{s['per_s'] / base['per_s']:13.2f} {s['server_cpu_ms']:14.2f} "
            f"{s['client_cpu_ms']:14.2f}"
        )
    print(
        f"keys per licence: {r['keys_per_licence']:.1f} (AUDIO + SD for a ClearKey CDM); "
        f"a fifth stream for a Premium customer: HTTP {r['fifth_stream_status']}"
    )
    print(json.dumps(r, default=str))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=2000, help="requests per path")
    p.add_argument("--titles", type=int, default=50)
    p.add_argument("--concurrency", type=int, default=8, help="HTTP client threads")
    p.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument(
        "--admin-url",
        default=os.environ.get(
            "VOD_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("VOD_BENCH_REDIS", "redis://127.0.0.1:6379/3")
    )
    args = p.parse_args()
    if args.requests < 100:
        p.error("--requests must be at least 100 (p99 needs the samples)")
    report(run(args))


if __name__ == "__main__":
    main()
