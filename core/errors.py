"""One error hierarchy for the whole project, with categories callers can act on.

Every error a user can act on is a `VodError`. Its category says what to do about it:

| class        | meaning                                   | HTTP | worker      |
|--------------|-------------------------------------------|------|-------------|
| `BadInput`   | the file, request or setting is wrong     | 422  | fail, keep  |
| `Unauthenticated` | no credential, or one we cannot verify | 401  | fail        |
| `NotFound`   | the named resource does not exist         | 404  | fail        |
| `Conflict`   | it exists already, or is in another state | 409  | fail        |
| `Refused`    | understood, and not allowed               | 403  | fail        |
| `Transient`  | a dependency is down; the same call may   | 503  | retry       |
|              | succeed later                             |      |             |

`str()` is one line naming the file or resource and the cause; `detail` (e.g. FFmpeg's stderr
tail) is shown only on request. Errors pickle with all their fields, so a worker's error
reaches `vod jobs` and the quarantine record intact (Exception's default pickling would call
`cls(message)` and fail for any subclass with a richer constructor).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar


def _rebuild(cls: type[VodError], state: dict[str, Any]) -> VodError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("_message", ""))
    err.__dict__.update(state)
    return err


class VodError(Exception):
    """A failure a user can act on; `str()` is a one-line message naming the file."""

    category: ClassVar[str] = "error"
    status: ClassVar[int] = 500
    default_reason: ClassVar[str] = "error"

    def __init__(
        self,
        path: str | Path | None,
        cause: str,
        *,
        stage: str = "",
        detail: str = "",
        reason: str = "",
    ):
        self.path = str(path) if path is not None else None
        self.cause = cause
        self.stage = stage
        self.detail = detail
        self.reason = reason or self.default_reason
        self._message = self.one_line()
        super().__init__(self._message)

    def one_line(self) -> str:
        where = f"{self.path}: " if self.path else ""
        stage = f"[{self.stage}] " if self.stage else ""
        return f"{stage}{where}{self.cause}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), dict(self.__dict__)))

    def renamed(self, path: str) -> VodError:
        """The same error naming `path` (e.g. the source object, not a worker's local copy)."""
        state = dict(self.__dict__)
        if self.path and self.path in self.cause:
            state["cause"] = self.cause.replace(self.path, path)
        state["path"] = path
        err = _rebuild(type(self), state)
        err._message = err.one_line()
        err.args = (err._message,)
        return err

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """RFC 9457 problem details for this error, with our machine-readable `reason`."""
        body: dict[str, Any] = {
            "type": f"urn:vod-pipeline:problem:{self.reason}",
            "title": self.category.replace("_", " "),
            "status": self.status,
            "detail": self.cause,
            "reason": self.reason,
        }
        if self.path:
            body["resource"] = self.path
        if instance:
            body["instance"] = instance
        return body


class BadInput(VodError):
    """The input (file, request body, setting) is wrong; retrying it unchanged will fail."""

    category = "bad_input"
    status = 422
    default_reason = "bad_input"


class NotFound(VodError):
    category = "not_found"
    status = 404
    default_reason = "not_found"


class Conflict(VodError):
    category = "conflict"
    status = 409
    default_reason = "conflict"


class Unauthenticated(VodError):
    """No credential, or one that does not verify (forged, expired, wrong audience): the
    caller must authenticate (again). HTTP answers 401 with `WWW-Authenticate: Bearer`."""

    category = "unauthenticated"
    status = 401
    default_reason = "unauthenticated"


class Refused(VodError):
    """Understood and not allowed: policy, entitlement, permission."""

    category = "refused"
    status = 403
    default_reason = "refused"


class Transient(VodError):
    """A dependency is unavailable; the same call may succeed later."""

    category = "transient"
    status = 503
    default_reason = "unavailable"


class PipelineError(BadInput):
    """A pipeline stage could not process a file (bad media, bad sidecar, failed check)."""


class ProbeError(PipelineError):
    def __init__(self, path: str | Path, cause: str, detail: str = ""):
        super().__init__(path, cause, stage="probe", detail=detail)


class LadderError(PipelineError):
    def __init__(self, path: str | Path | None, cause: str):
        super().__init__(path, cause, stage="plan")


class TranscodeError(PipelineError):
    def __init__(self, path: str | Path, cause: str, detail: str = ""):
        super().__init__(path, cause, stage="transcode", detail=detail)


class PackageError(PipelineError):
    def __init__(self, path: str | Path, cause: str):
        super().__init__(path, cause, stage="package")


class ConfigError(BadInput):
    """A setting is missing or unusable; the message names the setting."""

    def __init__(self, setting: str, cause: str):
        super().__init__(setting, cause, stage="config", reason="bad_config")
