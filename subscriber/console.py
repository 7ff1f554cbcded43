"""The order console: one static page (static/console.html) that draws an order's flow from the
JSON API. Served at /console; `?order=<id>` opens an order, `?customer=<id>` lists orders."""

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
