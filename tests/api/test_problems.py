"""One error shape: every error the HTTP app answers is RFC 9457 problem details with our
`reason`, whether a route raised a project error, FastAPI refused the request, no route matched
or something crashed; and the OpenAPI document says so."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import CATALOGUE_ONLY, create_app
from api.problems import MAX_INPUT_CHARS, PROBLEM_JSON
from core.errors import ConfigError, Refused
from playback.errors import SessionReleased, StreamLimit

PROBLEM_KEYS = {"type", "title", "status", "detail", "reason"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    url = f"sqlite:///{tmp_path_factory.mktemp('problems') / 'vod.db'}"
    app = create_app(url, routers=CATALOGUE_ONLY)

    @app.get("/_test/limit")
    async def limit() -> None:
        raise StreamLimit("concurrent_stream_limit", "3 streams are playing", limit=3)

    @app.get("/_test/refused")
    async def refused() -> None:
        raise Refused("title t1", "not in your territory", reason="no_rights_in_territory")

    @app.get("/_test/misconfigured")
    async def misconfigured() -> None:
        raise ConfigError("VOD_AUTH_JWKS", "cannot read JWKS /etc/vod/jwks.json: Permission denied")

    @app.get("/_test/crash")
    async def crash() -> None:
        raise RuntimeError("password=hunter2 leaked into a message")

    return app


@pytest.fixture(scope="module")
def client(app: FastAPI, operator_headers: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, headers=operator_headers) as c:
        yield c
    app.state.engine.dispose()


def problem(resp, status: int, reason: str) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    body = resp.json()
    assert body.keys() >= PROBLEM_KEYS and isinstance(body["detail"], str)
    assert (body["status"], body["reason"]) == (status, reason)
    assert body["type"] == f"urn:vod-pipeline:problem:{reason}"
    return body


def test_project_errors_keep_reason_status_and_extra_fields(client: TestClient) -> None:
    body = problem(client.get("/_test/limit"), 409, "concurrent_stream_limit")
    assert body["limit"] == 3 and body["detail"] == "3 streams are playing"
    assert body["instance"] == "/_test/limit"
    body = problem(client.get("/_test/refused"), 403, "no_rights_in_territory")
    assert (body["title"], body["resource"]) == ("refused", "title t1")


def test_not_found_from_a_route_and_from_routing(client: TestClient) -> None:
    body = problem(client.get("/titles/zz", params={"territory": "GB"}), 404, "unknown_title")
    assert "zz" in body["detail"]
    problem(client.get("/no/such/route"), 404, "not_found")


def test_method_not_allowed_keeps_its_allow_header(client: TestClient) -> None:
    resp = client.delete("/catalogue")
    problem(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["allow"]


def test_validation_errors_list_each_field_with_short_input(client: TestClient) -> None:
    huge = "G" * 50_000
    body = problem(client.get("/catalogue", params={"territory": huge}), 422, "invalid_request")
    assert body["detail"].startswith("query.territory: ")
    (error,) = body["errors"]
    assert error["loc"] == ["query", "territory"] and error["type"]
    assert len(error["input"]) <= MAX_INPUT_CHARS + 1 and error["input"].endswith("…")
    assert len(client.get("/catalogue", params={"territory": huge}).content) < 2_000
    bad_json = client.post(
        "/entitlements", content=b"{not json", headers={"content-type": "application/json"}
    )
    body = problem(bad_json, 422, "invalid_request")
    assert body["errors"][0]["type"] == "json_invalid"


def test_unexpected_errors_are_a_generic_500_and_logged_without_the_query(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="api.problems"):
        resp = client.get("/_test/crash", params={"auth": "credential-123"})
    body = problem(resp, 500, "internal_error")
    assert "hunter2" not in resp.text and "RuntimeError" not in resp.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /_test/crash" in logged and "credential-123" not in logged
    assert body["detail"] == "the server could not answer this request"


def test_a_server_setting_gone_bad_is_a_503_naming_nothing_private(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A ConfigError met while serving (a JWKS file that became unreadable) is the operator's
    problem: 503 for the caller, without the path; the setting and cause go to the log."""
    with caplog.at_level(logging.ERROR, logger="api.problems"):
        resp = client.get("/_test/misconfigured")
    problem(resp, 503, "misconfigured")
    assert "/etc/vod" not in resp.text and "VOD_AUTH_JWKS" not in resp.text
    assert "VOD_AUTH_JWKS: cannot read JWKS /etc/vod/jwks.json" in caplog.text


def test_openapi_documents_every_error_as_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("VOD_TOKEN_SECRET", "VOD_PLAYBACK_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(f"sqlite:///{tmp_path / 'full.db'}")  # Redis is only dialled when used
    try:
        spec = app.openapi()
    finally:
        app.state.engine.dispose()
    errors = [
        (path, method, code, response)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        for code, response in operation["responses"].items()
        if int(code) >= 400
    ]
    assert len({path for path, *_ in errors}) >= 15
    for path, method, code, response in errors:
        assert list(response["content"]) == [PROBLEM_JSON], (path, method, code)
    schemas = spec["components"]["schemas"]
    assert {"reason", "detail", "status"} <= set(schemas["Problem"]["required"])
    assert "HTTPValidationError" not in schemas


def test_playback_errors_pickle_with_their_extra_fields() -> None:
    for err in (StreamLimit("concurrent_stream_limit", "full", limit=3),
                SessionReleased("session_released", "session s1 was released")):  # fmt: skip
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and back.problem() == err.problem()
    assert SessionReleased("session_released", "gone").problem()["status"] == 410
