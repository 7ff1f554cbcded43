"""Which markers a test earns from the fixtures it uses, so `-m` selections stay true as tests
change: a test that opens Chromium or talks to a real service is marked without anyone
remembering to. Tests that are slow for other reasons (real encodes) are marked by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Fixtures (tests/support/player_harness.py) that start headless Chromium through playwright.
BROWSER_FIXTURES = frozenset({"browser", "chromium_page"})

# Fixtures that start or reach a real service: Redis, moto_server (S3), PostgreSQL, Celery
# worker processes. Dependants (vod_env, slots, published, pg_url...) inherit through the
# fixture closure pytest computes.
SERVICE_FIXTURES = frozenset({"redis_service", "s3_endpoint", "pg_admin_url", "pg_url", "workers"})

# (fixture, parameter) pairs that select a real-service backend inside a parametrised fixture;
# the fixture fetches the service with `request.getfixturevalue`, which the closure cannot see
# (tests/support/subscriber_db.py:database_url, tests/catalogue/test_catalogue_store.py:engine).
SERVICE_PARAMS = frozenset({("database_url", "postgresql"), ("engine", "postgresql")})


def markers_for(fixtures: Iterable[str], params: Mapping[str, object]) -> set[str]:
    """The markers implied by a test's fixture closure and its parametrisation."""
    used = set(fixtures)
    implied: set[str] = set()
    if used & BROWSER_FIXTURES:
        implied.add("browser")
    if used & SERVICE_FIXTURES or any(params.get(name) == value for name, value in SERVICE_PARAMS):
        implied.add("services")
    return implied
