"""Concurrent-stream slots per customer in Redis, kept alive by heartbeats.

One sorted set per customer: member = playback session id, score = its last heartbeat (ms,
Redis's own clock, so every API worker agrees). Taking or renewing a slot is one Lua script:
drop members silent for longer than the TTL, renew a member already there, admit a new one only
while fewer than `limit` are live. A stream that stops heartbeating simply ages out, so a
crashed player never holds a slot for more than the TTL.
"""

from __future__ import annotations

from typing import Any

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
if not redis.call('ZSCORE', KEYS[1], ARGV[3])
   and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('ZCARD', KEYS[1])
"""

_LIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class StreamSlots:
    """`limit` live streams per customer; a slot lapses `ttl_seconds` after its last beat."""

    def __init__(self, redis: Any, prefix: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_ms = int(ttl_seconds * 1000)
        self._acquire = redis.register_script(_ACQUIRE)
        self._live = redis.register_script(_LIVE)

    def _key(self, customer: str) -> str:
        return f"{self.prefix}streams:{customer}"

    def acquire(self, customer: str, session_id: str, limit: int) -> int:
        """Take a slot (or renew the one this session holds): how many are live now, or 0
        (falsy) when `limit` were live already."""
        args = [self.ttl_ms, limit, session_id]
        return int(self._acquire(keys=[self._key(customer)], args=args))

    def heartbeat(self, customer: str, session_id: str, limit: int) -> int:
        """Renew this session's slot; if it lapsed, take a free one again. 0 when the slot
        is gone and the customer is at `limit`."""
        return self.acquire(customer, session_id, limit)

    def live(self, customer: str) -> list[str]:
        """Session ids holding a live slot."""
        return [
            m.decode() if isinstance(m, bytes) else m
            for m in self._live(keys=[self._key(customer)], args=[self.ttl_ms])
        ]

    def release(self, customer: str, session_id: str) -> None:
        self.redis.zrem(self._key(customer), session_id)
