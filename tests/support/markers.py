"""Which markers a test earns from the fixtures it uses, so `-m` selections stay true as tests
change: a test that opens Chromium or talks to a real service is marked without anyone
remembering to. Fixtures that run a real ingest make their tests `slow` the same way; tests
that are slow for other reasons (an encode of their own) are marked by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Fixtures (tests/support/player_harness.py) that start headless Chromium through playwright.
BROWSER_FIXTURES = frozenset({"browser", "chromium_page"})

# Session fixtures that ingest the README sample for real (FFmpeg ladder encode, packaging):
# tests/conftest.py:sample_title, tests/support/playback_env.py:encrypted_origin. Tens of
# seconds once per session, so their dependants stay out of the fast loop.
SLOW_FIXTURES = frozenset({"sample_title", "encrypted_origin"})

# Fixtures that start or reach a real service: Redis, moto_server (S3), PostgreSQL, Celery
# worker processes. Dependants (vod_env, slots, published, pg_url...) inherit through the
# fixture closure pytest computes.
SERVICE_FIXTURES = frozenset({"redis_service", "s3_endpoint", "pg_admin_url", "pg_url", "workers"})

# A parametrised backend named "postgresql" (database_url in tests/support/subscriber_db.py and
# tests/api/test_catalogue_api.py, engine in tests/catalogue/test_catalogue_store.py, ...)
# fetches the server with `request.getfixturevalue("pg_admin_url")`, which the closure cannot
# see: the parameter's value marks it, whatever the fixture is called.
SERVICE_PARAM_VALUES = frozenset({"postgresql"})


def markers_for(fixtures: Iterable[str], params: Mapping[str, object]) -> set[str]:
    """The markers implied by a test's fixture closure and its parametrisation."""
    used = set(fixtures)
    implied: set[str] = set()
    if used & BROWSER_FIXTURES:
        implied.add("browser")
    if used & SLOW_FIXTURES:
        implied.add("slow")
    backends = {value for value in params.values() if isinstance(value, str)}
    if used & SERVICE_FIXTURES or backends & SERVICE_PARAM_VALUES:
        implied.add("services")
    return implied
