"""Request hygiene for the HTTP app: a cap on request bodies and a per-client rate limit on the
calls that cost the most (opening playback sessions, licences and keys).

Both are pure ASGI middleware, so they act before routing and before any body is parsed:

* Bodies: a `Content-Length` over `VOD_MAX_BODY_BYTES` is answered 413 at once, without reading
  a byte; a chunked body is counted while the app streams it and the read that crosses the cap
  fails, so no body over the cap is ever held in memory. Routes keep their own smaller caps.
  (Starlette's own body limiter answers plain text on one of its paths; ours always answers the
  one problem shape, `reason` payload_too_large.)
* Rate: a fixed one-minute window per client and bucket, `VOD_RATE_LIMIT_SESSIONS` for
  `POST /playback/v1/sessions` and `VOD_RATE_LIMIT_LICENSES` for licence and key requests; over
  it, 429 with `Retry-After` (seconds to the next window). The client is the authenticated
  subject: `request.state.principal` when something before us set it, else the bearer token
  verified here with the app's own verifier (`app.state.auth`; routes verify it again, so a
  token that does not verify only ever counts against its peer address). Without a verified
  subject (licence and key requests carry the session credential, not a token) the client is
  the peer address.
  Counters live in the app's playback Redis (shared by every API worker) when it has one, in
  process memory otherwise; if Redis fails the request is let through (sessions then fail
  on their own, loudly) rather than refused for a limiter fault.

`install(app)` adds both, documents 413/429 in the OpenAPI and puts the credential-redacting
filter on the access log (`api.access_log`).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import access_log
from api.problems import PROBLEM_JSON, PROBLEM_REF, PayloadTooLarge, problem_response
from core.errors import Refused
from core.settings import settings

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
SESSIONS = "sessions"
LICENSES = "licenses"
# (method, path) -> bucket; the paths are the playback routes' (`api.playback`).
RATE_LIMITED: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"/playback/v1/sessions/?"), SESSIONS),
    ("POST", re.compile(r"/playback/v1/sessions/[^/]+/license/?"), LICENSES),
    ("GET", re.compile(r"/playback/v1/sessions/[^/]+/keys/[^/]+/?"), LICENSES),
)
BODY_METHODS = ("post", "put", "patch")


class RateLimited(Refused):
    """Too many requests from one client in this window (429, `Retry-After` seconds)."""

    category = "rate_limited"
    status = 429
    default_reason = "rate_limited"

    def __init__(self, cause: str, retry_after: int) -> None:
        super().__init__(None, cause)
        self.retry_after = retry_after

    def response(self, instance: str) -> Response:
        body = {**self.problem(instance=instance), "retryAfter": self.retry_after}
        return problem_response(body, headers={"Retry-After": str(self.retry_after)})


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body crosses the cap. An HTTPException so that
    FastAPI's body parsing passes it on (anything else it turns into a 400); `install` maps it
    to the PayloadTooLarge problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")
        self.limit = limit


def _too_large(limit: int, path: str) -> Response:
    err = PayloadTooLarge(None, f"request body over {limit} bytes")
    return problem_response(err.problem(instance=path))


class BodyLimit:
    """Refuses request bodies over `max_bytes` (413 problem), declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            # A body we will not read: answer now (the server drains or drops it).
            await _too_large(self.max_bytes, scope["path"])(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(self.max_bytes, scope["path"])(scope, receive, send)


# -- rate limit -------------------------------------------------------------------------------


class MemoryCounter:
    """Fixed-window counts in this process (one API worker, or no Redis)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> int:
        with self._lock:
            if len(self._counts) > 10_000:  # drop finished windows
                self._counts = {k: n for k, n in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
            return count


class RedisCounter:
    """Fixed-window counts in Redis: INCR and EXPIRE in one transaction, shared by workers."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.prefix = f"{prefix}ratelimit:"

    def hit(self, key: str, window: int) -> int:
        name = f"{self.prefix}{key}:{window}"
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, WINDOW_SECONDS * 2)
            count, _ = pipe.execute()
        return int(count)


def _counter(app: Any) -> MemoryCounter | RedisCounter:
    """The app's playback Redis (sessions store of playback, else of QoE), else memory."""
    pb, qoe = getattr(app.state, "playback", None), getattr(app.state, "qoe", None)
    store = pb.sessions if pb is not None else getattr(qoe, "sessions", None)
    redis = getattr(store, "redis", None)
    if redis is None:
        return MemoryCounter()
    return RedisCounter(redis, getattr(store, "prefix", "vod:"))


def _subject(scope: Scope, verifier: Any) -> str | None:
    principal = (scope.get("state") or {}).get("principal")
    if principal is None and callable(getattr(verifier, "verify", None)):
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            try:
                principal = verifier.verify(token.strip())
            except Exception:  # refused (401 at the route) or IdP down: count by address
                principal = None
    subject = getattr(principal, "subject", None)
    return str(subject)[:200] if subject else None


def client_of(scope: Scope, verifier: Any = None) -> str:
    """Who is asking: the authenticated subject when known, else the peer address."""
    subject = _subject(scope, verifier)
    if subject:
        return f"sub:{subject}"
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


def now() -> float:
    """The clock of the windows (a function, so tests can hold it still)."""
    return time.time()


def bucket_of(scope: Scope) -> str | None:
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    for method, pattern, bucket in RATE_LIMITED:
        if scope["method"] == method and pattern.fullmatch(path):
            return bucket
    return None


@dataclass
class RateLimit:
    """Per-client fixed-window limits by bucket (0 or missing: no limit)."""

    app: ASGIApp
    per_minute: dict[str, int]
    counter: Callable[[], MemoryCounter | RedisCounter]
    verifier: Callable[[], Any] = lambda: None

    def _count(self, scope: Scope, bucket: str, window: int) -> int:
        """The client's requests in this window, this one included (blocking: a thread)."""
        key = f"{bucket}:{client_of(scope, self.verifier())}"
        try:
            return self.counter().hit(key, window)
        except Exception as e:  # a limiter fault must not refuse the request
            log.warning("rate limit not checked (%s: %s)", type(e).__name__, e)
            return 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bucket = bucket_of(scope) if scope["type"] == "http" else None
        limit = self.per_minute.get(bucket or "", 0)
        if bucket and limit > 0:
            t = now()
            window = int(t // WINDOW_SECONDS)
            count = await run_in_threadpool(self._count, scope, bucket, window)
            if count > limit:
                retry = max(1, math.ceil((window + 1) * WINDOW_SECONDS - t))
                err = RateLimited(f"over {limit} {bucket} requests a minute; retry later", retry)
                await err.response(scope["path"])(scope, receive, send)
                return
        await self.app(scope, receive, send)


# -- wiring -----------------------------------------------------------------------------------


async def _body_too_large(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyTooLarge)
    return _too_large(exc.limit, request.url.path)


def _document(app: FastAPI) -> None:
    """413 on every operation with a body and 429 on the rate-limited ones, as problems."""
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        schema = plain_openapi()
        problem = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
        for path, item in schema.get("paths", {}).items():
            for method, op in item.items():
                responses = op.get("responses") if isinstance(op, dict) else None
                if responses is None:
                    continue
                if method in BODY_METHODS and "requestBody" in op:
                    responses.setdefault("413", {"description": "request too large",
                                                 "content": problem})  # fmt: skip
                scope = {"method": method.upper(), "path": path.replace("{", "x").replace("}", "")}
                if bucket_of(scope):
                    responses.setdefault("429", {"description": "too many requests; see "
                                                 "Retry-After", "content": problem})  # fmt: skip
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Body cap, rate limit and access-log redaction on `app`, from the settings."""
    s = settings()
    cached: list[MemoryCounter | RedisCounter] = []

    def counter() -> MemoryCounter | RedisCounter:
        if not cached:  # resolved at the first request: app.state is complete by then
            cached.append(_counter(app))
        return cached[0]

    # Innermost of the user middleware: CORS (added before) wraps our 413/429 answers, so a
    # player's page can read them.
    per_minute = {SESSIONS: s.rate_limit_sessions, LICENSES: s.rate_limit_licenses}
    verifier = lambda: getattr(app.state, "auth", None)  # noqa: E731
    app.user_middleware.append(
        Middleware(RateLimit, per_minute=per_minute, counter=counter, verifier=verifier)
    )
    app.user_middleware.append(Middleware(BodyLimit, max_bytes=s.max_body_bytes))
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    _document(app)
    access_log.install()
