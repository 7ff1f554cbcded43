"""Playback sessions over HTTP (mounted by `api.app`): create a session, heartbeat it, release
it, and the ClearKey licence proxy bound to it (licences for DASH, raw keys for HLS). Refusals
are `playback.errors`, answered as problem details with a `reason` and a status saying who must
act: 403 not entitled, 404 unknown, 409 stream limit, 410 released.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from api.auth import Caller, act_for, own_customer, responses
from api.params import ID_PATTERN as ID
from api.params import TITLE_ID_PATTERN
from api.problems import PayloadTooLarge, documented
from playback import service
from playback.errors import PlaybackUnavailable
from playback.service import SESSIONS_PATH, Playback

SID = r"^[A-Za-z0-9_-]{8,64}$"
SidPath = Annotated[str, Path(pattern=SID)]
KidPath = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{32}$", description="the KID, 32 hex digits")]
AuthQuery = Annotated[str | None, Query(max_length=2000, description="the session credential")]
MAX_LICENSE_BODY = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}
KEY_BYTES = {"description": "the content key (16 bytes)",
             "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                 "format": "binary"}}}}  # fmt: skip
BROWSER_PREFIXES = ("/playback/", "/qoe/")


class SessionBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    customer_id: str = Field(alias="customerId", pattern=ID, max_length=100)
    device_id: str = Field(alias="deviceId", pattern=ID, max_length=100)
    title_id: str = Field(alias="titleId", pattern=TITLE_ID_PATTERN)


def _refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    what = {400: "malformed request", 403: "not entitled or bad credential", 404: "unknown",
            409: "concurrent-stream limit reached", 410: "session released",
            413: "request too large", 503: "playback not configured"}  # fmt: skip
    return documented({c: what[c] for c in (*codes, 503)})


class PlayerCORSMiddleware(CORSMiddleware):
    """CORS for what players call from their own page (sessions, licences, CMCD reports) and
    nothing else: the operator API stays same-origin."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(BROWSER_PREFIXES):
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def add_cors(app: Any) -> None:
    app.add_middleware(
        PlayerCORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        max_age=86400,
    )


async def _run(request: Request, work: Callable[[Playback], Any], status: int = 200) -> Response:
    pb: Playback | None = request.app.state.playback
    if pb is None:
        raise PlaybackUnavailable(
            "playback_not_configured",
            "start the API with a token secret (VOD_TOKEN_SECRET) or VOD_PLAYBACK_CONFIG",
        )
    result = await run_in_threadpool(work, pb)
    if isinstance(result, Response):
        return result
    return JSONResponse(result, status_code=status)


def router() -> APIRouter:
    r = APIRouter(tags=["playback"])

    @r.post(
        SESSIONS_PATH,
        status_code=201,
        summary="Start a playback session: entitlement, "
        "stream slot, signed manifest URLs, session-bound licence URL",
        responses={**_refusals(403, 404, 409), **responses(401)},
    )
    async def create(request: Request, who: Caller, body: SessionBody) -> Response:
        act_for(who, body.customer_id)
        base = str(request.base_url)

        def work(pb: Playback) -> dict[str, Any]:
            with request.app.state.sessions() as db:
                return service.create_session(
                    pb,
                    db,
                    customer=body.customer_id,
                    device_id=body.device_id,
                    title_id=body.title_id,
                    api_base=base,
                    now=datetime.now(UTC),
                )

        return await _run(request, work, status=201)

    @r.get(SESSIONS_PATH, summary="A customer's sessions holding a live stream slot",
           responses={**_refusals(), **responses(401, 403)})  # fmt: skip
    async def live(
        request: Request,
        who: Caller,
        customer: Annotated[str | None, Query(pattern=ID, max_length=100)] = None,
    ) -> Response:
        customer = own_customer(who, customer)

        def work(pb: Playback) -> list[dict[str, Any]]:
            ids = pb.slots.live(customer)
            found = pb.sessions.get_many(ids)
            return [found[i].model_dump(mode="json") for i in ids if i in found]

        return await _run(request, work)

    @r.post(SESSIONS_PATH + "/{sid}/heartbeat", summary="Keep the session's stream slot",
            responses=_refusals(403, 404, 409, 410))  # fmt: skip
    async def beat(request: Request, sid: SidPath, auth: AuthQuery = None) -> Response:
        return await _run(request, lambda pb: service.heartbeat(pb, sid, auth, time.time()))

    @r.delete(SESSIONS_PATH + "/{sid}", summary="End the session and free its stream slot",
              responses=_refusals(403, 404, 410))  # fmt: skip
    async def end(request: Request, sid: SidPath, auth: AuthQuery = None) -> Response:
        def work(pb: Playback) -> dict[str, Any]:
            record = service.release(pb, sid, auth, time.time())
            qoe = request.app.state.qoe
            if qoe is not None:
                qoe.session_ended(record)
            return {"sessionId": sid, "released": True}

        return await _run(request, work)

    @r.post(SESSIONS_PATH + "/{sid}/license", summary="ClearKey licence for this session",
            responses=_refusals(400, 403, 404, 409, 410, 413))  # fmt: skip
    async def licence(request: Request, sid: SidPath, auth: AuthQuery = None) -> Response:
        body = await request.body()
        if len(body) > MAX_LICENSE_BODY:
            raise PayloadTooLarge(None, "body too large", reason="bad_license_request")
        return await _run(
            request, lambda pb: service.issue_licence(pb, sid, auth, body, time.time())
        )

    @r.get(SESSIONS_PATH + "/{sid}/keys/{kid_hex}", response_class=Response,
           summary="HLS identity key delivery: the raw 16-byte key of one KID of this session",
           responses={**_refusals(403, 404, 409, 410), 200: KEY_BYTES})  # fmt: skip
    async def key(
        request: Request, sid: SidPath, kid_hex: KidPath, auth: AuthQuery = None
    ) -> Response:
        def work(pb: Playback) -> Response:
            raw = service.deliver_key(pb, sid, auth, kid_hex, time.time())
            return Response(raw, media_type="application/octet-stream", headers=NO_STORE)

        return await _run(request, work)

    return r
