"""Authentication and ownership on every API route: anonymous and bad tokens get 401, the wrong
role 403, another customer's data 403 (lists, writes) or 404 (by id), one's own data 200.

The route table is read from the app itself, so a route added without authentication fails
here; only the routes listed in PUBLIC (health, the OpenAPI document, the console's static
shell, the CMCD collector and the session-credential playback routes) may answer without one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from jwt.utils import base64url_encode

from api.app import create_app
from auth import dev_issuer
from catalogue import db, store
from catalogue.importer import import_file
from tests.support.auth import AUDIENCE, ISSUER, DevAuth
from tests.support.subscriber_db import (
    BILL,
    DEVICES,
    ORDERS,
    RENTALS,
    SAMPLE,
    SERVICE_ORDER,
    SERVICES,
)

SESSIONS = "/playback/v1/sessions"
STATS = "/tmf-api/subscriber/v1/stats"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
KPI = "/qoe/v1/kpi"

# (method, path template) answered without a bearer token, and why.
PUBLIC = {
    ("GET", "/health"),  # liveness, no data
    ("GET", "/console"),  # a static page; its data calls carry the operator's token
    ("GET", "/qoe/v1/cmcd"),  # players: counted only for live sessions
    ("POST", "/qoe/v1/cmcd"),
}
SESSION_CREDENTIAL = SESSIONS + "/{sid}"  # licence, keys, heartbeat, release: auth= credential
PATH_VALUES = {"order_id": "o1", "sid": "A" * 24, "alarm_id": "1", "title_id": "t1",
               "kid_hex": "0" * 32, "service_id": "1"}  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path_factory.mktemp('auth') / 'vod.db'}"
    with pytest.MonkeyPatch.context() as mp:  # rate-limit counters of this app's own
        mp.setenv("VOD_REDIS_PREFIX", f"authtest-{uuid.uuid4().hex[:8]}:")
        app = create_app(url)  # VOD_AUTH_JWKS is the session's development issuer
    with db.session_scope(app.state.engine) as s:
        store.import_windows(s, import_file(SAMPLE).windows)
    yield app
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def anon(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI >= 0.16x wraps them; ours are
    included without a prefix, so their paths are the served paths)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def guarded_routes(app: FastAPI) -> list[tuple[str, str]]:
    out = []
    for route in _api_routes(app.routes):
        if not isinstance(route, APIRoute):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            if (method, route.path) in PUBLIC or route.path.startswith(SESSION_CREDENTIAL):
                continue
            out.append((method, route.path))
    return out


def concrete(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"add a value for {path} to PATH_VALUES"
    return path


def test_the_route_table_is_what_this_test_covers(app: FastAPI) -> None:
    routes = guarded_routes(app)
    assert len(routes) >= 20, routes  # every TMF, playback, QoE and catalogue route
    for expected in (("GET", STATS), ("POST", SESSIONS), ("GET", "/catalogue")):
        assert expected in routes


def test_every_route_refuses_the_anonymous_caller(app: FastAPI, anon: TestClient) -> None:
    failures = []
    for method, path in guarded_routes(app):
        resp = anon.request(method, concrete(path), json={})
        body = resp.json() if resp.headers.get("content-type", "").endswith("json") else {}
        if resp.status_code != 401 or body.get("reason") != "missing_token":
            failures.append(f"{method} {path} -> {resp.status_code} {resp.text[:80]}")
        elif not resp.headers.get("www-authenticate", "").startswith("Bearer"):
            failures.append(f"{method} {path}: no WWW-Authenticate challenge")
    assert not failures, "\n".join(failures)


def test_public_routes_answer_without_a_token(anon: TestClient) -> None:
    assert anon.get("/health").json() == {"status": "ok"}
    schemes = anon.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert anon.get("/console").status_code == 200


def _forge(claims: dict[str, Any], key: Any = None, alg: str = "ES256", **headers: Any) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims, key, algorithm=alg, headers={"typ": "at+jwt", **headers})


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 600,
            "roles": ["operator"], "client_id": "t"}  # fmt: skip
    return {**base, **over}


def _hmac_token(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """The key-confusion attack, built by hand (PyJWT refuses to sign it)."""
    header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
    signing = ".".join(base64url_encode(json.dumps(x).encode()).decode() for x in (header, claims))
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64url_encode(mac).decode()}"


def bad_tokens(dev_auth: DevAuth) -> dict[str, str]:
    """Each a token the API must refuse, and why."""
    kid = json.loads(dev_auth.jwks.read_text())["keys"][0]["kid"]
    private = (dev_auth.folder / dev_issuer.PRIVATE_KEY).read_bytes()
    public_jwk = json.dumps(json.loads(dev_auth.jwks.read_text())["keys"][0])
    good = dev_auth.token("operator")
    head, payload, sig = good.split(".")
    return {
        "expired": dev_auth.token("operator", now=time.time() - 7200, ttl=60),
        "not yet valid": jwt.encode(
            _claims(nbf=int(time.time()) + 3600),
            private,
            "ES256",
            headers={"typ": "at+jwt", "kid": kid},
        ),  # fmt: skip
        "forged (another key, same kid)": _forge(_claims(), kid=kid),
        "tampered payload": f"{head}.{payload[:-4]}AAAA.{sig}",
        "wrong audience": dev_auth.token("operator", audience="another-api"),
        "wrong issuer": dev_auth.token("operator", issuer="evil"),
        "alg none": jwt.encode(_claims(), None, algorithm="none", headers={"typ": "at+jwt"}),
        "HS256 with the public key as secret": _hmac_token(_claims(), public_jwk.encode(), kid),
        "an ID token, not an access token": jwt.encode(
            _claims(), private, "ES256", headers={"typ": "JWT", "kid": kid}
        ),
        "no exp": jwt.encode(
            {k: v for k, v in _claims().items() if k != "exp"},
            private,
            "ES256",
            headers={"typ": "at+jwt", "kid": kid},
        ),  # fmt: skip
        "garbage": "not.a.jwt",
    }


def test_bad_tokens_get_401_on_every_route(
    app: FastAPI, anon: TestClient, dev_auth: DevAuth
) -> None:
    routes = guarded_routes(app)
    failures = []
    for why, token in bad_tokens(dev_auth).items():
        for method, path in routes:
            resp = anon.request(method, concrete(path), json={},
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            if resp.status_code != 401 or resp.json().get("reason") != "invalid_token":
                failures.append(f"{why}: {method} {path} -> {resp.status_code}")
            elif token in resp.text:
                failures.append(f"{why}: the reply echoes the token")
    assert not failures, "\n".join(failures[:20])
    challenge = anon.get(KPI, headers={"Authorization": "Bearer not.a.jwt"}).headers
    assert 'error="invalid_token"' in challenge["www-authenticate"]
    assert anon.get(KPI, headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 401


def test_a_token_without_a_vod_role_is_refused(anon: TestClient, dev_auth: DevAuth) -> None:
    private = (dev_auth.folder / dev_issuer.PRIVATE_KEY).read_bytes()
    kid = json.loads(dev_auth.jwks.read_text())["keys"][0]["kid"]
    token = jwt.encode(_claims(roles=["admin"]), private, "ES256",
                       headers={"typ": "at+jwt", "kid": kid})  # fmt: skip
    resp = anon.get("/catalogue", params={"territory": "GB"},
                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert (resp.status_code, resp.json()["reason"]) == (403, "no_role")


@pytest.mark.parametrize("path", [STATS, KPI, ALARMS, ALARMS + "/1"])
def test_operator_routes_refuse_subscribers(anon: TestClient, dev_auth: DevAuth, path: str) -> None:
    resp = anon.get(path, headers=dev_auth.subscriber("alice"))
    assert (resp.status_code, resp.json()["reason"]) == (403, "operator_only")


@pytest.fixture(scope="module")
def customers(anon: TestClient, dev_auth: DevAuth) -> dict[str, Any]:
    """alice and bob, each with a completed standard order, a device and their own token."""
    out: dict[str, Any] = {}
    for name in ("alice", "bob"):
        cid = f"{name}-{uuid.uuid4().hex[:6]}"
        h = dev_auth.subscriber(cid)
        body = {"customerId": cid, "territory": "GB", "productOffering": {"id": "standard"}}
        order = anon.post(ORDERS, json=body, headers=h)
        assert order.status_code == 201 and order.json()["state"] == "completed", order.text
        dev = {"customerId": cid, "deviceId": "tv-1", "drmSystem": "widevine",
               "securityLevel": "L1", "deviceClass": "tv"}  # fmt: skip
        assert anon.post(DEVICES, json=dev, headers=h).status_code == 201
        out[name] = {"id": cid, "headers": h, "order": order.json()["id"]}
    return out


def _without_times(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _without_times(v) for k, v in body.items() if k != "billDate"}
    return [_without_times(v) for v in body] if isinstance(body, list) else body


def test_subscribers_see_their_own_data(anon: TestClient, customers: dict[str, Any]) -> None:
    alice = customers["alice"]
    h, cid = alice["headers"], alice["id"]
    for path in (ORDERS, SERVICES, BILL, DEVICES, RENTALS):
        named = anon.get(path, params={"customer": cid}, headers=h)
        implied = anon.get(path, headers=h)  # a subscriber's list defaults to its own
        assert named.status_code == implied.status_code == 200, (path, named.text)
        assert _without_times(named.json()) == _without_times(implied.json()), path
    assert anon.get(f"{ORDERS}/{alice['order']}", headers=h).json()["id"] == alice["order"]
    assert anon.get(f"{SERVICE_ORDER}/{alice['order']}", headers=h).status_code == 200
    devices = anon.get(DEVICES, headers=h).json()
    assert [d["customerId"] for d in devices] == [cid]


def test_another_customers_lists_and_writes_are_403(
    anon: TestClient, customers: dict[str, Any]
) -> None:
    alice, bob = customers["alice"], customers["bob"]
    h = alice["headers"]
    for path in (ORDERS, SERVICES, BILL, DEVICES, RENTALS, SESSIONS):
        resp = anon.get(path, params={"customer": bob["id"]}, headers=h)
        assert (resp.status_code, resp.json()["reason"]) == (403, "not_your_customer"), path
        assert bob["id"] not in json.dumps(resp.json().get("items", ""))
    writes = [
        (ORDERS, {"customerId": bob["id"], "territory": "GB", "productOffering": {"id": "basic"}}),
        (DEVICES, {"customerId": bob["id"], "deviceId": "mine", "drmSystem": "widevine",
                   "securityLevel": "L1", "deviceClass": "tv"}),
        (RENTALS, {"customerId": bob["id"], "titleId": "sample"}),
        (SESSIONS, {"customerId": bob["id"], "deviceId": "tv-1", "titleId": "sample"}),
    ]  # fmt: skip
    for path, body in writes:
        resp = anon.post(path, json=body, headers={**h, "Idempotency-Key": "k1"})
        assert (resp.status_code, resp.json()["reason"]) == (403, "not_your_customer"), path
    bobs = anon.get(DEVICES, params={"customer": bob["id"]}, headers=bob["headers"]).json()
    assert [d["deviceId"] for d in bobs] == ["tv-1"]  # nothing registered in bob's name


def test_another_customers_order_by_id_is_404(anon: TestClient, customers: dict[str, Any]) -> None:
    bob_order = customers["bob"]["order"]
    h = customers["alice"]["headers"]
    for path in (f"{ORDERS}/{bob_order}", f"{SERVICE_ORDER}/{bob_order}"):
        resp = anon.get(path, headers=h)
        assert (resp.status_code, resp.json()["reason"]) == (404, "unknown_order"), path
    retry = anon.post(f"{ORDERS}/{bob_order}/retry", headers=h)
    assert retry.status_code == 404
    unknown = anon.get(f"{ORDERS}/no-such-order", headers=h)
    assert unknown.json()["detail"].replace("no-such-order", bob_order) == retry.json()["detail"]


def test_operators_act_for_any_customer(
    anon: TestClient, customers: dict[str, Any], operator_headers: dict[str, str]
) -> None:
    bob = customers["bob"]
    resp = anon.get(DEVICES, params={"customer": bob["id"]}, headers=operator_headers)
    assert [d["deviceId"] for d in resp.json()] == ["tv-1"]
    assert anon.get(f"{ORDERS}/{bob['order']}", headers=operator_headers).status_code == 200
    assert anon.get(STATS, headers=operator_headers).status_code == 200
    no_customer = anon.get(DEVICES, headers=operator_headers)
    assert (no_customer.status_code, no_customer.json()["reason"]) == (422, "customer_required")


def test_a_jwks_served_over_http_is_honoured_and_rotated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The identity provider's JWKS URL: fetched, cached, and re-fetched for a new key."""
    from tests.support.player_harness import serve_directory

    idp = tmp_path / "idp"
    first = dev_issuer.init(tmp_path / "k1")
    idp.mkdir()
    (idp / "jwks.json").write_bytes(first.read_bytes())
    with serve_directory(idp) as base:
        monkeypatch.setenv("VOD_AUTH_JWKS", f"{base}/jwks.json")
        app = create_app(f"sqlite:///{tmp_path / 'idp.db'}")
        with TestClient(app, raise_server_exceptions=False) as c:
            old = DevAuth(tmp_path / "k1", first)
            ok = c.get("/catalogue", params={"territory": "GB"}, headers=old.headers())
            assert ok.status_code == 200, ok.text
            # The IdP rotates: a token signed by the new key is verified after a re-fetch
            # (PyJWT re-fetches for an unknown kid at most every 30 s; the test does not wait).
            app.state.auth.keys.client.cooldown_duration = 0
            second = dev_issuer.init(tmp_path / "k2")
            (idp / "jwks.json").write_bytes(second.read_bytes())
            new = DevAuth(tmp_path / "k2", second)
            rotated = c.get("/catalogue", params={"territory": "GB"}, headers=new.headers())
            assert rotated.status_code == 200, rotated.text
            forged = DevAuth(tmp_path / "k3", dev_issuer.init(tmp_path / "k3"))
            resp = c.get("/catalogue", params={"territory": "GB"}, headers=forged.headers())
            assert resp.status_code == 401
        app.state.engine.dispose()


def test_the_api_refuses_to_start_without_a_jwks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.errors import ConfigError

    monkeypatch.delenv("VOD_AUTH_JWKS")
    with pytest.raises(ConfigError, match="VOD_AUTH_JWKS"):
        create_app(f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("VOD_AUTH_JWKS", "http://idp.example/jwks.json")
    with pytest.raises(ConfigError, match="https"):
        create_app(f"sqlite:///{tmp_path / 'x.db'}")
