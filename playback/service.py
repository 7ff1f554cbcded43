"""Playback sessions: entitlement decision -> stream slot -> signed CDN URLs -> session-bound
licence, key, heartbeat and CMCD URLs; and the licence proxy (W3C ClearKey licences for DASH, raw
keys for HLS "identity" key URIs) that honours only live, entitled sessions.

The HTTP layer (api.playback) validates input; this module does the work, with the clock passed
in, and refuses with `playback.errors` (each a core.errors category with its `reason`), which
the HTTP app answers as problem details.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from sqlalchemy.orm import Session

from catalogue import store
from catalogue.entitlement import Decision, Device, EntitlementRequest, decide
from drm.keystore import LocalKeyStore
from drm.signalling.clearkey import ClearKeyRequestError, license_response, requested_kids
from playback.config import CdnOrigin, PlaybackConfig
from playback.errors import (
    BadLicenceRequest,
    NotEntitled,
    PlaybackUnavailable,
    SessionReleased,
    StreamLimit,
    UnknownPlayback,
)
from playback.grant import encode_grant
from playback.sessions import PlaybackSession, SessionStore
from playback.streams import StreamSlots
from playback.tokens import TokenError, cloudfront_signed_url, sign_token, signed_url, verify_token
from subscriber.context import SubscriberContext, load_context

log = logging.getLogger(__name__)

SESSIONS_PATH = "/playback/v1/sessions"
CMCD_PATH = "/qoe/v1/cmcd"
KEY_SYSTEM = "org.w3.clearkey"


@dataclass
class Playback:
    """What playback needs at run time: settings, Redis-backed state and the key store."""

    config: PlaybackConfig
    slots: StreamSlots
    sessions: SessionStore
    key_store: LocalKeyStore | None = None

    @classmethod
    def connect(cls, config: PlaybackConfig, redis: Any | None = None) -> Playback:
        if redis is None:
            import redis as redis_lib

            redis = redis_lib.Redis.from_url(config.redis_url)
        prefix = config.redis_prefix
        keys = LocalKeyStore(config.key_store) if config.key_store else None
        return cls(
            config,
            StreamSlots(redis, prefix, config.heartbeat_ttl),
            SessionStore(redis, prefix),
            keys,
        )


# -- session creation ----------------------------------------------------------------------


def _decision(db: Session, ctx: SubscriberContext, title_id: str, now: datetime) -> Decision:
    inputs = store.entitlement_inputs(db, title_id, ctx.territory)
    if inputs is None:
        raise UnknownPlayback("unknown_title", f"unknown title {title_id!r}")
    windows, presentation = inputs
    request = EntitlementRequest(
        title_id=title_id,
        territory=ctx.territory,
        tier=ctx.offering.entitlement_tier(),
        device=Device(
            device_class=ctx.device_class, registered=True, security_level=ctx.security_level
        ),
    )
    decision = decide(request, windows, ctx.purchases(title_id), presentation, now)
    if not decision.allowed:
        raise NotEntitled(
            str(decision.reason),
            f"not entitled to {title_id!r}: {decision.reason}",
            offers=[str(o) for o in decision.offers],
        )
    return decision


def _manifest_paths(title_id: str, manifests: dict[str, str]) -> dict[str, str]:
    """protocol -> `/<title>/<file>`: the path on any origin, whatever base URL was recorded."""
    return {p: f"/{title_id}/{urlsplit(u).path.rsplit('/', 1)[-1]}" for p, u in manifests.items()}


def _sign(
    origin: CdnOrigin, path: str, acl: str, sid: str, data: str, now: int, lifetime: int
) -> str:
    if origin.kind == "akamai":
        assert origin.token_secret is not None
        return signed_url(
            origin.base_url,
            path,
            origin.token_secret.get_secret_value().encode(),
            lifetime,
            start=now,
            acl=acl,
            session_id=sid,
            data=data,
            style=origin.token_style,
        )
    base = origin.base_url.rstrip("/")
    return cloudfront_signed_url(
        base + path,
        str(origin.key_pair_id),
        origin.private_key_pem,
        now + lifetime,
        policy_acl=base + acl,
    )


def _cloudfront_cookies(url: str) -> dict[str, str]:
    """The signed-cookie form of a custom-policy URL: segments fetched relatively carry no
    query string, so CloudFront players send these cookies instead."""
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    return {f"CloudFront-{k}": q[k] for k in ("Policy", "Signature", "Key-Pair-Id") if k in q}


def credential(config: PlaybackConfig, sid: str, now: int, lifetime: int, scope: str = "*") -> str:
    """The session-bound credential for its licence, key, heartbeat and release URLs; `scope`
    narrows it (`keys/*`: key delivery only, the one the CDN token carries)."""
    return sign_token(
        config.session_secret.get_secret_value().encode(),
        f"{SESSIONS_PATH}/{sid}/{scope}",
        start=now,
        lifetime=lifetime,
        session_id=sid,
    )


def create_session(
    pb: Playback,
    db: Session,
    *,
    customer: str,
    device_id: str,
    title_id: str,
    api_base: str,
    now: datetime,
) -> dict[str, Any]:
    """Decide, take a stream slot, sign; the client's whole playback setup as JSON."""
    ctx = load_context(db, customer, device_id)
    decision = _decision(db, ctx, title_id, now)
    limit = ctx.offering.concurrent_streams
    sid = secrets.token_urlsafe(18)
    live = pb.slots.acquire(customer, sid, limit)
    if not live:
        raise StreamLimit(
            "concurrent_stream_limit",
            f"{ctx.offering.name} allows {limit} concurrent streams and {limit} are playing",
            limit=limit,
        )
    cfg = pb.config
    start = int(now.timestamp())
    lifetime = cfg.session_lifetime
    if decision.policy and decision.policy.expires_at:  # a window or rental ending sooner
        lifetime = max(1, min(lifetime, int((decision.policy.expires_at - now).total_seconds())))
    origin = cfg.origin_for(ctx.cdn_region)
    policy = decision.policy
    kids = {bytes.fromhex(k.replace("-", "")) for k in (policy.kids if policy else {}).values()}
    api = (cfg.public_api_url or api_base).rstrip("/")
    here = f"{api}{SESSIONS_PATH}/{sid}"
    # The CDN token (seen by anyone holding a manifest URL) carries a key-only credential.
    key_cred = credential(cfg, sid, start, lifetime, scope="keys/*")
    data = encode_grant(decision.renditions, kids, f"{here}/keys", key_cred)
    acl = f"/{title_id}/*"
    manifests = {
        p: _sign(origin, path, acl, sid, data, start, lifetime)
        for p, path in _manifest_paths(title_id, decision.manifests).items()
    }
    expires = now + timedelta(seconds=lifetime)
    record = PlaybackSession(
        id=sid,
        customer=customer,
        device_id=device_id,
        device_class=ctx.device_class.value,
        security_level=ctx.security_level.value,
        title_id=title_id,
        territory=ctx.territory,
        tier=ctx.offering.tier,
        cdn=ctx.cdn_region or origin.name,
        origin=origin.name,
        license_type=str(decision.license_type),
        max_height=int(decision.max_height or 0),
        renditions=list(decision.renditions),
        kids=dict(policy.kids) if policy else {},
        stream_limit=limit,
        created_at=now,
        expires_at=expires,
    )
    pb.sessions.put(record, lifetime)
    auth = quote(credential(cfg, sid, start, lifetime), safe="")
    out: dict[str, Any] = {
        "sessionId": sid,
        "titleId": title_id,
        "customerId": customer,
        "deviceId": device_id,
        "expiresAt": expires.astimezone(UTC).isoformat(),
        "licenseType": str(decision.license_type),
        "maxHeight": decision.max_height,
        "caps": decision.caps,
        "renditions": decision.renditions,
        "cdn": {"region": ctx.cdn_region, "origin": origin.name, "kind": origin.kind},
        "manifests": manifests,
        "license": {
            "keySystem": KEY_SYSTEM,
            "url": f"{here}/license?auth={auth}",
            "policy": policy.model_dump(mode="json") if policy else None,
        },
        "heartbeat": {
            "url": f"{here}/heartbeat?auth={auth}",
            "intervalSeconds": cfg.heartbeat_every,
            "ttlSeconds": cfg.heartbeat_ttl,
        },
        "release": {"url": f"{here}?auth={auth}", "method": "DELETE"},
        "cmcd": {"url": f"{api}{CMCD_PATH}", "sessionId": sid, "contentId": title_id},
        "streams": {"limit": limit, "live": live},
    }
    if origin.kind == "cloudfront":
        out["cookies"] = _cloudfront_cookies(next(iter(manifests.values())))
    log.info(
        "playback session %s: %s on %s (%s) for %s, max %sp via %s",
        sid,
        title_id,
        device_id,
        ctx.security_level.value,
        customer,
        decision.max_height,
        origin.name,
    )
    return out


# -- the session's own endpoints -------------------------------------------------------------


def authorise(pb: Playback, sid: str, auth: str | None, action: str, now: float) -> PlaybackSession:
    """The session behind a credential, or a PlaybackError (403 bad/expired, 404 gone, 410
    released)."""
    if not auth:
        raise NotEntitled("missing_credential", "the session URL lacks its auth= credential")
    secret = pb.config.session_secret.get_secret_value().encode()
    try:
        fields = verify_token(secret, auth, f"{SESSIONS_PATH}/{sid}/{action}", now)
    except TokenError as e:
        raise NotEntitled(
            f"credential_{e.reason}", f"session credential refused: {e.reason}"
        ) from None
    if fields.get("id") != sid:
        raise NotEntitled("credential_out_of_scope", "credential is for another session")
    record = pb.sessions.get(sid)
    if record is None:
        raise UnknownPlayback("unknown_session", f"session {sid} has expired or never existed")
    if record.released:
        raise SessionReleased("session_released", f"session {sid} was released")
    return record


def _hold_slot(pb: Playback, record: PlaybackSession) -> int:
    """Renew (or retake) the session's stream slot; the number of live streams."""
    live = pb.slots.heartbeat(record.customer, record.id, record.stream_limit)
    if not live:
        raise StreamLimit(
            "concurrent_stream_limit",
            f"session {record.id} stopped heartbeating and its stream slot went "
            f"to another stream ({record.stream_limit} allowed)",
            limit=record.stream_limit,
        )
    return live


def heartbeat(pb: Playback, sid: str, auth: str | None, now: float) -> dict[str, Any]:
    record = authorise(pb, sid, auth, "heartbeat", now)
    live = _hold_slot(pb, record)
    return {"sessionId": sid, "ttlSeconds": pb.config.heartbeat_ttl, "live": live}


def release(pb: Playback, sid: str, auth: str | None, now: float) -> PlaybackSession:
    record = authorise(pb, sid, auth, "release", now)
    pb.slots.release(record.customer, sid)
    return pb.sessions.mark_released(record)


def issue_licence(
    pb: Playback, sid: str, auth: str | None, body: bytes, now: float
) -> dict[str, Any]:
    """The ClearKey licence (JWK set) for the KIDs asked for that this session may have.

    Keys of labels outside the session's policy are never released, whatever the player asks.
    A licence request renews the stream slot like a heartbeat.
    """
    record = authorise(pb, sid, auth, "license", now)
    try:
        asked = requested_kids(body)
    except ClearKeyRequestError as e:
        raise BadLicenceRequest("bad_license_request", str(e)) from None
    allowed = record.allowed_kids()
    granted = [k for k in asked if k in allowed]
    if not granted:
        raise NotEntitled(
            "kid_not_entitled",
            "none of the requested keys is covered by this session's policy",
        )
    if pb.key_store is None:
        raise PlaybackUnavailable("no_key_store", "the licence proxy has no key store configured")
    _hold_slot(pb, record)
    keys = {}
    for kid in granted:
        found = pb.key_store.key_for_kid(kid)
        if found is not None:
            keys[kid] = found.key
    log.info("licence for session %s: %d of %d keys", sid, len(keys), len(asked))
    return license_response(body, keys)


def deliver_key(pb: Playback, sid: str, auth: str | None, kid_hex: str, now: float) -> bytes:
    """The raw 16-byte key of one KID for HLS "identity" key delivery (the key URIs the
    gateway writes into a session's playlists), under the licence's rules: a live session's
    credential, a KID of its policy, and the stream slot renewed. The key is never logged."""
    record = authorise(pb, sid, auth, f"keys/{kid_hex}", now)
    try:
        kid = bytes.fromhex(kid_hex)
    except ValueError:
        kid = b""
    if len(kid) != 16:
        raise BadLicenceRequest("bad_key_request", "a KID is 32 hex digits")
    if kid not in record.allowed_kids():
        raise NotEntitled("kid_not_entitled", "this key is not covered by the session's policy")
    if pb.key_store is None:
        raise PlaybackUnavailable("no_key_store", "the licence proxy has no key store configured")
    _hold_slot(pb, record)
    found = pb.key_store.key_for_kid(kid)
    if found is None:
        raise UnknownPlayback("unknown_key", "the key store holds no key for this KID")
    log.info("key for session %s: KID %s", sid, kid.hex())
    return found.key
