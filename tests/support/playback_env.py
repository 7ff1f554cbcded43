"""Shared set-up for the playback tests: a real origin gateway (`vod serve --gateway`), the
subscriber API with playback and QoE on uvicorn, Redis (a key prefix per environment), and two
kinds of title: the bundled sample encrypted with ClearKey (cbcs), and `ladder4k`/`ladderhd`, a
hand-written manifest pair with renditions from 234p to 2160p (no media), licensed in UHD and
in HD, for the tier, rights, device and DRM caps.

    from tests.support.playback_env import PlaybackEnv, start_env  # noqa: F401
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_lib
from fastapi import FastAPI

from api.app import create_app
from catalogue import db, store
from catalogue.importer import import_file
from drm.encryption.protect import Protection
from drm.keystore import LocalKeyStore
from pipeline.manifest.dash import write_mpd
from pipeline.manifest.hls import master_playlist
from pipeline.media.presentation import KeyFrame, Presentation
from pipeline.workflow.title import ingest
from playback.config import CdnOrigin, PlaybackConfig
from tests.support import auth
from tests.support.player_harness import serve_directory
from tests.support.presentations import audio_track, frame_bounds, segments, video_track
from tests.support.subscriber_db import _serve

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_RIGHTS = ROOT / "fixtures" / "sample.json"
GATEWAY_SECRET = "gateway-secret-for-tests-0123456789"
LADDER = [(416, 234), (960, 540), (1280, 720), (1920, 1080), (3840, 2160)]
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
DEVICES = "/tmf-api/subscriber/v1/device"
SESSIONS = "/playback/v1/sessions"


def ladder_presentation() -> Presentation:
    """Five video rungs up to 2160p and one audio track, 12 s, sizes chosen by hand."""
    bounds = frame_bounds(300, 150, 3600)
    key_frames = [
        KeyFrame(segment_number=n, offset=0, length=4000, start=a, duration=b - a)
        for n, (a, b) in enumerate(pairwise(bounds), 1)
    ]
    tracks = [
        video_track(
            f"v{h}p",
            w,
            h,
            "avc1.640028",
            90000,
            "25",
            segments(f"v{h}p", bounds, lambda n, d, h=h: h * 1000 + n),
            bandwidth=h * 4000,
            average_bandwidth=h * 3600,
            key_frames=key_frames,
        )
        for w, h in LADDER
    ]
    tracks.append(
        audio_track(
            "a-en",
            "mp4a.40.2",
            "en",
            2,
            segments("a-en", [0, 288000, 576000], lambda n, d: 48000),
            bandwidth=130000,
            average_bandwidth=128000,
        )
    )
    return Presentation(title_id="ladder4k", duration=12.0, segment_seconds=6, tracks=tracks)


def write_ladder_title(root: Path, title_id: str = "ladder4k") -> dict[str, Any]:
    """The ladder's manifests under root/title_id, and the summary `vod ingest --json` would
    print for them."""
    pres = ladder_presentation()
    title = root / title_id
    title.mkdir(parents=True, exist_ok=True)
    (title / "master.m3u8").write_text(master_playlist(pres))
    (title / "manifest.mpd").write_text(write_mpd(pres))
    renditions = [
        {
            "id": t.id,
            "kind": t.kind,
            "codecs": t.codecs,
            "width": t.width,
            "height": t.height,
            "bandwidth": t.bandwidth,
        }
        for t in pres.tracks
    ]
    return {
        "title_id": title_id,
        "hls": str(title / "master.m3u8"),
        "dash": str(title / "manifest.mpd"),
        "renditions": renditions,
        "duration": 12.0,
    }


def ladder_rights(title_id: str, format_profile: str) -> dict[str, Any]:
    """A GB SVOD window (any tier: `basic` is included in all three) for one ladder title."""
    return {
        "title_id": title_id,
        "name": f"{format_profile} test ladder",
        "windows": [
            {
                "territory": "GB",
                "license_type": "SVOD",
                "tier": "basic",
                "format_profile": format_profile,
                "start": "2026-01-01",
                "end": None,
            }
        ],
    }


# ladder4k is licensed in UHD; ladderhd is the same ladder licensed in HD only.
LADDER_PROFILES = {"ladder4k": "UHD", "ladderhd": "HD"}


@pytest.fixture(scope="session")
def encrypted_origin(tmp_path_factory: pytest.TempPathFactory, sample_mov: Path) -> dict:
    """The sample packaged with ClearKey cbcs (keys per label in a private store) and the
    ladder4k manifests, in one origin directory."""
    root = tmp_path_factory.mktemp("pb-origin")
    key_store = tmp_path_factory.mktemp("pb-keys") / "keys.sqlite"
    keys = LocalKeyStore(key_store)
    protection = Protection(systems=["clearkey"], scheme="cbcs", provider=keys)
    result = ingest(sample_mov, "sample", root, device_classes=["web"], protection=protection)
    return {
        "root": root,
        "key_store": key_store,
        "keys": keys,
        "summaries": {
            "sample": result.summary(),
            **{t: write_ladder_title(root, t) for t in LADDER_PROFILES},
        },
    }


@pytest.fixture(scope="module")
def sqlite_env(
    tmp_path_factory: pytest.TempPathFactory, encrypted_origin: dict, redis_service: str
) -> Iterator[PlaybackEnv]:
    """A playback environment on a SQLite file of its own, for the module."""
    url = f"sqlite:///{tmp_path_factory.mktemp('playback') / 'vod.db'}"
    with start_env(url, encrypted_origin, redis_service) as env:
        yield env


@dataclass
class PlaybackEnv:
    api: str
    gateway: str
    app: FastAPI
    redis: Any
    prefix: str
    origin: dict
    http: httpx.Client = field(repr=False)

    # -- the subscriber side, as a client application would drive it ---------------------
    def activate(self, tier: str = "standard", territory: str = "GB") -> str:
        customer = f"cust-{uuid.uuid4().hex[:10]}"
        body = {"customerId": customer, "territory": territory, "productOffering": {"id": tier}}
        order = self.http.post(self.api + ORDERS, json=body).json()
        assert order["state"] == "completed", order
        return customer

    def register(
        self,
        customer: str,
        device: str,
        level: str = "ClearKey",
        device_class: str = "desktop",
        drm: str = "clearkey",
    ) -> None:
        resp = self.http.post(
            self.api + DEVICES,
            json={
                "customerId": customer,
                "deviceId": device,
                "drmSystem": drm,
                "securityLevel": level,
                "deviceClass": device_class,
            },
        )
        assert resp.status_code in (200, 201), resp.text

    def session(self, customer: str, device: str, title: str = "sample") -> httpx.Response:
        body = {"customerId": customer, "deviceId": device, "titleId": title}
        return self.http.post(self.api + SESSIONS, json=body)


def _config(
    gateway: str,
    redis_url: str,
    prefix: str,
    key_store: Path,
    ttl: int,
    origins: list[CdnOrigin] | None,
) -> PlaybackConfig:
    return PlaybackConfig(
        origins=origins
        or [
            CdnOrigin(name="default", kind="akamai", base_url=gateway, token_secret=GATEWAY_SECRET)
        ],
        session_secret=uuid.uuid4().hex * 2,
        heartbeat_ttl=ttl,
        redis_url=redis_url,
        redis_prefix=prefix,
        key_store=key_store,
    )


@contextmanager
def start_env(
    database_url: str,
    origin: dict,
    redis_url: str,
    heartbeat_ttl: int = 3,
    origins: list[CdnOrigin] | None = None,
) -> Iterator[PlaybackEnv]:
    """Gateway + API on loopback; rights for both titles imported, presentations recorded."""
    prefix = f"vodtest-{uuid.uuid4().hex[:8]}:"
    redis = redis_lib.Redis.from_url(redis_url)
    with ExitStack() as stack:
        gateway = stack.enter_context(
            serve_directory(origin["root"], token_secret=GATEWAY_SECRET.encode())
        )
        config = _config(gateway, redis_url, prefix, origin["key_store"], heartbeat_ttl, origins)
        with pytest.MonkeyPatch.context() as mp:  # many sessions a minute: tests/api/test_limits
            mp.setenv("VOD_RATE_LIMIT_SESSIONS", "0")  # covers the limiter; 0 = no limit
            mp.setenv("VOD_RATE_LIMIT_LICENSES", "0")
            app = create_app(database_url, playback=config, redis=redis)
        with db.session_scope(app.state.engine) as s:
            store.import_windows(s, import_file(SAMPLE_RIGHTS).windows)
        with db.session_scope(app.state.engine) as s:
            for title, profile in LADDER_PROFILES.items():
                rights = origin["root"].parent / f"{title}-{prefix.strip(':')}.json"
                rights.write_text(json.dumps(ladder_rights(title, profile)))
                store.import_windows(s, import_file(rights).windows)
            for title, summary in origin["summaries"].items():
                store.record_presentation(s, title, summary, "http://origin.invalid")
        srv, thread, url = _serve(app)
        operator = auth.current().headers(ttl=24 * 3600)
        http = stack.enter_context(httpx.Client(timeout=30, headers=operator))
        try:
            yield PlaybackEnv(url, gateway, app, redis, prefix, origin, http)
        finally:
            srv.should_exit = True
            thread.join(10)
            app.state.engine.dispose()
            for key in redis.scan_iter(match=f"{prefix}*"):
                redis.delete(key)


# -- synthetic CMCD (event mode, one report per line) -----------------------------------------


def stalled_minute(sid: str, m0: int) -> list[str]:
    """A session in minute `m0` (ms): starts, plays 3 s, stalls 26 s, plays 1 s, quits."""
    return [
        f'e=ps,sid="{sid}",sta=s,ts={m0 + 500}',
        f'e=ps,sid="{sid}",sta=p,msd=500,br=(2000),ts={m0 + 1_000}',
        f'e=ps,sid="{sid}",sta=r,ts={m0 + 4_000}',
        f'e=ps,sid="{sid}",sta=p,ts={m0 + 30_000}',
        f'e=ps,sid="{sid}",sta=q,ts={m0 + 31_000}',
    ]


def clean_minute(sid: str, m1: int) -> list[str]:
    """A session in minute `m1` (ms): starts in 400 ms and plays 20 s without a stall."""
    return [
        f'e=ps,sid="{sid}",sta=p,msd=400,br=(3000),ts={m1 + 1_000}',
        f'e=t,sid="{sid}",ts={m1 + 21_000}',
    ]


def report_cmcd(env: PlaybackEnv, lines: list[str]) -> None:
    """POST event-mode CMCD lines to the collector."""
    body = "\n".join(lines).encode() + b"\n"
    resp = env.http.post(
        env.api + "/qoe/v1/cmcd", content=body, headers={"Content-Type": "application/cmcd"}
    )
    assert resp.status_code == 204, resp.text


def new_sessions(env: PlaybackEnv, n: int, title: str = "sample") -> list[tuple[str, str]]:
    """(customer, session id) of n playback sessions, each for a new Standard customer on a
    ClearKey desktop."""
    out = []
    for _ in range(n):
        customer = env.activate("standard")
        env.register(customer, "laptop")
        resp = env.session(customer, "laptop", title)
        assert resp.status_code == 201, resp.text
        out.append((customer, resp.json()["sessionId"]))
    return out
