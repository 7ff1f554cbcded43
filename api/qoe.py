"""QoE over HTTP: the CMCD endpoint players report to, the KPI series and the TMF642 alarms.

`/qoe/v1/cmcd` takes every CMCD form: `?CMCD=` query arguments (GET or POST), CMCD-* headers,
and v2 event-mode bodies (`application/cmcd`, one report per line); several in one request are
applied in that order. It answers 204, or 400 (`qoe.cmcd.CmcdError`) naming the malformed
part; only reports of live playback sessions reach the KPIs and alarms, the others are counted
in the KPI response's `rejected` (see `qoe.collector`). Mounted by `api.app`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from api.auth import Operator, responses
from api.problems import PayloadTooLarge, documented
from core.errors import NotFound, Transient
from qoe import cmcd
from qoe.alarms import ALARM_PATH, tmf642
from qoe.collector import QoeCollector
from qoe.tables import AlarmRow

CMCD_PATH = "/qoe/v1/cmcd"
MAX_BODY = 256 * 1024
AlarmIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]  # a BIGINT id


def _collector(request: Request) -> QoeCollector:
    qoe = request.app.state.qoe
    if qoe is None:
        raise Transient(None, "QoE collection needs Redis (VOD_PLAYBACK_REDIS_URL)",
                        reason="qoe_not_configured")  # fmt: skip
    return qoe


async def _reports(request: Request) -> list[dict[str, Any]]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(None, f"CMCD body over {MAX_BODY} bytes")
    reports = cmcd.from_query(request.query_params.getlist("CMCD"))
    reports += cmcd.from_headers(request.headers)
    if body.strip():
        reports += cmcd.from_body(body)
    return reports  # a malformed part raises CmcdError: 400 naming it


# ~1 kB: what fits a URL or a header on any server (players send a few dozen bytes).
CMCD_DICT = {"type": "string", "maxLength": 1024,
             "description": "an RFC 8941 dictionary of CMCD keys"}  # fmt: skip
CMCD_PARAMETERS = [
    {"name": "CMCD", "in": "query", "required": False, "schema": CMCD_DICT,
     "example": 'br=3200,bs,sid="6e2fb550",sta=p'},
    *({"name": h, "in": "header", "required": False, "schema": CMCD_DICT}
      for h in cmcd.HEADER_NAMES),
]  # fmt: skip
CMCD_BODY = {
    "content": {
        "application/cmcd": {
            "schema": {
                "type": "string",
                "maxLength": MAX_BODY,
                "description": "event mode: one report per line",
            }
        }
    }
}


def router() -> APIRouter:
    r = APIRouter(tags=["QoE"])

    async def report(request: Request) -> Response:
        qoe = _collector(request)
        reports = await _reports(request)
        if reports:
            await run_in_threadpool(qoe.ingest, reports)
        return Response(status_code=204)

    summary = "Report CMCD: query argument, headers or event-mode body"
    for method in ("GET", "POST"):
        r.add_api_route(
            CMCD_PATH,
            report,
            methods=[method],
            status_code=204,
            summary=summary,
            operation_id=f"cmcd_report_{method.lower()}",
            openapi_extra={
                "parameters": CMCD_PARAMETERS,
                **({"requestBody": CMCD_BODY} if method == "POST" else {}),
            },
            responses=documented(
                {400: "not CMCD: the detail names the part", 413: "body too large", 503: "no Redis"}
            ),  # fmt: skip
        )

    @r.get("/qoe/v1/kpi", summary="KPIs per minute, title, device class and CDN",
           responses={**documented({503: "no Redis"}), **responses(401, 403)})  # fmt: skip
    async def kpi(
        request: Request,
        who: Operator,
        minutes: Annotated[int, Query(ge=1, le=3 * 24 * 60)] = 60,
        title_id: Annotated[str | None, Query(alias="titleId", max_length=200)] = None,
        device_class: Annotated[str | None, Query(alias="deviceClass", max_length=20)] = None,
        cdn: Annotated[str | None, Query(max_length=64)] = None,
    ) -> JSONResponse:
        qoe = _collector(request)
        now = int(time.time() * 1000)
        windows = await run_in_threadpool(
            qoe.series,
            now - minutes * 60_000,
            now + 10 * 60_000,
            title_id=title_id,
            device_class=device_class,
            cdn=cdn,
        )
        rejected = await run_in_threadpool(qoe.rejected)  # reports naming no live session
        return JSONResponse({"granularity": "PT1M", "windows": windows, "rejected": rejected})

    @r.get(ALARM_PATH, tags=["TMF642"], summary="QoE alarms, newest first",
           responses=responses(401, 403))  # fmt: skip
    async def list_alarms(
        request: Request,
        who: Operator,
        state: Annotated[str | None, Query(pattern=r"^(raised|cleared)$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> JSONResponse:
        def work() -> list[dict[str, Any]]:
            with request.app.state.sessions() as s:
                q = select(AlarmRow).order_by(AlarmRow.id.desc()).limit(limit)
                if state:
                    q = q.where(AlarmRow.state == state)
                return [tmf642(row) for row in s.scalars(q)]

        return JSONResponse(await run_in_threadpool(work))

    @r.get(ALARM_PATH + "/{alarm_id}", tags=["TMF642"], summary="One alarm",
           responses={**documented({404: "unknown alarm"}), **responses(401, 403)})  # fmt: skip
    async def get_alarm(request: Request, who: Operator, alarm_id: AlarmIdPath) -> JSONResponse:
        def work() -> dict[str, Any]:
            with request.app.state.sessions() as s:
                row = s.get(AlarmRow, alarm_id)
                if row is None:
                    raise NotFound(None, f"unknown alarm {alarm_id}", reason="unknown_alarm")
                return tmf642(row)

        return JSONResponse(await run_in_threadpool(work))

    return r
