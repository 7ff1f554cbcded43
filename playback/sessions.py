"""Playback session records in Redis: what a session was granted, for the licence proxy and the
QoE collector. One JSON value per session, expiring with the session; no content keys in it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PlaybackSession(BaseModel):
    """One granted playback: who, on what, where, and what the licence may carry."""

    model_config = ConfigDict(frozen=True)

    id: str
    customer: str
    device_id: str
    device_class: str
    security_level: str
    title_id: str
    territory: str
    tier: str | None
    cdn: str  # CDN region, the QoE dimension
    origin: str  # the CdnOrigin that signed the URLs
    license_type: str
    max_height: int
    renditions: list[str]
    kids: dict[str, str] = Field(default_factory=dict)  # label -> KID (uuid), allowed labels only
    stream_limit: int
    created_at: datetime
    expires_at: datetime
    released: bool = False

    def allowed_kids(self) -> set[bytes]:
        return {bytes.fromhex(k.replace("-", "")) for k in self.kids.values()}


class SessionStore:
    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    def put(self, session: PlaybackSession, ttl_seconds: int) -> None:
        self.redis.set(self._key(session.id), session.model_dump_json(), ex=max(1, ttl_seconds))

    def get(self, session_id: str) -> PlaybackSession | None:
        raw = self.redis.get(self._key(session_id))
        return PlaybackSession.model_validate_json(raw) if raw else None

    def get_many(self, session_ids: list[str]) -> dict[str, PlaybackSession]:
        if not session_ids:
            return {}
        raws = self.redis.mget([self._key(s) for s in session_ids])
        return {
            sid: PlaybackSession.model_validate_json(raw)
            for sid, raw in zip(session_ids, raws, strict=True)
            if raw
        }

    def mark_released(self, session: PlaybackSession) -> PlaybackSession:
        """Keep the record (QoE still attributes late reports) but refuse licences for it."""
        done = session.model_copy(update={"released": True})
        ttl = self.redis.ttl(self._key(session.id))
        self.put(done, ttl if isinstance(ttl, int) and ttl > 0 else 60)
        return done
