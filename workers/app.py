"""The Celery app: Redis broker and result backend, two queues, at-least-once delivery.

Settings come from the environment so every worker and every `vod submit` agree:

* VOD_BROKER_URL (redis://127.0.0.1:6379/0), VOD_RESULT_BACKEND (redis://127.0.0.1:6379/1);
* VOD_QUEUE_PREFIX: prepended to the `encode` and `io` queue names (test isolation, tenants);
* VOD_SOFT_TIME_LIMIT / VOD_TIME_LIMIT: per-task limits in seconds (3600 / 3900);
* VOD_VISIBILITY_TIMEOUT: seconds before the Redis transport re-delivers a task a dead worker
  took (default: hard limit + 5 min, so a live task is never handed out twice).

A task is acknowledged only after it finished (`task_acks_late`) and given back when its
worker process dies (`task_reject_on_worker_lost`); one task is reserved per process at a time
(`worker_prefetch_multiplier=1`) so a long encode never holds a second one hostage. Tasks
are therefore at-least-once: `workers.idempotency` makes running one twice harmless.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_BACKEND = "redis://127.0.0.1:6379/1"
ENCODE = "encode"  # CPU heavy: FFmpeg
IO = "io"  # probe, package, publish, catalogue: disk and network bound
ENCODE_TASKS = ("vod.encode",)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from exc


def queue_name(kind: str, env: Mapping[str, str] | None = None) -> str:
    """The real queue for `encode` or `io`, with the deployment's prefix."""
    env = os.environ if env is None else env
    return f"{env.get('VOD_QUEUE_PREFIX', '')}{kind}"


def settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Celery configuration for the environment `env` (default: os.environ)."""
    env = os.environ if env is None else env
    soft = _number(env, "VOD_SOFT_TIME_LIMIT", 3600)
    hard = max(_number(env, "VOD_TIME_LIMIT", soft + 300), soft + 1)
    visibility = _number(env, "VOD_VISIBILITY_TIMEOUT", hard + 300)
    encode, io = queue_name(ENCODE, env), queue_name(IO, env)
    transport = {
        "visibility_timeout": visibility,
        # Look for abandoned tasks often enough that redelivery follows the timeout closely.
        "unacked_restore_interval": max(1, min(10, int(visibility // 10))),
        "unacked_restore_throttle": 1,
    }
    return {
        "broker_url": env.get("VOD_BROKER_URL", DEFAULT_BROKER),
        "result_backend": env.get("VOD_RESULT_BACKEND", DEFAULT_BACKEND),
        "broker_transport_options": transport,
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": soft,
        "task_time_limit": hard,
        "task_track_started": True,
        "result_expires": 7 * 24 * 3600,
        "result_extended": True,
        "worker_hijack_root_logger": False,
        "task_default_queue": io,
        "task_queues": tuple(Queue(q, Exchange(q), routing_key=q) for q in (encode, io)),
        "task_routes": {
            **{name: {"queue": encode} for name in ENCODE_TASKS},
            "vod.*": {"queue": io},
        },
    }


def configure(target: Celery, env: Mapping[str, str] | None = None) -> Celery:
    """(Re)apply `settings(env)`; tests call it after changing the environment."""
    target.conf.update(settings(env))
    return target


app = configure(Celery("vod", include=["workers.tasks"]))
