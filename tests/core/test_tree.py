"""Rules of the tree that no linter checks: module size, settings read in one place."""

from __future__ import annotations

import re
import subprocess

from tests.support.common import ROOT

MAX_LINES = 500


def _tracked_python() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [p for p in out.split() if (ROOT / p).is_file()]


def test_no_module_over_500_lines() -> None:
    long = {}
    for rel in _tracked_python():
        n = len((ROOT / rel).read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES:
            long[rel] = n
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"


def test_vod_variables_are_read_only_through_core_settings() -> None:
    """`os.environ` / `getenv` of a VOD_* name anywhere but core/settings.py is a second
    settings path (click's envvar= options are declarations, not reads)."""
    read = re.compile(r"(environ(\.get)?\s*[\[(]|getenv\s*\()\s*f?[\"']VOD_")
    offenders = []
    for rel in _tracked_python():
        if rel == "core/settings.py" or rel.startswith(("tests/", "bench/")):
            continue
        for no, line in enumerate((ROOT / rel).read_text(encoding="utf-8").splitlines(), 1):
            if read.search(line):
                offenders.append(f"{rel}:{no}: {line.strip()}")
    assert not offenders, "read these through core.settings:\n" + "\n".join(offenders)
