"""schemathesis against the playback-session and QoE routes of the served OpenAPI schema, with
playback configured: fuzzed sessions, licences, heartbeats, CMCD and alarm queries never cause
a server error, positive cases get documented statuses and bodies, and some reach the handler's
2xx: random ids and credentials only ever 403 or 404, so half the positive cases are aimed at a
seeded customer, device, live session (its credential and a KID it may have) and alarm."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

from drm.signalling.clearkey import license_request
from qoe.kpi import WINDOW_MS, window_of
from tests.support.playback_env import PlaybackEnv, new_sessions, report_cmcd, start_env
from tests.support.playback_env import stalled_minute as stalled
from tests.support.schema_fuzz import fuzz_operation

OPERATIONS = [
    ("/playback/v1/sessions", "POST"),
    ("/playback/v1/sessions", "GET"),
    ("/playback/v1/sessions/{sid}/heartbeat", "POST"),
    ("/playback/v1/sessions/{sid}", "DELETE"),
    ("/playback/v1/sessions/{sid}/license", "POST"),
    ("/playback/v1/sessions/{sid}/keys/{kid_hex}", "GET"),
    ("/qoe/v1/cmcd", "GET"),
    ("/qoe/v1/cmcd", "POST"),
    ("/qoe/v1/kpi", "GET"),
    ("/tmf-api/alarmManagement/v4/alarm", "GET"),
    ("/tmf-api/alarmManagement/v4/alarm/{alarm_id}", "GET"),
]


# Event-mode CMCD bodies are text (one report per line), as text/plain is.
schemathesis.serializer.alias("application/cmcd", "text/plain")


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, encrypted_origin: dict, redis_service: str
) -> Iterator[PlaybackEnv]:
    """A SQLite environment whose sessions outlive a fuzz run (60 s heartbeat TTL)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'vod.db'}"
    with start_env(url, encrypted_origin, redis_service, heartbeat_ttl=60) as e:
        yield e


@pytest.fixture(scope="module")
def alarm_id(env: PlaybackEnv) -> str:
    """A raised alarm: three sessions stalling through the previous minute."""
    m0 = window_of(int(time.time() * 1000)) - WINDOW_MS
    for _, sid in new_sessions(env, 3):
        report_cmcd(env, stalled(sid, m0))
    alarms = env.http.get(env.api + "/tmf-api/alarmManagement/v4/alarm").json()
    assert alarms, "no alarm raised"
    return alarms[0]["id"]


@pytest.fixture
def seeds(env: PlaybackEnv, alarm_id: str) -> dict[str, str]:
    """A new Standard customer with a ClearKey desktop and a live session (per test: one
    operation's cases may end it)."""
    customer = env.activate("standard")
    env.register(customer, "dev")
    resp = env.session(customer, "dev")
    assert resp.status_code == 201, resp.text
    s = resp.json()
    auth = unquote(parse_qs(urlsplit(s["license"]["url"]).query)["auth"][0])
    kid = s["license"]["policy"]["kids"]["SD"].replace("-", "")
    return {"customer": customer, "device": "dev", "sid": s["sessionId"], "auth": auth,
            "kid": kid, "alarm": alarm_id}  # fmt: skip


def _seeded(case: schemathesis.Case, seeds: dict[str, str]) -> schemathesis.Case:
    params = case.path_parameters or {}
    for name, seed in (("sid", "sid"), ("kid_hex", "kid"), ("alarm_id", "alarm")):
        if name in params:
            params[name] = seeds[seed]
    if "sid" in params:
        case.query = {**(case.query or {}), "auth": seeds["auth"]}
    if case.path.endswith("/license"):
        case.body = json.loads(license_request([bytes.fromhex(seeds["kid"])]))
        case.media_type = "application/json"
    elif isinstance(case.body, dict) and "customerId" in case.body:
        case.body.update(customerId=seeds["customer"], deviceId=seeds["device"], titleId="sample")
    return case


@pytest.fixture(scope="module")
def api_schema(env: PlaybackEnv) -> Any:
    return schemathesis.openapi.from_url(f"{env.api}/openapi.json")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_fuzzed_requests_never_cause_a_server_error(
    api_schema: Any,
    env: PlaybackEnv,
    seeds: dict[str, str],
    path: str,
    method: str,
    mode: GenerationMode,
) -> None:
    operation = api_schema[path][method]
    cases = operation.as_strategy(generation_mode=mode)
    if mode == GenerationMode.POSITIVE:  # fuzz_operation then asserts a 2xx was reached
        cases = st.one_of(cases, cases.map(lambda c: _seeded(c, seeds)))
    fuzz_operation(operation, env.api, mode, max_examples=25, cases=cases)
