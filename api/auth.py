"""Bearer authentication and ownership for the HTTP app.

Every route depends on `caller` except health, the OpenAPI document, the console's static shell,
the CMCD collector and the session-bound playback routes (licence, keys, heartbeat, release),
which players reach with the session credential they were given instead. `caller` verifies the
`Authorization: Bearer` token with the app's `TokenVerifier` (401 with `WWW-Authenticate` when it
is missing or does not verify); `operator` adds the role check (403); routes ask `act_for` before
touching a customer's data (403), and answer 404 for another customer's resource looked up by id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import documented
from auth.principal import LOCAL_OPERATOR, Principal
from auth.verify import TokenVerifier
from core.errors import BadInput, NotFound, Refused, Unauthenticated

# What `create_app(auth=NO_AUTH)` serves: every caller is the local operator (loopback only).
NO_AUTH = "no-auth"
Auth = TokenVerifier | str


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthenticated(None, "this API needs a bearer token (Authorization: Bearer ...)",
                              reason="missing_token")  # fmt: skip
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(None, "the Authorization header must be `Bearer <token>`",
                              reason="invalid_token")  # fmt: skip
    return token.strip()


# Documents the scheme in OpenAPI; the header is checked by `_bearer` (our problems, not its).
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT",
                    description="OAuth 2.0 access token (RFC 9068 JWT), aud `vod-api`")  # fmt: skip


async def caller(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> Principal:
    """The authenticated caller of this request (also kept on `request.state.principal`)."""
    auth: Auth = request.app.state.auth
    if auth == NO_AUTH:
        principal = LOCAL_OPERATOR
    else:
        assert isinstance(auth, TokenVerifier)
        principal = auth.verify(_bearer(request))
    if not principal.roles:
        raise Refused(None, "the token carries no vod role (operator or subscriber)",
                      reason="no_role")  # fmt: skip
    request.state.principal = principal
    return principal


async def operator(who: Annotated[Principal, Depends(caller)]) -> Principal:
    if not who.is_operator:
        raise Refused(None, "this needs the operator role", reason="operator_only")
    return who


Caller = Annotated[Principal, Depends(caller)]
Operator = Annotated[Principal, Depends(operator)]


def act_for(who: Principal, customer: str) -> str:
    """`customer` if the caller may act for it, else 403 (naming nobody else's data)."""
    if not who.may_act_for(customer):
        raise Refused(None, f"a subscriber acts only for itself, not for {customer!r}",
                      reason="not_your_customer")  # fmt: skip
    return customer


def own_customer(who: Principal, customer: str | None) -> str:
    """The customer a list is about: the one named (if the caller may), else the caller's own."""
    if customer is not None:
        return act_for(who, customer)
    if who.customer is None:
        raise BadInput(None, "name a customer (?customer=...)", reason="customer_required")
    return who.customer


def owned(who: Principal, owner: str, resource: NotFound) -> None:
    """Raise `resource` (a 404) when the caller may not see a resource of `owner`."""
    if not who.may_act_for(owner):
        raise resource


def responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """`responses=` entries for the authentication outcomes a route can answer."""
    what = {401: "no bearer token, or it does not verify (expired, forged, wrong audience)",
            403: "the token's role or customer may not do this"}  # fmt: skip
    return documented({c: what[c] for c in codes})
