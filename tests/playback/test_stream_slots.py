"""Concurrent-stream slots (playback.streams) on a real Redis: the limit holds under a race,
renewing keeps a slot, silence frees it, release frees it at once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib

from playback.streams import StreamSlots


@pytest.fixture
def slots(redis_service: str) -> Iterator[StreamSlots]:  # noqa: F811
    client = redis_lib.Redis.from_url(redis_service)
    prefix = f"vodtest-{uuid.uuid4().hex[:8]}:"
    yield StreamSlots(client, prefix, ttl_seconds=1)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


def test_limit_renew_release(slots: StreamSlots) -> None:
    assert [slots.acquire("c", f"s{i}", 3) for i in range(4)] == [1, 2, 3, 0]  # live count
    assert slots.acquire("c", "s1", 3)  # renewing a held slot is not a new stream
    assert sorted(slots.live("c")) == ["s0", "s1", "s2"]
    assert slots.acquire("other", "s9", 3)  # limits are per customer
    slots.release("c", "s0")
    assert slots.acquire("c", "s3", 3) and not slots.acquire("c", "s4", 3)


def test_silent_stream_lapses_and_a_heartbeat_retakes_room(slots: StreamSlots) -> None:
    assert slots.acquire("c", "quiet", 2) and slots.acquire("c", "busy", 2)
    for _ in range(3):
        time.sleep(0.45)
        assert slots.heartbeat("c", "busy", 2)
    assert slots.live("c") == ["busy"]
    assert slots.heartbeat("c", "quiet", 2)  # ...a heartbeat can, while there is room
    assert sorted(slots.live("c")) == ["busy", "quiet"]


def test_limit_holds_under_a_race(slots: StreamSlots) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        won = list(pool.map(lambda i: bool(slots.acquire("c", f"s{i}", 3)), range(64)))
    assert sum(won) == 3 and len(slots.live("c")) == 3
