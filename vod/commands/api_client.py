"""How `vod` subcommands talk to the HTTP app: a client (remote with a bearer token, or the app
in-process on a database the caller can already open), and the app's problem details turned back
into project errors, so `friendly_errors` prints one line ("HTTP 403 no_active_subscription:
...") and no command ever shows a traceback for them.

The token comes from `--token` or VOD_API_TOKEN (prefer the variable: argv shows in `ps`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import httpx

from core.errors import (
    BadInput,
    Conflict,
    NotFound,
    Refused,
    Transient,
    Unauthenticated,
    VodError,
)

UNREACHABLE_HINT = "is `vod catalogue serve` running?"
TOKEN_HINT = " (give a token: VOD_API_TOKEN or --token; `vod auth token` mints one)"

token_option = click.option(
    "--token",
    envvar="VOD_API_TOKEN",
    help="Bearer token for the API (default: $VOD_API_TOKEN; prefer the variable, argv is "
    "visible to other users).",
)


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.strip()}"} if token and token.strip() else {}


CATEGORY_BY_STATUS: dict[int, type[VodError]] = {
    400: BadInput, 401: Unauthenticated, 403: Refused, 404: NotFound, 409: Conflict,
    410: NotFound, 413: BadInput, 422: BadInput, 429: Transient, 502: Transient, 503: Transient,
    504: Transient,
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
    if resp.status_code == 401:
        cause += TOKEN_HINT
    category = CATEGORY_BY_STATUS.get(resp.status_code, VodError)
    return category(str(resp.request.url), cause, reason=reason)


def checked(resp: httpx.Response) -> Any:
    """The response's JSON (None when empty), or its error raised as a project error."""
    if resp.status_code >= 400:
        raise error_from_response(resp)
    return resp.json() if resp.content else None


def unreachable(url: str, exc: httpx.HTTPError) -> Transient:
    return Transient(url, f"{exc} ({UNREACHABLE_HINT})", reason="api_unreachable")


def call(method: str, url: str, token: str | None = None, **kw: Any) -> Any:
    """One request to a running API: its JSON, or a project error naming the URL."""
    try:
        resp = httpx.request(method, url, timeout=60, headers=bearer(token), **kw)
    except httpx.HTTPError as e:
        raise unreachable(url, e) from None
    return checked(resp)


@contextmanager
def client(
    api: str | None, database_url: str | None, token: str | None = None
) -> Iterator[httpx.Client]:
    """An HTTP client for the API: the app in-process when a database URL is given (whoever can
    open the database is its operator already), else the running API at `api` (default
    VOD_API_URL) with the bearer token."""
    if api or not database_url:
        from core.settings import settings

        base = api or settings().api_url
        with httpx.Client(base_url=base, timeout=120, headers=bearer(token)) as c:
            try:
                yield c
            except httpx.HTTPError as e:
                raise unreachable(api, e) from None
        return
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth import NO_AUTH

    app = create_app(database_url, auth=NO_AUTH)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
