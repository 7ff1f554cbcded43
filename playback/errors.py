"""Why a playback request is refused: one class per core.errors category, each carrying the
machine-readable `reason` the API answers with and extra problem fields (e.g. the stream
`limit`, the `offers` that would entitle).

The HTTP app turns any of them into RFC 9457 problem details with the category's status;
410 (released) and 400 (unreadable licence request) keep the statuses players expect.
"""

from __future__ import annotations

from typing import Any

from core.errors import BadInput, Conflict, NotFound, Refused, Transient, VodError


class PlaybackError(VodError):
    """A refused playback request: `reason`, a sentence, and extra problem fields."""

    def __init__(self, reason: str, cause: str, *, resource: str | None = None, **extra: Any):
        super().__init__(resource, cause, reason=reason)
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        return {**super().problem(instance), **self.extra}


class NotEntitled(PlaybackError, Refused):
    """403: not entitled to the title or the keys, or the session credential is refused."""


class UnknownPlayback(PlaybackError, NotFound):
    """404: the title or the session does not exist (any more)."""


class StreamLimit(PlaybackError, Conflict):
    """409: every concurrent-stream slot of the tier is taken."""


class SessionReleased(PlaybackError, NotFound):
    """410: the session was released; it will never play again."""

    status = 410


class BadLicenceRequest(PlaybackError, BadInput):
    """400: the licence request is not a W3C ClearKey request."""

    status = 400


class PlaybackUnavailable(PlaybackError, Transient):
    """503: playback is not configured here (no token secret, no key store)."""
