"""The one HTTP app, assembled here and nowhere else: the catalogue, subscriber activation
(TM Forum-shaped), playback sessions with the licence proxy, QoE and the console.

Routes are thin modules under `api/`, each exposing a router; this module gives them their
shared state (database sessions, failure injection, playback and QoE on Redis) and installs the
one error shape (`api.problems`). Start it with `uvicorn --factory api.app:create_app`, or
`vod catalogue serve`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

import qoe.tables  # noqa: F401 (declares sub_alarms on SubscriberBase before create_all)
from api import auth as api_auth
from api import catalogue as catalogue_routes
from api import console as console_routes
from api import limits, problems
from api import playback as playback_routes
from api import qoe as qoe_routes
from api import subscriber as subscriber_routes
from auth.verify import TokenVerifier
from catalogue import db
from core.errors import ConfigError
from playback.config import PlaybackConfig, redis_location
from playback.service import Playback
from playback.sessions import SessionStore
from qoe.collector import QoeCollector
from qoe.windows import QoeWindows
from subscriber import db as subscriber_db
from subscriber.faults import Faults

log = logging.getLogger(__name__)

ROUTERS: dict[str, Callable[[], APIRouter]] = {
    "catalogue": catalogue_routes.router,
    "subscriber": subscriber_routes.router,
    "console": console_routes.router,
    "playback": playback_routes.router,
    "qoe": qoe_routes.router,
}
ALL_ROUTERS = tuple(ROUTERS)
CATALOGUE_ONLY = ("catalogue",)
DESCRIPTION = "Browse the catalogue by territory and time; decide playback entitlements."


def create_app(
    database_url: str | None = None,
    *,
    routers: Collection[str] = ALL_ROUTERS,
    faults: Faults | None = None,
    playback: PlaybackConfig | None = None,
    redis: Any | None = None,
    auth: api_auth.Auth | None = None,
) -> FastAPI:
    """The app on `database_url` (default: `catalogue.db.database_url()`), serving `routers`.

    The database is migrated first; the subscriber and QoE tables are created unless only the
    catalogue is served (`routers=CATALOGUE_ONLY`: read-only, no Redis). Playback comes from
    `playback` or the environment (`PlaybackConfig.load`); without a token secret its routes
    answer 503 and QoE still collects.

    `auth` is a `TokenVerifier`, `api_auth.NO_AUTH` (every caller is the local operator: for
    `--no-auth` on loopback and the CLI's in-process client), or None: from `VOD_AUTH_*`,
    refusing (ConfigError) when no JWKS is configured.
    """
    unknown = sorted(set(routers) - set(ROUTERS))
    if unknown:
        raise ValueError(f"unknown routers {unknown}; choose from {list(ROUTERS)}")
    resolved_auth = _auth(auth)  # before the database: a missing JWKS fails fast
    url = database_url or db.database_url()
    catalogue_only = set(routers) <= set(CATALOGUE_ONLY)
    engine = db.setup(url) if catalogue_only else subscriber_db.setup(url)
    title = "vod-pipeline catalogue"
    if not catalogue_only:
        title += ", subscribers, playback and QoE"
    app = FastAPI(title=title, version="1", description=DESCRIPTION)
    app.state.auth = resolved_auth
    app.state.engine = engine
    app.state.sessions = db.read_session_factory(engine)
    app.state.write_sessions = db.session_factory(engine)
    app.state.faults = faults or Faults.from_env()
    app.state.playback, app.state.qoe = None, None
    if {"playback", "qoe"} & set(routers):
        app.state.playback, app.state.qoe = _playback_and_qoe(app, playback, redis)
    app.add_api_route("/health", _health, include_in_schema=False)
    for name in ROUTERS:  # a fixed order, whatever order they were asked in
        if name in routers:
            app.include_router(ROUTERS[name]())
    if {"playback", "qoe"} & set(routers):
        playback_routes.add_cors(app)
    limits.install(app)  # body cap, rate limits, access-log redaction
    problems.install(app)
    return app


async def _health() -> JSONResponse:
    """Liveness for load balancers and compose (no authentication, no data)."""
    return JSONResponse({"status": "ok"})


def _auth(auth: api_auth.Auth | None) -> api_auth.Auth:
    if auth is not None:
        return auth
    verifier = TokenVerifier.from_settings()
    if verifier is None:
        raise ConfigError(
            "VOD_AUTH_JWKS",
            "the API verifies bearer tokens against a JWKS: export VOD_AUTH_JWKS=$(vod auth "
            "init --print-jwks-path) for the development issuer, or point it at your identity "
            "provider's JWKS; for a loopback-only trial, `vod catalogue serve --no-auth`",
        )
    return verifier


def _playback_and_qoe(
    app: FastAPI, config: PlaybackConfig | None, redis: Any | None
) -> tuple[Playback | None, QoeCollector]:
    if config is None:
        try:
            config = PlaybackConfig.load()
        except ConfigError as e:
            log.warning("playback sessions disabled: %s", e)
    url, prefix = (config.redis_url, config.redis_prefix) if config else redis_location()
    if redis is None:
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(url)
    pb = Playback.connect(config, redis) if config else None
    sessions = pb.sessions if pb else SessionStore(redis, prefix)
    qoe = QoeCollector(QoeWindows(redis, prefix), sessions, app.state.write_sessions)
    return pb, qoe
