"""QoE state in Redis: each session's fold state and the per-minute counters of every
(title, device class, CDN) aggregate, shared by all API workers.

A report is applied in one optimistic transaction (WATCH the session's state, compute the fold
in Python, MULTI the new state and every counter increment), so two workers receiving reports of
one session at once never double-count: the loser retries on the fresh state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from qoe.kpi import COUNTERS, Folded, SessionQoe

SESSION_TTL = 6 * 3600
WINDOW_TTL = 3 * 24 * 3600
RETRIES = 20

_LATEST = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if current > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class QoeWindows:
    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.p = f"{prefix}qoe:"
        self._latest = redis.register_script(_LATEST)

    def _session_key(self, sid: str) -> str:
        return f"{self.p}s:{sid}"

    def _window_key(self, window: int, dims: str) -> str:
        return f"{self.p}w:{window}:{dims}"

    def _members_key(self, window: int, dims: str) -> str:
        return f"{self.p}m:{window}:{dims}"

    def apply(self, sid: str, dims: str, step: Callable[[SessionQoe | None], Folded]) -> Folded:
        """Run `step` on the session's stored state and store what it returns, atomically."""
        import redis as redis_lib

        key = self._session_key(sid)
        for _ in range(RETRIES):
            with self.redis.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    prev = SessionQoe.from_json(json.loads(raw)) if raw else None
                    folded = step(prev)
                    pipe.multi()
                    pipe.set(key, json.dumps(folded.state.to_json()), ex=SESSION_TTL)
                    for window, counter, amount in folded.contributions:
                        wkey = self._window_key(window, dims)
                        pipe.hincrbyfloat(wkey, counter, amount)
                        pipe.expire(wkey, WINDOW_TTL)
                        pipe.zadd(f"{self.p}index", {f"{window}|{dims}": window})
                        if counter == "sessions":
                            mkey = self._members_key(window, dims)
                            pipe.sadd(mkey, sid)
                            pipe.expire(mkey, WINDOW_TTL)
                    pipe.execute()
                    return folded
                except redis_lib.WatchError:
                    continue
        raise RuntimeError(f"QoE state of session {sid} kept changing under {RETRIES} retries")

    def counters(self, window: int, dims: str) -> dict[str, float]:
        raw = self.redis.hgetall(self._window_key(window, dims))
        out = {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}
        return {k: out.get(k, 0.0) for k in COUNTERS}

    def members(self, window: int, dims: str) -> list[str]:
        return sorted(
            m.decode() if isinstance(m, bytes) else m
            for m in self.redis.smembers(self._members_key(window, dims))
        )

    def windows(self, since_ms: int, until_ms: int) -> list[tuple[int, str]]:
        """(window, dims) pairs with data in [since, until], oldest first."""
        found = self.redis.zrangebyscore(f"{self.p}index", since_ms, until_ms)
        out = []
        for m in found:
            text = m.decode() if isinstance(m, bytes) else m
            window, _, dims = text.partition("|")
            out.append((int(window), dims))
        return sorted(out)

    def count_rejected(self, n: int) -> None:
        """Add `n` reports that named no live session (kept forever: a running total)."""
        self.redis.incrby(f"{self.p}rejected", n)

    def rejected(self) -> int:
        return int(self.redis.get(f"{self.p}rejected") or 0)

    # -- alarm bookkeeping (which aggregates have an open alarm; the DB has the alarm) --------
    def latest(self, dims: str, window: int) -> bool:
        """Record `window` as evaluated for dims; False if a newer one was already evaluated.
        One script, so two workers never move the mark backwards."""
        return bool(self._latest(keys=[f"{self.p}latest:{dims}"], args=[window, WINDOW_TTL]))

    def _open_key(self, dims: str, indicator: str) -> str:
        return f"{self.p}open:{dims}|{indicator}"

    def open_alarms(self, dims: str, indicators: list[str]) -> set[str]:
        """Which of `indicators` have an open (or being raised) alarm for dims: one MGET."""
        flags = self.redis.mget([self._open_key(dims, i) for i in indicators])
        return {i for i, flag in zip(indicators, flags, strict=True) if flag is not None}

    def claim_alarm(self, dims: str, indicator: str) -> bool:
        """Set the open-alarm flag (id 0: being raised); True only for the caller that set it."""
        return bool(self.redis.set(self._open_key(dims, indicator), 0, nx=True))

    def open_alarm_id(self, dims: str, indicator: str) -> int | None:
        raw = self.redis.get(self._open_key(dims, indicator))
        return int(raw) if raw is not None and int(raw) > 0 else None

    def set_open_alarm_id(self, dims: str, indicator: str, alarm_id: int) -> None:
        self.redis.set(self._open_key(dims, indicator), alarm_id)

    def alarm_changed(self, alarm_id: int, signature: str) -> bool:
        """Store what an open alarm last showed; True when `signature` differs from it."""
        old = self.redis.set(f"{self.p}sig:{alarm_id}", signature, ex=WINDOW_TTL, get=True)
        old = old.decode() if isinstance(old, bytes) else old
        return old != signature

    def close_alarm(self, dims: str, indicator: str) -> bool:
        """Drop the flag; True for the caller that actually removed it."""
        return bool(self.redis.delete(self._open_key(dims, indicator)))
