"""One error type the CLI knows how to print: it names the file, the stage and the cause."""

from __future__ import annotations

from pathlib import Path


class PipelineError(Exception):
    """A failure a user can act on; `str()` is a one-line message naming the file."""

    def __init__(self, path: str | Path | None, cause: str, *, stage: str = "", detail: str = ""):
        self.path = str(path) if path is not None else None
        self.cause = cause
        self.stage = stage
        self.detail = detail  # e.g. FFmpeg's stderr tail; printed below the one-liner
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = f"{self.path}: " if self.path else ""
        stage = f"[{self.stage}] " if self.stage else ""
        return f"{stage}{where}{self.cause}"


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
