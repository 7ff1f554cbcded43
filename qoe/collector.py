"""The QoE collector: CMCD reports in, per-minute KPIs and TMF642 alarms out.

Only reports of live playback sessions count: the report's `sid` must be a session id the
session API handed out (the unguessable id in the session response's `cmcd.sessionId`) whose
record still exists, is not released and has not expired. The collector endpoint is open to
players, so anything else (no `sid`, a forged or stale one) is accepted with the same 204 but
never reaches a KPI or an alarm; it only adds to the `rejected` total (`GET /qoe/v1/kpi`).

A counted report is attributed to its session (the record says which title, device class and
CDN it belongs to), folded into that session's state and the minute it happened in (`ts` when
the player's clock is within ten minutes of ours, else the time it arrived), and the touched
windows are evaluated against the thresholds. An alarm is raised once per aggregate and KPI,
with the services the dependency map links to it, and cleared when a later window recovers.
A released session's own end (`session_ended`) still counts: the API reports it, not a player.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from playback.sessions import PlaybackSession, SessionStore
from qoe import alarms, impact
from qoe.kpi import Folded, SessionQoe, ended, fold, kpis
from qoe.tables import AlarmRow
from qoe.windows import QoeWindows

log = logging.getLogger(__name__)

MAX_SKEW_MS = 10 * 60_000


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class QoeCollector:
    def __init__(
        self,
        windows: QoeWindows,
        sessions: SessionStore | None,
        db: sessionmaker[Session],
        thresholds: Iterable[alarms.Threshold] = alarms.DEFAULT_THRESHOLDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.windows = windows
        self.sessions = sessions
        self.db = db
        self.thresholds = tuple(thresholds)
        self.clock = clock

    # -- ingest --------------------------------------------------------------------------
    def _live(
        self, sid: object, now_ms: int, cache: dict[str, PlaybackSession | None]
    ) -> PlaybackSession | None:
        """The session a report names, if it is live: recorded, not released, not expired."""
        if not isinstance(sid, str) or self.sessions is None:
            return None
        if sid not in cache:
            cache[sid] = self.sessions.get(sid)
        record = cache[sid]
        if record is None or record.released or record.expires_at.timestamp() * 1000 <= now_ms:
            return None
        return record

    def _when(self, report: Mapping[str, Any], now_ms: int) -> int:
        ts = report.get("ts")
        if isinstance(ts, int) and not isinstance(ts, bool) and abs(ts - now_ms) <= MAX_SKEW_MS:
            return ts
        return now_ms

    def ingest(self, reports: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """Apply the reports of live sessions in order, count the rest as rejected; returns
        both counts and the alarms raised or cleared."""
        now_ms = int(self.clock() * 1000)
        cache: dict[str, PlaybackSession | None] = {}
        touched: set[tuple[int, tuple[str, str, str]]] = set()
        accepted = rejected = 0
        for report in reports:
            record = self._live(report.get("sid"), now_ms, cache)
            if record is None:
                rejected += 1
                continue
            dims = (record.title_id, record.device_class, record.cdn)
            at = self._when(report, now_ms)
            step = partial(fold, sid=record.id, report=report, at_ms=at)
            touched.update((w, dims) for w in self._apply(record.id, dims, step))
            accepted += 1
        if rejected:
            self.windows.count_rejected(rejected)
        changes = [c for w, dims in sorted(touched) for c in self.evaluate(w, dims)]
        return {"accepted": accepted, "rejected": rejected, "alarms": changes}

    def rejected(self) -> int:
        """Reports received that named no live session, since the store began."""
        return self.windows.rejected()

    def session_ended(self, record: PlaybackSession) -> list[dict[str, Any]]:
        """A released session quits: before its first frame that is an exit before start."""
        dims = (record.title_id, record.device_class, record.cdn)
        step = partial(ended, sid=record.id, at_ms=int(self.clock() * 1000))
        touched = sorted(self._apply(record.id, dims, step))
        return [c for w in touched for c in self.evaluate(w, dims)]

    def _apply(self, sid: str, dims: tuple[str, str, str],
               step: Callable[[SessionQoe | None], Folded]) -> set[int]:  # fmt: skip
        """Fold one report into the session and its windows; the windows it touched."""
        folded = self.windows.apply(sid, alarms.dims_key(*dims), step)
        return {w for w, _, _ in folded.contributions}

    # -- KPIs ----------------------------------------------------------------------------
    def series(
        self,
        since_ms: int,
        until_ms: int,
        *,
        title_id: str | None = None,
        device_class: str | None = None,
        cdn: str | None = None,
    ) -> list[dict[str, Any]]:
        out = []
        for window, dims in self.windows.windows(since_ms, until_ms):
            t, d, c = dims.split("|")
            if (
                (title_id and t != title_id)
                or (device_class and d != device_class)
                or (cdn and c != cdn)
            ):
                continue
            out.append(
                {
                    "windowStart": _utc(window).isoformat(),
                    "window": window,
                    "titleId": t,
                    "deviceClass": d,
                    "cdn": c,
                    "kpis": kpis(self.windows.counters(window, dims)),
                }
            )
        return out

    # -- alarms --------------------------------------------------------------------------
    def evaluate(self, window: int, dims: tuple[str, str, str]) -> list[dict[str, Any]]:
        """Raise or clear alarms for one aggregate from one window (the newest one seen)."""
        key = alarms.dims_key(*dims)
        if not self.windows.latest(key, window):
            return []  # a late report for an older minute never overrides a newer verdict
        values = kpis(self.windows.counters(window, key))
        open_now = self.windows.open_alarms(key, [th.indicator for th in self.thresholds])
        changes = []
        for th in self.thresholds:
            match alarms.verdict(th, values, th.indicator in open_now):
                case "raise":
                    change = self._raise(th, window, dims, values[th.indicator])
                case "update":
                    change = self._update(th, window, dims, values[th.indicator])
                case "clear":
                    change = self._clear(th, dims, values[th.indicator])
                case _:
                    change = None
            if change:
                changes.append(change)
        return changes

    def _customers(self, window: int, key: str) -> list[str]:
        sids = self.windows.members(window, key)
        found = self.sessions.get_many(sids) if self.sessions else {}
        return sorted({s.customer for s in found.values()})

    def _raise(
        self, th: alarms.Threshold, window: int, dims: tuple[str, str, str], value: float
    ) -> dict[str, Any] | None:
        key = alarms.dims_key(*dims)
        if not self.windows.claim_alarm(key, th.indicator):
            return None  # another worker is raising it
        now = datetime.now(UTC)
        title, device_class, cdn = dims
        customers = self._customers(window, key)
        with self.db() as db, db.begin():
            affected = impact.affected_services(db, cdn, customers)
            row = AlarmRow(
                alarmed_object=alarms.alarmed_object(*dims),
                indicator=th.indicator,
                title_id=title,
                device_class=device_class,
                cdn=cdn,
                severity=th.severity,
                state="raised",
                specific_problem=th.describe(value),
                observed=value,
                threshold=th.raise_above,
                window_start=_utc(window),
                raised_at=now,
                changed_at=now,
                affected=affected,
            )
            db.add(row)
            db.flush()
            alarm_id = row.id
            view = alarms.tmf642(row)
        self.windows.set_open_alarm_id(key, th.indicator, alarm_id)
        self.windows.alarm_changed(alarm_id, f"{window}|{value:.6f}|{','.join(customers)}")
        log.warning(
            "QoE alarm %s raised: %s on %s (%d services)",
            alarm_id,
            view["specificProblem"],
            view["alarmedObject"]["id"],
            len(affected["services"]),
        )
        return view

    def _update(
        self, th: alarms.Threshold, window: int, dims: tuple[str, str, str], value: float
    ) -> dict[str, Any] | None:
        """Refresh an open alarm when its window, value or affected customers changed."""
        key = alarms.dims_key(*dims)
        alarm_id = self.windows.open_alarm_id(key, th.indicator)
        if alarm_id is None:
            return None
        customers = self._customers(window, key)
        signature = f"{window}|{value:.6f}|{','.join(customers)}"
        if not self.windows.alarm_changed(alarm_id, signature):
            return None
        now = datetime.now(UTC)
        with self.db() as db, db.begin():
            row = db.get(AlarmRow, alarm_id)
            if row is None or row.state != "raised":
                return None
            row.affected = impact.affected_services(db, dims[2], customers)
            row.observed, row.specific_problem = value, th.describe(value)
            row.window_start, row.changed_at = _utc(window), now
            return alarms.tmf642(row)

    def _clear(
        self, th: alarms.Threshold, dims: tuple[str, str, str], value: float
    ) -> dict[str, Any] | None:
        key = alarms.dims_key(*dims)
        alarm_id = self.windows.open_alarm_id(key, th.indicator)
        if alarm_id is None or not self.windows.close_alarm(key, th.indicator):
            return None  # still being raised, or another worker cleared it
        now = datetime.now(UTC)
        with self.db() as db, db.begin():
            row = db.get(AlarmRow, alarm_id)
            if row is None:
                return None
            row.state, row.cleared_at, row.changed_at, row.cleared_value = (
                "cleared",
                now,
                now,
                value,
            )
            view = alarms.tmf642(row)
        log.info("QoE alarm %s cleared: %s at %s", alarm_id, th.indicator, value)
        return view
