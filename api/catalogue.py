"""The catalogue over HTTP: browse, title detail and playback entitlement decisions.

Thin by design: validate input (clear 422s, never a 500 on bad input), open a session, call
`catalogue.store` / `catalogue.entitlement.decide`, return their models as JSON. The blocking
database work runs in FastAPI's thread pool, one hop per request. Mounted by `api.app`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from api.auth import caller, responses
from api.problems import documented
from catalogue import store
from catalogue.entitlement import Decision, EntitlementRequest, Purchase, decide
from catalogue.model import TITLE_ID_PATTERN
from core.errors import NotFound


def _utc(value: datetime) -> datetime:
    """Aware -> UTC; offsets that push a time past year 1 or 9999 are a 422, not a crash."""
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError) as e:
        raise ValueError("time is out of range once converted to UTC") from e


def _upper(value: str) -> str:
    return value.upper()


UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
TerritoryQuery = Annotated[
    str,
    Query(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 country, e.g. GB"),
    AfterValidator(_upper),
]
AtQuery = Annotated[
    UtcTime | None,
    Query(description="ISO 8601 time with a zone (e.g. 2025-06-01T00:00:00Z); default now"),
]
TitleIdPath = Annotated[str, Path(pattern=TITLE_ID_PATTERN, max_length=200)]


class BrowsePage(BaseModel):
    territory: str
    at: datetime
    items: list[store.CatalogueEntry]
    next_after: str | None = Field(
        default=None, description="pass as `after` for the next page; null on the last page"
    )


class EntitlementBody(EntitlementRequest):
    """A decision request: who, where, which device, what they bought; `at` defaults to now."""

    title_id: str = Field(pattern=TITLE_ID_PATTERN, max_length=200)
    territory: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$"), AfterValidator(_upper)]
    purchases: list[Purchase] = Field(default_factory=list, max_length=1000)
    at: UtcTime | None = None


NOT_FOUND = documented({404: "unknown title"})


async def _in_thread(request: Request, work: Callable[[Session], BaseModel]) -> Response:
    """Session, store and serialisation in one worker-thread hop; the model is returned as
    JSON as is (FastAPI would validate it a second time against `response_model`, which still
    documents it)."""

    def run() -> bytes:
        with request.app.state.sessions() as session:
            return work(session).model_dump_json().encode()

    return Response(await run_in_threadpool(run), media_type="application/json")


def unknown_title(title_id: str) -> NotFound:
    return NotFound(None, f"unknown title {title_id!r}", reason="unknown_title")


def router() -> APIRouter:
    """Browse, title detail, entitlement decisions (reads through `app.state.sessions`), for
    any authenticated caller (subscriber or operator)."""
    r = APIRouter(dependencies=[Depends(caller)], responses=responses(401, 403))

    @r.get("/catalogue", response_model=BrowsePage, summary="Titles open in a territory")
    async def browse(
        request: Request,
        territory: TerritoryQuery,
        at: AtQuery = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        after: Annotated[str | None, Query(pattern=TITLE_ID_PATTERN, max_length=200)] = None,
    ) -> Response:
        when = at or datetime.now(UTC)

        def page(s: Session) -> BrowsePage:
            items = store.browse(s, territory, when, limit=limit, after=after)
            next_after = items[-1].title_id if len(items) == limit else None
            return BrowsePage(territory=territory, at=when, items=items, next_after=next_after)

        return await _in_thread(request, page)

    @r.get(
        "/titles/{title_id}",
        response_model=store.TitleDetail,
        responses=NOT_FOUND,
        summary="A title's windows and presentation as seen from a territory",
    )
    async def title(
        request: Request, title_id: TitleIdPath, territory: TerritoryQuery, at: AtQuery = None
    ) -> Response:
        def detail(s: Session) -> store.TitleDetail:
            found = store.title_detail(s, title_id, territory, at or datetime.now(UTC))
            if found is None:
                raise unknown_title(title_id)
            return found

        return await _in_thread(request, detail)

    @r.post(
        "/entitlements",
        response_model=Decision,
        responses=NOT_FOUND,
        summary="May this subscriber play this title now, and at what quality?",
    )
    async def entitlement(request: Request, body: EntitlementBody) -> Response:
        def decision(s: Session) -> Decision:
            inputs = store.entitlement_inputs(s, body.title_id, body.territory)
            if inputs is None:
                raise unknown_title(body.title_id)
            windows, presentation = inputs
            req = EntitlementRequest(
                title_id=body.title_id,
                territory=body.territory,
                tier=body.tier,
                device=body.device,
                language=body.language,
            )
            now = body.at or datetime.now(UTC)
            return decide(req, windows, body.purchases, presentation, now)

        return await _in_thread(request, decision)

    return r
