"""Turn FFmpeg's `-progress` key=value stream into a 0..1 fraction, and show it with rich.

FFmpeg writes blocks of `key=value` lines ending in `progress=continue` or `progress=end`.
`out_time_us` (and `out_time_ms`, which despite its name is also microseconds) is the furthest
output timestamp written so far; divided by the title duration it is the fraction done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

ProgressCallback = Callable[[float], None]
_TIME_KEYS = ("out_time_us", "out_time_ms")


def parse_progress_line(line: str) -> tuple[str, str] | None:
    """'out_time_us=1200000' -> ('out_time_us', '1200000'); None for anything else."""
    key, sep, value = line.strip().partition("=")
    if not sep or not key:
        return None
    return key.strip(), value.strip()


class ProgressTracker:
    """Feeds FFmpeg progress lines in, calls `callback` with a fraction that never goes down."""

    def __init__(self, duration: float, callback: ProgressCallback | None):
        self.duration = duration
        self.callback = callback
        self.fraction = 0.0
        self.ended = False

    def feed(self, line: str) -> None:
        parsed = parse_progress_line(line)
        if parsed is None:
            return
        key, value = parsed
        if key in _TIME_KEYS and self.duration > 0:
            try:
                seconds = int(value) / 1_000_000
            except ValueError:  # "N/A" before the first frame is out
                return
            self._report(min(max(seconds / self.duration, 0.0), 1.0))
        elif key == "progress" and value == "end":
            self.ended = True
            self._report(1.0)

    def _report(self, fraction: float) -> None:
        if fraction <= self.fraction:
            return
        self.fraction = fraction
        if self.callback is not None:
            self.callback(fraction)


@contextmanager
def rich_progress_bar(
    description: str, *, console: Console | None = None
) -> Iterator[ProgressCallback]:
    """A rich progress bar for the CLI; yields the callback `transcode(progress=...)` expects."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(description, total=1.0)

        def update(fraction: float) -> None:
            bar.update(task, completed=min(max(fraction, 0.0), 1.0))

        yield update
