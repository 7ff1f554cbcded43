"""Failure injection: mark a system 'down' so the step that calls it fails (tests, drills).

Set per app (`app.state.faults`) or from the `VOD_FAULTS` environment variable, a comma list of
system names such as `billing,drm`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


class SystemDown(RuntimeError):
    """A downstream system refused or did not answer."""


@dataclass
class Faults:
    down: set[str] = field(default_factory=set)

    @classmethod
    def from_env(cls) -> Faults:
        raw = os.environ.get("VOD_FAULTS", "")
        return cls({s.strip() for s in raw.split(",") if s.strip()})

    def check(self, system: str) -> None:
        """Raise SystemDown when `system` is marked down."""
        if system in self.down:
            raise SystemDown(f"{system} is down (injected fault)")
