"""tests/support/requirements.py: a missing tool skips a test locally and fails it under CI=true,
in both forms (the `requires` mark and the `require` call). Runs a tiny pytest in a subprocess
whose tool is a name no machine has."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.common import ROOT

TINY = """
import shutil

from tests.support.requirements import require, requires

MISSING = shutil.which("vod-no-such-tool-8c1f") is not None


@requires(MISSING, "vod-no-such-tool", "install it")
def test_marked():
    raise AssertionError("ran without its tool")


def test_called():
    require(MISSING, "vod-no-such-tool", "install it")
    raise AssertionError("ran without its tool")


@requires(shutil.which("python3"), "python3", "install it")
def test_present():
    require(True, "python3", "install it")
"""


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_tiny.py").write_text(TINY)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # schemathesis & co. cost seconds to load
    if ci is not None:
        env["CI"] = ci
    cmd = [sys.executable, "-m", "pytest", "-v", "-rA", "-p", "no:cacheprovider",
           "-p", "tests.support.requirements", "test_tiny.py"]  # fmt: skip
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def _outcomes(out: str) -> dict[str, str]:
    """test name -> PASSED/SKIPPED/FAILED/ERROR from pytest -v's progress lines."""
    found: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("test_tiny.py::"):
            name, word = line.split()[:2]
            found[name.removeprefix("test_tiny.py::")] = word
    return found


SKIPPED = {"test_marked": "SKIPPED", "test_called": "SKIPPED", "test_present": "PASSED"}
# Under CI the mark fails the test at set-up (an error), the call inside it (a failure).
FAILED = {"test_marked": "ERROR", "test_called": "FAILED", "test_present": "PASSED"}
SKIP_REASON = "SKIPPED (vod-no-such-tool missing: install it)"
CI_REASON = "vod-no-such-tool missing: install it (CI=true: a missing tool fails the run)"


@pytest.mark.parametrize(
    ("ci", "code", "outcomes", "reason"),
    [
        (None, 0, SKIPPED, SKIP_REASON),
        ("", 0, SKIPPED, SKIP_REASON),
        ("false", 0, SKIPPED, SKIP_REASON),
        ("0", 0, SKIPPED, SKIP_REASON),
        ("true", 1, FAILED, CI_REASON),
        ("1", 1, FAILED, CI_REASON),
    ],
)
def test_missing_tool_skips_locally_and_fails_under_ci(
    tmp_path: Path, ci: str | None, code: int, outcomes: dict[str, str], reason: str
) -> None:
    proc = _run(tmp_path, ci)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert _outcomes(proc.stdout) == outcomes, proc.stdout
    assert proc.stdout.count(reason) >= 2, proc.stdout
    assert "ran without its tool" not in proc.stdout
