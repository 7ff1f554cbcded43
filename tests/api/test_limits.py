"""api.limits on a real uvicorn: request bodies over the cap are refused with a 413 problem
whether declared or streamed (and a streamed one is never read past the cap), a large body under
the cap reaches validation and its 422 stays small, and session creation and licence/key requests
are limited per client per minute (429 problem with Retry-After), in memory or in Redis shared by
every API worker, keyed by the token's subject when there is one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_lib
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import limits, problems
from api.app import CATALOGUE_ONLY, create_app
from auth.principal import Principal
from playback.config import CdnOrigin, PlaybackConfig
from tests.support.auth import DevAuth
from tests.support.subscriber_db import _serve

SESSIONS = "/playback/v1/sessions"
ENTITLEMENT = "/entitlements"
MIB = 1024 * 1024
# A moment 15.2 s into a window, held still so no test straddles a minute boundary.
FROZEN = 1_700_000_000 // 60 * 60 + 15.2


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    srv, thread, url = _serve(app)
    try:
        yield url
    finally:
        srv.should_exit = True
        thread.join(10)


def probe_app(seen: list[int]) -> FastAPI:
    """The limits alone on routes shaped like the playback ones; the upload route records how
    many body bytes it was handed, and an outer middleware plays authentication (X-Subject)."""
    app = FastAPI()

    @app.post("/upload")
    async def upload(request: Request) -> JSONResponse:
        async for chunk in request.stream():
            seen.append((seen[-1] if seen else 0) + len(chunk))
        return JSONResponse({"read": seen[-1] if seen else 0})

    @app.post(SESSIONS, status_code=201)
    async def create() -> JSONResponse:
        return JSONResponse({"created": True}, 201)

    @app.get(SESSIONS)
    async def live() -> JSONResponse:
        return JSONResponse([])

    @app.post(SESSIONS + "/{sid}/license")
    async def licence(sid: str) -> JSONResponse:
        return JSONResponse({"keys": []})

    @app.get(SESSIONS + "/{sid}/keys/{kid}")
    async def key(sid: str, kid: str) -> JSONResponse:
        return JSONResponse({"kid": kid})

    limits.install(app)
    problems.install(app)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Any:
        if "x-subject" in request.headers:
            request.state.principal = Principal(request.headers["x-subject"], frozenset())
        return await call_next(request)

    return app


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(limits, "now", lambda: FROZEN)
    return FROZEN


def assert_problem(resp: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == problems.PROBLEM_JSON
    body = resp.json()
    assert (body["status"], body["reason"]) == (status, reason)
    return body


# -- request bodies -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue_api(tmp_path_factory: pytest.TempPathFactory, dev_auth: DevAuth) -> Iterator[str]:
    """The real app (catalogue routes, default 1 MiB cap) on loopback."""
    url = f"sqlite:///{tmp_path_factory.mktemp('limits') / 'vod.db'}"
    app = create_app(url, routers=CATALOGUE_ONLY, auth=dev_auth.verifier())
    with serving(app) as base:
        yield base
    app.state.engine.dispose()


def test_declared_body_over_the_cap_is_a_413_problem(
    catalogue_api: str, operator_headers: dict[str, str]
) -> None:
    body = b'{"title_id": "' + b"x" * MIB + b'"}'
    headers = {**operator_headers, "Content-Type": "application/json"}
    resp = httpx.post(catalogue_api + ENTITLEMENT, content=body, headers=headers, timeout=30)
    problem = assert_problem(resp, 413, "payload_too_large")
    assert str(MIB) in problem["detail"]


def test_streamed_body_over_the_cap_is_a_413_problem_not_a_parse_error(
    catalogue_api: str, operator_headers: dict[str, str]
) -> None:
    """No Content-Length (chunked): FastAPI's body parsing meets the cap mid-stream."""

    def chunks() -> Iterator[bytes]:
        yield b'{"title_id": "'
        for _ in range(20):
            yield b"x" * (64 * 1024)
        yield b'"}'

    headers = {**operator_headers, "Content-Type": "application/json"}
    resp = httpx.post(catalogue_api + ENTITLEMENT, content=chunks(), headers=headers, timeout=30)
    assert_problem(resp, 413, "payload_too_large")


def test_a_streamed_body_is_never_read_past_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOD_MAX_BODY_BYTES", str(100_000))
    seen: list[int] = []
    with serving(probe_app(seen)) as base:
        small = httpx.post(base + "/upload", content=iter([b"a" * 60_000, b"b" * 40_000]))
        assert small.status_code == 200 and small.json() == {"read": 100_000}
        seen.clear()
        big = httpx.post(base + "/upload", content=(b"c" * 16_384 for _ in range(320)))  # 5 MiB
    assert_problem(big, 413, "payload_too_large")
    # The read that crossed the cap never reached the route (uvicorn may hand over several
    # chunks in one read, so the route may have seen nothing at all).
    assert all(n <= 100_000 for n in seen)


def test_a_large_body_under_the_cap_gets_a_small_422(
    catalogue_api: str, operator_headers: dict[str, str]
) -> None:
    """900 KiB in one field passes the cap, fails validation, and is not echoed back."""
    huge = "y" * (900 * 1024)
    body = {"title_id": huge, "territory": "GB"}  # and no device: two errors, one of them huge
    resp = httpx.post(catalogue_api + ENTITLEMENT, json=body, headers=operator_headers, timeout=30)
    problem = assert_problem(resp, 422, "invalid_request")
    assert len(resp.content) < 4096
    shortened = [e["input"] for e in problem["errors"] if e["loc"][-1] == "title_id"]
    assert shortened and len(shortened[0]) <= problems.MAX_INPUT_CHARS + 1
    assert shortened[0].endswith("…")


# -- rate limits --------------------------------------------------------------------------------


def test_session_creation_is_limited_per_client_with_retry_after(
    monkeypatch: pytest.MonkeyPatch, frozen_clock: float
) -> None:
    monkeypatch.setenv("VOD_RATE_LIMIT_SESSIONS", "3")
    with serving(probe_app([])) as base, httpx.Client(base_url=base) as http:
        statuses = [http.post(SESSIONS).status_code for _ in range(3)]
        over = http.post(SESSIONS)
        listing = [http.get(SESSIONS).status_code for _ in range(5)]  # not a limited call
        others = [http.post(SESSIONS, headers={"X-Subject": "cust-b"}).status_code
                  for _ in range(3)]  # fmt: skip
        b_over = http.post(SESSIONS, headers={"X-Subject": "cust-b"})
    assert statuses == [201, 201, 201]
    body = assert_problem(over, 429, "rate_limited")
    window_end = (int(frozen_clock) // 60 + 1) * 60
    assert over.headers["Retry-After"] == str(window_end - int(frozen_clock)) == "45"
    assert body["retryAfter"] == 45
    assert listing == [200] * 5
    assert others == [201, 201, 201]  # another subject has a budget of its own
    assert_problem(b_over, 429, "rate_limited")


def test_licence_and_key_requests_share_their_own_budget(
    monkeypatch: pytest.MonkeyPatch, frozen_clock: float
) -> None:
    monkeypatch.setenv("VOD_RATE_LIMIT_SESSIONS", "1")
    monkeypatch.setenv("VOD_RATE_LIMIT_LICENSES", "4")
    with serving(probe_app([])) as base, httpx.Client(base_url=base) as http:
        assert http.post(SESSIONS).status_code == 201
        got = [http.post(f"{SESSIONS}/s1/license?auth=x").status_code for _ in range(2)]
        got += [http.get(f"{SESSIONS}/s1/keys/k{i}").status_code for i in range(2)]
        over = http.get(f"{SESSIONS}/s1/keys/k9")
    assert got == [200, 200, 200, 200]
    assert_problem(over, 429, "rate_limited")


def test_zero_means_no_limit(monkeypatch: pytest.MonkeyPatch, frozen_clock: float) -> None:
    monkeypatch.setenv("VOD_RATE_LIMIT_SESSIONS", "0")
    with serving(probe_app([])) as base, httpx.Client(base_url=base) as http:
        assert {http.post(SESSIONS).status_code for _ in range(40)} == {201}


def playback_app(database: Path, redis_url: str, prefix: str, auth: Any) -> FastAPI:
    config = PlaybackConfig(
        origins=[CdnOrigin(name="default", base_url="http://127.0.0.1:9", token_secret="s" * 32)],
        session_secret=uuid.uuid4().hex * 2,
        redis_url=redis_url,
        redis_prefix=prefix,
    )
    return create_app(f"sqlite:///{database}", playback=config, auth=auth,
                      redis=redis_lib.Redis.from_url(redis_url))  # fmt: skip


def test_redis_counts_are_shared_by_api_workers_and_keyed_by_token_subject(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    frozen_clock: float,
    redis_service: str,
    dev_auth: DevAuth,
) -> None:
    """Two apps on one Redis (two workers): the budget is the client's, not the worker's. The
    client is the verified token's subject, whatever the session outcome (here 403/404)."""
    monkeypatch.setenv("VOD_RATE_LIMIT_SESSIONS", "3")
    prefix = f"vodtest-{uuid.uuid4().hex[:8]}:"
    redis = redis_lib.Redis.from_url(redis_service)
    alice, bob = dev_auth.subscriber("cust-alice"), dev_auth.subscriber("cust-bob")
    body = {"customerId": "cust-alice", "deviceId": "d1", "titleId": "sample"}
    one = playback_app(tmp_path / "a.db", redis_service, prefix, dev_auth.verifier())
    two = playback_app(tmp_path / "b.db", redis_service, prefix, dev_auth.verifier())
    try:
        with serving(one) as a, serving(two) as b:
            first = [httpx.post(a + SESSIONS, json=body, headers=alice) for _ in range(2)]
            third = httpx.post(b + SESSIONS, json=body, headers=alice)
            fourth = httpx.post(b + SESSIONS, json=body, headers=alice)
            bobs = httpx.post(a + SESSIONS, json={**body, "customerId": "cust-bob"}, headers=bob)
        assert all(r.status_code not in (429, 500) for r in [*first, third]), [
            r.text for r in [*first, third]
        ]
        assert_problem(fourth, 429, "rate_limited")
        assert bobs.status_code != 429
        keys = {k.decode() for k in redis.scan_iter(match=f"{prefix}ratelimit:*")}
        window = int(frozen_clock) // 60
        assert f"{prefix}ratelimit:sessions:sub:cust-alice:{window}" in keys
        assert redis.get(f"{prefix}ratelimit:sessions:sub:cust-alice:{window}") == b"4"
        assert 0 < redis.ttl(f"{prefix}ratelimit:sessions:sub:cust-alice:{window}") <= 120
    finally:
        for app in (one, two):
            app.state.engine.dispose()
        for key in redis.scan_iter(match=f"{prefix}*"):
            redis.delete(key)


def test_openapi_documents_413_and_429_as_problems(catalogue_api: str) -> None:
    app = probe_app([])
    paths = app.openapi()["paths"]
    ref = {"$ref": "#/components/schemas/Problem"}
    assert paths[SESSIONS]["post"]["responses"]["429"]["content"][problems.PROBLEM_JSON] == {
        "schema": ref
    }
    assert "429" in paths[SESSIONS + "/{sid}/keys/{kid}"]["get"]["responses"]
    assert "429" not in paths[SESSIONS]["get"]["responses"]
    served = httpx.get(catalogue_api + "/openapi.json").json()["paths"]
    assert "413" in served[ENTITLEMENT]["post"]["responses"]
