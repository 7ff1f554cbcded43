"""schemathesis against the playback-session and QoE routes of the served OpenAPI schema, with
playback configured: fuzzed sessions, licences, heartbeats, CMCD and alarm queries never cause
a server error, and positive cases get documented statuses and bodies."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode

from tests.support.playback_env import PlaybackEnv
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
def env(sqlite_env: PlaybackEnv) -> PlaybackEnv:  # noqa: F811
    return sqlite_env


@pytest.fixture(scope="module")
def api_schema(env: PlaybackEnv) -> Any:
    return schemathesis.openapi.from_url(f"{env.api}/openapi.json")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_fuzzed_requests_never_cause_a_server_error(
    api_schema: Any, env: PlaybackEnv, path: str, method: str, mode: GenerationMode
) -> None:
    fuzz_operation(api_schema[path][method], env.api, mode, max_examples=25)
