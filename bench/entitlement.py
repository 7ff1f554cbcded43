"""Benchmark: entitlement decisions and browse through the HTTP API on PostgreSQL at scale.

    python bench/entitlement.py [--titles 100000] [--territories 30] [--requests 4000]
                                [--concurrency 8] [--server-workers 1] [--admin-url URL] [--keep]

Loads N titles x T territories of windows (one per title and territory: SVOD / TVOD / EST /
AVOD, past, open and future, some open-ended) plus a presentation for 90 % of the titles into
a fresh PostgreSQL database (`vod_bench_<hex>`, dropped afterwards) with COPY. Then measures,
on the same random requests:

- `decide()` alone on inputs already in memory (the baseline: the rule set's cost);
- store + decide in-process (SQLAlchemy reads of one title's windows and presentation);
- POST /entitlements over HTTP on 127.0.0.1 (uvicorn in a subprocess, `--concurrency` client
  threads with keep-alive), checked to agree with the in-process decisions;
- GET /catalogue (100 titles a page from a random cursor) in-process and over HTTP.

Prints a table of throughput and p50/p99 latency with ratios against the baseline, the CPU the
server (from /proc) and the client spent per HTTP request (both share the machine's cores, so
throughput is bounded by their sum), then one JSON line. PostgreSQL must be reachable at
--admin-url (default 127.0.0.1:5432, user postgres).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import loopback  # noqa: E402
import psycopg  # noqa: E402
from loopback import http_phase, over_http, stats, timed  # noqa: E402

from catalogue import db, store  # noqa: E402
from catalogue.entitlement import (  # noqa: E402
    Device,
    DeviceClass,
    EntitlementRequest,
    Purchase,
    SecurityLevel,
    Tier,
    decide,
)

TERRITORIES = ["GB", "US", "JP", "DE", "FR", "IT", "ES", "NL", "SE", "NO", "DK", "FI", "IE",
               "PT", "PL", "AT", "CH", "BE", "CA", "MX", "BR", "AR", "AU", "NZ", "IN", "ZA",
               "KR", "SG", "HK", "TW"]  # fmt: skip
FORMATS = ["SD", "HD", "HD", "UHD"]
DRM_JSON = '{"systems": ["widevine", "playready"], "scheme": "cbcs"}'
NOW = datetime(2025, 6, 1, tzinfo=UTC)
LADDER = (234, 360, 432, 540, 720, 1080, 2160)
TIERS = ("basic", "standard", "premium")


# -- data ----------------------------------------------------------------------------------


def _copy(cur: psycopg.Cursor, table: str, columns: str, rows: Any) -> int:
    n = 0
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def _window_rows(titles: int, territories: list[str], rng: random.Random):
    for i in range(titles):
        tid = f"t{i:07d}"
        for terr in territories:
            r = rng.random()
            lt = "SVOD" if r < 0.6 else "TVOD" if r < 0.85 else "EST" if r < 0.95 else "AVOD"
            start = NOW - timedelta(days=rng.randint(-60, 700))
            end = None if rng.random() < 0.3 else start + timedelta(days=rng.randint(30, 900))
            tier = rng.choice(TIERS) if lt == "SVOD" else None
            rent = (48, 720) if lt == "TVOD" else (None, None)
            yield (tid, f"md:alid:{tid}", terr, "[]", lt, rng.choice(FORMATS),
                   False, start, end, tier, "3.99" if lt != "SVOD" else None,
                   "GBP" if lt != "SVOD" else None, rent[1], rent[0], '["en"]')  # fmt: skip


def _presentation_rows(titles: int, rng: random.Random):
    for i in range(titles):
        if rng.random() >= 0.9:
            continue
        tid = f"t{i:07d}"
        top = rng.choice((720, 1080, 1080, 2160))
        renditions = [
            {
                "id": f"v{h}",
                "kind": "video",
                "codecs": "avc1.640028",
                "height": h,
                "width": h * 16 // 9,
                "bandwidth": h * 5000,
            }
            for h in LADDER
            if h <= top
        ]
        renditions.append({"id": "a-en", "kind": "audio", "codecs": "mp4a.40.2", "language": "en"})
        manifests = {"hls": f"https://cdn.example/vod/{tid}/master.m3u8",
                     "dash": f"https://cdn.example/vod/{tid}/manifest.mpd"}  # fmt: skip
        kids = {lb: str(uuid.UUID(int=i * 4 + n)) for n, lb in enumerate(("AUDIO", "SD", "HD"))}
        yield (tid, json.dumps(manifests), json.dumps(renditions), json.dumps(kids),
               DRM_JSON, 5400.0, top, NOW)  # fmt: skip


def load(url: str, titles: int, territories: list[str], seed: int) -> dict[str, float]:
    """COPY titles, windows and presentations; returns rows and seconds per table."""
    rng = random.Random(seed)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    out: dict[str, float] = {}
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        t = time.perf_counter()
        titles_rows = ((f"t{i:07d}", f"Title {i}", "movie") for i in range(titles))
        out["titles"] = _copy(cur, "titles", "id, name, kind", titles_rows)
        cols = ("title_id, alid, territory, territories_excluded, license_type, format_profile, "
                "hdr, starts_at, ends_at, tier, srp, currency, rental_duration_hours, "
                "watch_duration_hours, languages")  # fmt: skip
        out["windows"] = _copy(cur, "windows", cols, _window_rows(titles, territories, rng))
        pcols = "title_id, manifests, renditions, kids, drm, duration, max_height, updated_at"
        out["presentations"] = _copy(cur, "presentations", pcols, _presentation_rows(titles, rng))
        conn.commit()
        out["copy_s"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
        out["analyze_s"] = time.perf_counter() - t
    return out


# -- requests ------------------------------------------------------------------------------


def make_requests(n: int, titles: int, territories: list[str], seed: int) -> list[dict]:
    """Entitlement request bodies: mostly licensed territories, some not, varied devices."""
    rng = random.Random(seed + 1)
    out = []
    for _ in range(n):
        tid = f"t{rng.randrange(titles):07d}"
        purchases = []
        if rng.random() < 0.3:
            purchases.append({"title_id": tid, "license_type": rng.choice(["TVOD", "EST"]),
                              "purchased_at": (NOW - timedelta(hours=rng.randint(1, 100)))
                              .isoformat()})  # fmt: skip
        out.append({
            "title_id": tid,
            "territory": rng.choice(territories) if rng.random() < 0.95 else "ZW",
            "tier": {"name": rng.choice(TIERS), "includes": ["basic"],
                     "max_height": rng.choice((720, 1080, 2160))},
            "device": {"device_class": rng.choice([d.value for d in DeviceClass]),
                       "registered": rng.random() < 0.97,
                       "security_level": rng.choice([s.value for s in SecurityLevel])},
            "purchases": purchases,
            "at": NOW.isoformat(),
        })  # fmt: skip
    return out


def _request_of(body: dict) -> tuple[EntitlementRequest, list[Purchase]]:
    req = EntitlementRequest(
        title_id=body["title_id"],
        territory=body["territory"],
        tier=Tier(**body["tier"]),
        device=Device(**body["device"]),
    )
    return req, [Purchase(**p) for p in body["purchases"]]


def _summary(body: dict) -> tuple:
    return body["allowed"], body.get("reason"), body.get("max_height")


# -- measurement ---------------------------------------------------------------------------


def start_server(url: str, workers: int) -> tuple[subprocess.Popen, str]:
    return loopback.start_server("api.app:create_app", {db.ENV_URL: url}, workers)


def post_json(path: str) -> loopback.Send:
    return lambda client, body: client.post(path, json=body)


def get_params(path: str) -> loopback.Send:
    return lambda client, params: client.get(path, params=params)


def run(args: argparse.Namespace) -> dict[str, Any]:
    territories = TERRITORIES[: args.territories]
    admin = args.admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"vod_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = "postgresql+psycopg://" + admin.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    result: dict[str, Any] = {"titles": args.titles, "territories": len(territories)}
    proc = None
    try:
        engine = db.setup(url)
        print(f"loading {args.titles} titles x {len(territories)} territories into {name} ...",
              flush=True)  # fmt: skip
        result["load"] = load(url, args.titles, territories, args.seed)
        bodies = make_requests(args.requests, args.titles, territories, args.seed)

        # store + decide, in-process (also gathers inputs for the pure baseline)
        sessions = db.read_session_factory(engine)  # as the API reads
        inputs: list[tuple] = []

        def store_decide(body: dict) -> tuple:
            with sessions() as s:
                got = store.entitlement_inputs(s, body["title_id"], body["territory"])
            assert got is not None
            inputs.append(got)
            req, purchases = _request_of(body)
            d = decide(req, got[0], purchases, got[1], NOW)
            return d.allowed, d.reason, d.max_height

        timed(store_decide, bodies[:100])  # warm-up
        inputs.clear()
        lat, store_out, wall = timed(store_decide, bodies)
        result["store_decide"] = stats(lat, wall)

        prepared = [(*_request_of(b), *inp) for b, inp in zip(bodies, inputs, strict=True)]
        lat, _, wall = timed(lambda p: decide(p[0], p[2], p[1], p[3], NOW), prepared)
        result["decide"] = stats(lat, wall)

        proc, base = start_server(url, args.server_workers)
        indexed = list(enumerate(bodies))
        over_http(base, post_json("/entitlements"), indexed[:200], args.concurrency)  # warm-up
        result["http_decide"], http_out = http_phase(
            proc, base, post_json("/entitlements"), indexed, args.concurrency
        )
        mismatches = sum(_summary(h) != s for h, s in zip(http_out, store_out, strict=True))
        result["http_agrees"] = mismatches == 0
        allowed = sum(1 for h in http_out if h["allowed"])
        result["allowed_share"] = allowed / len(http_out)
        reasons = Counter(h.get("reason") or "allowed" for h in http_out)
        result["outcomes"] = dict(reasons.most_common())

        rng = random.Random(args.seed + 2)
        pages = [
            {"territory": rng.choice(territories), "at": NOW.isoformat(), "limit": 100,
             "after": f"t{rng.randrange(args.titles):07d}"}
            for _ in range(args.browse)
        ]  # fmt: skip

        def browse_local(p: dict) -> int:
            with sessions() as s:
                at = datetime.fromisoformat(p["at"])
                return len(store.browse(s, p["territory"], at, limit=100, after=p["after"]))

        timed(browse_local, pages[:20])
        lat, counts, wall = timed(browse_local, pages)
        result["store_browse"] = stats(lat, wall)
        result["browse_items_mean"] = statistics.fmean(counts)
        numbered = list(enumerate(pages))
        result["http_browse"], _ = http_phase(proc, base, get_params("/catalogue"), numbered, 1)
        result["http_browse_concurrent"], _ = http_phase(
            proc, base, get_params("/catalogue"), numbered, args.concurrency
        )
        engine.dispose()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"kept database {url}")
    return result


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    load = r["load"]
    print(f"\nloaded {load['titles']:.0f} titles, {load['windows']:.0f} windows, "
          f"{load['presentations']:.0f} presentations in {load['copy_s']:.1f} s COPY "
          f"({load['windows'] / load['copy_s']:,.0f} windows/s) + {load['analyze_s']:.1f} s "
          f"VACUUM ANALYZE")  # fmt: skip
    base = r["decide"]
    out = io.StringIO()
    out.write(f"{'path':34} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p50 x decide':>13} "
              f"{'server CPU ms':>14} {'client CPU ms':>14}\n")  # fmt: skip
    rows = [
        ("decide() in-process (baseline)", "decide"),
        ("store + decide in-process", "store_decide"),
        (f"POST /entitlements, {args.concurrency} clients", "http_decide"),
        ("browse in-process (100/page)", "store_browse"),
        ("GET /catalogue, 1 client", "http_browse"),
        (f"GET /catalogue, {args.concurrency} clients", "http_browse_concurrent"),
    ]
    for label, key in rows:
        s = r[key]
        cpu = (f" {s['server_cpu_ms']:14.2f} {s['client_cpu_ms']:14.2f}" if "server_cpu_ms" in s
               else "")  # fmt: skip
        out.write(f"{label:34} {s['per_s']:9,.0f} {s['p50_ms']:8.2f} {s['p99_ms']:8.2f} "
                  f"{s['p50_ms'] / base['p50_ms']:13.0f}{cpu}\n")  # fmt: skip
    print(out.getvalue())
    print(f"HTTP decisions agree with in-process: {r['http_agrees']}; "
          f"allowed {r['allowed_share']:.0%}; outcomes {r['outcomes']}")  # fmt: skip
    http_s = r["http_decide"]["per_s"]
    print(f"throughput HTTP / store+decide: {http_s / r['store_decide']['per_s']:.2f}; "
          f"HTTP / decide(): {http_s / base['per_s']:.3f}")  # fmt: skip
    print(json.dumps(r, default=str))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--titles", type=int, default=100_000)
    p.add_argument("--territories", type=int, default=30, choices=range(1, len(TERRITORIES) + 1),
                   metavar=f"1..{len(TERRITORIES)}")  # fmt: skip
    p.add_argument("--requests", type=int, default=4000, help="entitlement requests per path")
    p.add_argument("--browse", type=int, default=300, help="browse requests per path")
    p.add_argument("--concurrency", type=int, default=8, help="HTTP client threads")
    p.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--admin-url", default=os.environ.get(
        "VOD_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true", help="keep the bench database")
    args = p.parse_args()
    report(run(args), args)


if __name__ == "__main__":
    main()
