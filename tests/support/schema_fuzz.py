"""schemathesis cases for one operation, driven by hypothesis directly (schemathesis' own pytest
loader relies on pytest internals that pytest 9 removed): no request may cause a server error,
and in positive mode every response must match what the schema documents and some must be a
2xx, proving valid cases reach the handler (callers aim part of them at seeded ids via
`cases`). Requests carry an operator's bearer token unless `headers` says otherwise (the
401/403 paths have tests of their own; fuzzing is for what lies behind authentication).

    from tests.support.schema_fuzz import fuzz_operation
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode

from tests.support import auth


def fuzz_operation(
    operation: Any,
    base_url: str,
    mode: GenerationMode,
    *,
    max_examples: int = 20,
    deadline: int = 5000,
    timeout: float = 30,
    cases: SearchStrategy | None = None,
    headers: dict[str, str] | None = None,
) -> list[int]:
    """Run the cases (the operation's own, or `cases`) against base_url; their statuses."""
    statuses: list[int] = []
    if headers is None:
        headers = auth.current().headers(ttl=3600)

    @given(case=cases if cases is not None else operation.as_strategy(generation_mode=mode))
    @settings(max_examples=max_examples, deadline=deadline,
              suppress_health_check=list(HealthCheck), derandomize=True)  # fmt: skip
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, timeout=timeout, headers=headers)
        statuses.append(response.status_code)
        assert response.status_code < 500, f"{case.as_curl_command()} -> {response.status_code}"
        if mode == GenerationMode.POSITIVE:
            operation.validate_response(response)  # the body matches the documented schema

    fuzz()
    assert statuses  # hypothesis really ran cases against the server
    if mode == GenerationMode.POSITIVE:  # valid requests reached the handler, not only validation
        assert any(200 <= s < 300 for s in statuses), f"no 2xx among {Counter(statuses)}"
    return statuses
