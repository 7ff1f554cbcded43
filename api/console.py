"""The operations console: one static page (static/console.html) drawn from the JSON APIs.
Served at /console; `?order=<id>` opens an order's flow, `?customer=<id>` lists orders, and
`?qoe=1` charts the QoE KPIs per minute with the TMF642 alarms (narrow it with `titleId`,
`deviceClass`, `cdn`, `minutes`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE = Path(__file__).with_name("static") / "console.html"


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/console", response_class=HTMLResponse, include_in_schema=False)
    async def console_page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    return r
