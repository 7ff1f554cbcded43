"""One error shape for the whole HTTP app: RFC 9457 problem details.

Every error is answered as `application/problem+json` with `type`, `title`, `status`, `detail`
and our machine-readable `reason`, plus fields a domain error adds (a stream `limit`, the
`offers` that would entitle) and `errors` for request validation. Routes raise core.errors
categories (their `reason` and status travel with them); FastAPI's HTTPException and
RequestValidationError and anything unexpected are mapped here, so no route answers its own
error body. The OpenAPI document says the same: every 4xx/5xx response is a `Problem`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from core.errors import BadInput, ConfigError, VodError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
MAX_INPUT_CHARS = 120  # a 422 names the bad input, it does not echo a megabyte of it
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


class FieldProblem(BaseModel):
    """One invalid part of a request (where, what is wrong, the value, shortened)."""

    loc: list[str | int]
    msg: str
    type: str
    input: Any = None


class Problem(BaseModel):
    """RFC 9457 problem details with our machine-readable `reason`."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    reason: str
    resource: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None


class PayloadTooLarge(BadInput):
    """The request body is over the endpoint's limit (413)."""

    status = 413
    default_reason = "payload_too_large"


def documented(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status answered as a Problem, with its description."""
    return {code: {"model": Problem, "description": d} for code, d in descriptions.items()}


def problem_response(body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    status = body["status"]
    return JSONResponse(jsonable_encoder(body), status, dict(headers or {}), PROBLEM_JSON)


def generic_problem(status: int, detail: str, reason: str | None = None) -> dict[str, Any]:
    """A problem for a status no project error stands behind (routing, framework, crashes)."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    slug = reason or phrase.lower().replace(" ", "_").replace("-", "_").replace("'", "")
    return {"type": f"urn:vod-pipeline:problem:{slug}", "title": phrase.lower(),
            "status": status, "detail": detail, "reason": slug}  # fmt: skip


def _short(value: Any) -> Any:
    """The input as JSON when short, else its first MAX_INPUT_CHARS characters."""
    try:
        plain = jsonable_encoder(value)
        text = json.dumps(plain, ensure_ascii=False)
    except (TypeError, ValueError):
        plain, text = None, repr(value)
    if len(text) <= MAX_INPUT_CHARS and plain is not None:
        return plain
    return text[:MAX_INPUT_CHARS] + "…"


def field_problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
         "type": str(e.get("type", "")), "input": _short(e.get("input"))}
        for e in exc.errors()
    ]  # fmt: skip


def _where(loc: list[Any]) -> str:
    return ".".join(str(p) for p in loc) or "request"


async def _project_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VodError)
    if isinstance(exc, ConfigError):  # the server's setting, not the caller's input
        log.error("%s %s: %s", request.method, request.url.path, exc.one_line())
        body = generic_problem(503, "the service is misconfigured; the operator's log says how",
                               "misconfigured")  # fmt: skip
        return problem_response({**body, "instance": request.url.path})
    headers = {}
    if exc.status == 401:  # RFC 6750: say how to authenticate, and why a token was refused
        error = ', error="invalid_token"' if exc.reason == "invalid_token" else ""
        headers["WWW-Authenticate"] = f'Bearer realm="vod-api"{error}'
    return problem_response(exc.problem(instance=request.url.path), headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    body = generic_problem(exc.status_code, detail)
    body["instance"] = request.url.path
    return problem_response(body, headers=exc.headers)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = field_problems(exc)
    first = f"{_where(errors[0]['loc'])}: {errors[0]['msg']}" if errors else "invalid request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    err = BadInput(None, f"{first}{more}", reason="invalid_request")
    return problem_response({**err.problem(instance=request.url.path), "errors": errors})


async def _unexpected(request: Request, exc: Exception) -> Response:
    """500 with a generic detail; the log names the route, never its query (credentials)."""
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path,
              exc_info=exc)  # fmt: skip
    body = generic_problem(500, "the server could not answer this request", "internal_error")
    return problem_response(body)


HANDLERS: dict[type[Exception], Callable[..., Any]] = {
    VodError: _project_error,
    HTTPException: _http_error,
    RequestValidationError: _invalid_request,
    Exception: _unexpected,
}


def install(app: FastAPI) -> None:
    """Problem details for every error the app answers, in its responses and its OpenAPI."""
    for exc_type, handler in HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problems_documented(plain_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problems_documented(schema: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx response of every operation documented as `application/problem+json`."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for code, response in operation.get("responses", {}).items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    text = json.dumps({k: v for k, v in schema.items() if k != "components"})
    text += json.dumps({k: v for k, v in schemas.items() if k not in _FASTAPI_ERRORS})
    for name in _FASTAPI_ERRORS:
        if f"#/components/schemas/{name}" not in text:
            schemas.pop(name, None)
    return schema


_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")
