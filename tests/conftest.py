"""Shared fixtures: synthetic media made on demand by `fixtures.generate` (FFmpeg is required)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from tests.support.common import ROOT, MediaFactory, run_vod
from tests.support.markers import markers_for

# Shared fixtures live in tests/support; registering them here makes them visible to every test
# module without importing fixture names (which shadow the fixture arguments).
pytest_plugins = [
    "tests.support.requirements",
    "tests.support.auth",
    "tests.support.postgres",
    "tests.support.player_harness",
    "tests.support.s3_server",
    "tests.support.redis_server",
    "tests.support.subscriber_db",
    "tests.support.playback_env",
    "tests.support.workers",
]

# Property tests check outcomes, not speed: no per-example deadline on these noisy machines
# (timing lives in bench/).
hypothesis_settings.register_profile("vod", deadline=None)
hypothesis_settings.load_profile("vod")

if str(ROOT) not in sys.path:  # `fixtures` is a repo folder, not an installed package
    sys.path.insert(0, str(ROOT))

from fixtures.generate import generate  # noqa: E402


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where generated sources go: a session temp dir, or $VOD_FIXTURE_CACHE to reuse runs."""
    cache = os.environ.get("VOD_FIXTURE_CACHE")
    if cache:
        Path(cache).mkdir(parents=True, exist_ok=True)
        return Path(cache)
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def media_factory(media_dir: Path) -> MediaFactory:
    """`media_factory("rotated")` / `media_factory("long", duration=30)` -> path of the source.

    Generated once per session per kind + parameters (see fixtures/generate.py for the kinds).
    Treat the files as read-only: they are shared by every test in the session.
    """

    def make(kind: str, **params: Any) -> Path:
        return generate(kind, media_dir, **params)

    return make


@pytest.fixture(scope="session")
def media(media_factory: MediaFactory) -> MediaFactory:
    """Alias of `media_factory`."""
    return media_factory


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def sample_mov() -> Path:
    """The committed README sample (12 s, 1280x720 30 fps H.264 + stereo AAC 'eng')."""
    return ROOT / "fixtures" / "sample.mov"


@pytest.fixture(scope="session")
def sample_title(tmp_path_factory: pytest.TempPathFactory, sample_mov: Path) -> dict[str, Any]:
    """The README job: the bundled sample through the real CLI (web ladder, subtitles)."""
    origin = tmp_path_factory.mktemp("origin")
    srt = sample_mov.with_suffix(".srt")
    proc = run_vod(
        "ingest",
        str(sample_mov),
        "--title-id",
        "sample",
        "--origin",
        str(origin),
        "--device-class",
        "web",
        "--subtitles",
        f"{srt}:en",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    return {"origin": origin, "summary": json.loads(proc.stdout), "dir": origin / "sample"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the implied markers must count
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that opens Chromium `browser`, every test that reaches Redis,
    PostgreSQL, moto_server or Celery workers `services`, and every test built on a real ingest
    `slow`, from the fixtures it uses (tests/support/markers.py)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        for name in sorted(markers_for(getattr(item, "fixturenames", ()), params)):
            item.add_marker(name)
