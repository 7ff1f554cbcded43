"""From CMCD reports to QoE KPIs per one-minute window: a pure fold over each session's reports.

A session's reports move it through player states (CMCD v2 `sta`: s starting, p playing,
r rebuffering, w waiting, a paused, k seeking, e ended, f fatal error, q quit). Each report
closes the interval since the previous one and credits it to the window(s) it spans:

* video start time: `msd` (the player's measured start delay) when sent, else the time from the
  session's first report to its first `sta=p`;
* exits before video start: the session ended (`q`/`e`, or released) before it first played;
* rebuffering ratio: time in r/w after the first play / (that + time playing);
* playback failures: `sta=f` or an error event (`e=e`), once per session;
* average bitrate: time-weighted `br` while playing.

Stalls during start-up count towards the start time, not towards rebuffering (the industry
definition). Reports without `sta` keep the previous state, so players that only send periodic
samples still accumulate playing time once `msd` says they started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from qoe.cmcd import bitrate_kbps

WINDOW_MS = 60_000
MAX_GAP_MS = 5 * 60_000  # a longer silence is lost reports, not five minutes of playing
PLAYING = frozenset({"p"})
STALLED = frozenset({"r", "w"})
ENDED = frozenset({"e", "q"})

COUNTERS = (
    "reports",
    "sessions",
    "starts",
    "start_ms",
    "exits_before_start",
    "failures",
    "play_ms",
    "rebuffer_ms",
    "bitrate_ms",
    "stalls",
)


def window_of(ms: int) -> int:
    return ms - ms % WINDOW_MS


def split_interval(start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """[(window start, milliseconds)] covering [start, end) across minute boundaries."""
    out = []
    t = start_ms
    while t < end_ms:
        w = window_of(t)
        step = min(end_ms, w + WINDOW_MS) - t
        out.append((w, step))
        t += step
    return out


@dataclass
class SessionQoe:
    """What the fold remembers about one session between its reports."""

    sid: str
    first_ms: int
    state: str | None = None
    state_ms: int = 0
    started: bool = False
    failed: bool = False
    exited: bool = False
    br_kbps: float | None = None
    last_window: int | None = None
    reports: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionQoe:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


Contribution = tuple[int, str, float]  # (window start ms, counter, amount)


@dataclass
class Folded:
    state: SessionQoe
    contributions: list[Contribution] = field(default_factory=list)

    def add(self, window: int, counter: str, amount: float) -> None:
        if amount:
            self.contributions.append((window, counter, amount))


def fold(prev: SessionQoe | None, sid: str, report: Mapping[str, Any], at_ms: int) -> Folded:
    """The session after `report` (taken at `at_ms`), and what it adds to which windows."""
    s = SessionQoe(**asdict(prev)) if prev else SessionQoe(sid=sid, first_ms=at_ms, state_ms=at_ms)
    out = Folded(s)
    w = window_of(at_ms)
    out.add(w, "reports", 1)
    s.reports += 1
    if s.last_window != w:
        out.add(w, "sessions", 1)
        s.last_window = w
    # Credit the time since the previous report to the state the session was in.
    if s.started and s.state in PLAYING | STALLED and at_ms > s.state_ms:
        end = min(at_ms, s.state_ms + MAX_GAP_MS)
        for win, ms in split_interval(s.state_ms, end):
            if s.state in PLAYING:
                out.add(win, "play_ms", ms)
                if s.br_kbps:
                    out.add(win, "bitrate_ms", s.br_kbps * ms)
            else:
                out.add(win, "rebuffer_ms", ms)
    s.state_ms = max(s.state_ms, at_ms)

    sta = report.get("sta") if isinstance(report.get("sta"), str) else None
    br = bitrate_kbps(report)
    if br is not None:
        s.br_kbps = br
    msd = report.get("msd")
    has_msd = isinstance(msd, int | float) and not isinstance(msd, bool) and msd >= 0
    if not s.started and (sta in PLAYING or has_msd) and not s.failed and not s.exited:
        s.started = True
        out.add(w, "starts", 1)
        start = float(msd) if has_msd else float(at_ms - s.first_ms)  # type: ignore[arg-type]
        out.contributions.append((w, "start_ms", max(start, 0.0)))  # 0 ms is a start too
        s.state = sta or "p"
    elif sta:
        s.state = sta
    failed_now = sta == "f" or report.get("e") == "e"
    if failed_now and not s.failed:
        s.failed = True
        out.add(w, "failures", 1)
    if sta in ENDED and not s.started and not s.failed and not s.exited:
        s.exited = True
        out.add(w, "exits_before_start", 1)
    if report.get("bs") is True and s.started:
        out.add(w, "stalls", 1)
    return out


def ended(prev: SessionQoe | None, sid: str, at_ms: int) -> Folded:
    """The session was released (the player quit) at `at_ms`."""
    return fold(prev, sid, {"sta": "q"}, at_ms)


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 6) if den > 0 else None


def kpis(counters: Mapping[str, float]) -> dict[str, Any]:
    """The KPIs of one window from its summed counters (None where there is nothing to say)."""
    c = {k: float(counters.get(k, 0) or 0) for k in COUNTERS}
    watched = c["play_ms"] + c["rebuffer_ms"]
    return {
        "sessions": int(c["sessions"]),
        "reports": int(c["reports"]),
        "video_starts": int(c["starts"]),
        "video_start_time_ms": round(c["start_ms"] / c["starts"], 1) if c["starts"] else None,
        "exits_before_video_start": int(c["exits_before_start"]),
        "exits_before_video_start_ratio": _ratio(
            c["exits_before_start"], c["starts"] + c["exits_before_start"]
        ),
        "rebuffering_ratio": _ratio(c["rebuffer_ms"], watched),
        "watch_ms": int(watched),
        "playback_failures": int(c["failures"]),
        "playback_failure_ratio": _ratio(c["failures"], c["sessions"]),
        "average_bitrate_kbps": round(c["bitrate_ms"] / c["play_ms"], 1) if c["play_ms"] else None,
        "stalls": int(c["stalls"]),
    }
