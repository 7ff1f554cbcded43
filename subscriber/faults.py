"""Failure injection: mark a system 'down' so the step that calls it fails (tests, drills).

Set per app (`app.state.faults`) or from the `VOD_FAULTS` environment variable, a comma list of
system names such as `billing,drm`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import Transient
from core.settings import settings


class SystemDown(Transient):
    """A downstream system refused or did not answer."""

    def __init__(self, cause: str) -> None:
        super().__init__(None, cause, reason="system_down")


@dataclass
class Faults:
    down: set[str] = field(default_factory=set)

    @classmethod
    def from_env(cls) -> Faults:
        raw = settings().faults
        return cls({s.strip() for s in raw.split(",") if s.strip()})

    def check(self, system: str) -> None:
        """Raise SystemDown when `system` is marked down."""
        if system in self.down:
            raise SystemDown(f"{system} is down (injected fault)")
