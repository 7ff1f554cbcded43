"""How `vod` subcommands talk to the HTTP app: a client (remote, or the app in-process), and the
app's problem details turned back into project errors, so `friendly_errors` prints one line
("HTTP 403 no_active_subscription: ...") and no command ever shows a traceback for them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from core.errors import BadInput, Conflict, NotFound, Refused, Transient, VodError

UNREACHABLE_HINT = "is `vod catalogue serve` running?"
CATEGORY_BY_STATUS: dict[int, type[VodError]] = {
    400: BadInput, 403: Refused, 404: NotFound, 409: Conflict, 410: NotFound, 413: BadInput,
    422: BadInput, 502: Transient, 503: Transient, 504: Transient,
}  # fmt: skip


def error_from_response(resp: httpx.Response) -> VodError:
    """The project error an error response stands for; its message keeps status and reason."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        reason = str(body.get("reason") or "")
        detail = body.get("detail", "")
        detail = detail if isinstance(detail, str) else str(detail)
    else:
        reason, detail = "", resp.text.strip()
    status = " ".join(p for p in (f"HTTP {resp.status_code}", reason) if p)
    cause = f"{status}: {detail}" if detail else status
    category = CATEGORY_BY_STATUS.get(resp.status_code, VodError)
    return category(str(resp.request.url), cause, reason=reason)


def checked(resp: httpx.Response) -> Any:
    """The response's JSON (None when empty), or its error raised as a project error."""
    if resp.status_code >= 400:
        raise error_from_response(resp)
    return resp.json() if resp.content else None


def unreachable(url: str, exc: httpx.HTTPError) -> Transient:
    return Transient(url, f"{exc} ({UNREACHABLE_HINT})", reason="api_unreachable")


def call(method: str, url: str, **kw: Any) -> Any:
    """One request to a running API: its JSON, or a project error naming the URL."""
    try:
        resp = httpx.request(method, url, timeout=60, **kw)
    except httpx.HTTPError as e:
        raise unreachable(url, e) from None
    return checked(resp)


@contextmanager
def client(api: str | None, database_url: str | None) -> Iterator[httpx.Client]:
    """An HTTP client for the API: remote (`api`), or the app itself in-process."""
    if api:
        with httpx.Client(base_url=api, timeout=120) as c:
            try:
                yield c
            except httpx.HTTPError as e:
                raise unreachable(api, e) from None
        return
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(database_url), raise_server_exceptions=False) as c:
        yield c
