"""Tests that need a tool this machine may lack (FFmpeg, Shaka Packager, Chromium, moto_server,
PostgreSQL): skip locally with the reason, FAIL under `CI=true`, so a CI run with a tool
missing is red instead of green with skips.

    from tests.support.requirements import require, requires

    pytestmark = requires(shutil.which("ffmpeg") is not None, "FFmpeg", "run scripts/setup.sh")

    def test_x() -> None:
        require(SHAKA.exists(), "Shaka Packager", "run scripts/setup.sh")

`requires` is a mark (module `pytestmark` or decorator), checked when the test is set up by
the `pytest_runtest_setup` hook below (registered in tests/conftest.py's pytest_plugins).
"""

from __future__ import annotations

import os

import pytest

MARK = "requires"


def in_ci() -> bool:
    """True under CI (`CI` set to anything but empty/0/false/no, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(condition: object, what: str, how: str) -> None:
    """Go on when `condition` holds; else fail (CI) or skip (locally) with `what`/`how`."""
    if condition:
        return
    message = f"{what} missing: {how}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing tool fails the run)", pytrace=False)
    pytest.skip(message)


def requires(condition: object, what: str, how: str) -> pytest.MarkDecorator:
    """`require` as a mark, for a whole module (`pytestmark`) or one test."""
    return getattr(pytest.mark, MARK)(bool(condition), what, how)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARK}(condition, what, how): skip locally / fail under CI=true when a tool is "
        "missing (tests/support/requirements.py)",
    )


@pytest.hookimpl(tryfirst=True)  # before fixtures start what the tool would serve
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers(MARK):
        require(*mark.args)
