"""The Celery app: Redis broker and result backend, two queues, at-least-once delivery.

Settings come from `core.settings` so every worker and every `vod submit` agree: the broker
(VOD_BROKER_URL, default VOD_REDIS_URL), the result backend (VOD_RESULT_BACKEND, default
VOD_REDIS_URL database +1), VOD_QUEUE_PREFIX (prepended to the `encode` and `io` queue
names: test isolation, tenants), the per-task limits VOD_SOFT_TIME_LIMIT / VOD_TIME_LIMIT and
VOD_VISIBILITY_TIMEOUT: seconds before the Redis transport re-delivers a task a dead worker
took (default: hard limit + 5 min, so a live task is never handed out twice).

A task is acknowledged only after it finished (`task_acks_late`) and given back when its
worker process dies (`task_reject_on_worker_lost`); one task is reserved per process at a time
(`worker_prefetch_multiplier=1`) so a long encode never holds a second one hostage. Tasks
are therefore at-least-once: `workers.idempotency` makes running one twice harmless. A whole
worker that dies is noticed sooner than the visibility timeout by the task leases
(`workers.lease`, `workers.recovery`), wired in by `workers.supervision`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from core.settings import settings as vod_settings

ENCODE = "encode"  # CPU heavy: FFmpeg
IO = "io"  # probe, package, publish, catalogue: disk and network bound
ENCODE_TASKS = ("vod.encode", "vod.trial")
MODULES = [
    "workers.tasks",
    "workers.per_title_tasks",
    "workers.supervision",
]  # imported by every worker at start


def queue_name(kind: str, env: Mapping[str, str] | None = None) -> str:
    """The real queue for `encode` or `io`, with the deployment's prefix."""
    return f"{vod_settings(env).queue_prefix}{kind}"


def settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Celery configuration for the environment `env` (default: the process environment)."""
    conf = vod_settings(env)
    visibility = conf.redelivery_timeout
    encode, io = (f"{conf.queue_prefix}{kind}" for kind in (ENCODE, IO))
    transport = {
        "visibility_timeout": visibility,
        # Look for abandoned tasks often enough that redelivery follows the timeout closely.
        "unacked_restore_interval": max(1, min(10, int(visibility // 10))),
        "unacked_restore_throttle": 1,
    }
    return {
        "broker_url": conf.broker,
        "result_backend": conf.results,
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
        "task_soft_time_limit": conf.soft_time_limit,
        "task_time_limit": conf.hard_time_limit,
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


app = configure(Celery("vod", include=MODULES))
