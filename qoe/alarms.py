"""QoE thresholds and the alarms they raise and clear, shaped after TM Forum TMF642.

A threshold raises above `raise_above` and clears only below `clear_below` (hysteresis, so a
KPI hovering at the line does not flap), and only on a window with enough behind it
(`min_sample`, in the unit of `sample_of`). Pure: `verdict` compares one window's KPIs with one
threshold; the collector owns the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

ALARM_PATH = "/tmf-api/alarmManagement/v4/alarm"


@dataclass(frozen=True)
class Threshold:
    indicator: str  # a key of qoe.kpi.kpis()
    raise_above: float
    clear_below: float
    sample_of: str  # the KPI that says how much data the window holds
    min_sample: float
    severity: Literal["critical", "major", "minor", "warning"]
    label: str
    unit: Literal["ratio", "ms"]

    def describe(self, value: float) -> str:
        shown = f"{value:.1%}" if self.unit == "ratio" else f"{value:.0f} ms"
        limit = f"{self.raise_above:.1%}" if self.unit == "ratio" else f"{self.raise_above:.0f} ms"
        return f"{self.label} {shown} above {limit}"


# Rebuffering and start-up delay drive abandonment (Krishnan & Sitaraman, IMC 2012: viewers
# start leaving after 2 s, +5.8% per extra second), so those are the tight ones.
DEFAULT_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        "rebuffering_ratio", 0.03, 0.01, "watch_ms", 10_000, "major", "rebuffering ratio", "ratio"
    ),
    Threshold(
        "video_start_time_ms", 4000, 2500, "video_starts", 1, "minor", "video start time", "ms"
    ),
    Threshold(
        "exits_before_video_start_ratio",
        0.20,
        0.10,
        "sessions",
        5,
        "minor",
        "exits before video start",
        "ratio",
    ),
    Threshold(
        "playback_failure_ratio", 0.05, 0.02, "sessions", 5, "major", "playback failures", "ratio"
    ),
)

Verdict = Literal["raise", "update", "clear"] | None


def verdict(threshold: Threshold, window_kpis: dict[str, Any], is_open: bool) -> Verdict:
    """`raise` when a closed alarm should open, `clear` when an open one should close,
    `update` when an open one still holds (its value and affected services may have moved)."""
    value = window_kpis.get(threshold.indicator)
    sample = window_kpis.get(threshold.sample_of) or 0
    if value is None or sample < threshold.min_sample:
        return None
    if not is_open and value > threshold.raise_above:
        return "raise"
    if is_open:
        return "clear" if value < threshold.clear_below else "update"
    return None


def dims_key(title_id: str, device_class: str, cdn: str) -> str:
    return f"{title_id}|{device_class}|{cdn}"


def alarmed_object(title_id: str, device_class: str, cdn: str) -> str:
    return f"title={title_id};deviceClass={device_class};cdn={cdn}"


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat() if t else None


def tmf642(row: Any) -> dict[str, Any]:
    """An AlarmRow as a TMF642 Alarm resource."""
    return {
        "id": str(row.id),
        "href": f"{ALARM_PATH}/{row.id}",
        "@type": "Alarm",
        "alarmType": "qualityOfServiceAlarm",
        "perceivedSeverity": "cleared" if row.state == "cleared" else row.severity,
        "probableCause": "thresholdCrossed",
        "specificProblem": row.specific_problem,
        "state": row.state,
        "ackState": "unacknowledged",
        "sourceSystemId": "vod-qoe",
        "alarmedObjectType": "QoeAggregate",
        "alarmedObject": {"id": row.alarmed_object, "@referredType": "QoeAggregate"},
        "alarmRaisedTime": _iso(row.raised_at),
        "alarmChangedTime": _iso(row.changed_at),
        "alarmClearedTime": _iso(row.cleared_at),
        "crossedThresholdInformation": {
            "indicatorName": row.indicator,
            "observedValue": str(row.observed),
            "thresholdId": f"qoe-{row.indicator}",
            "thresholdCrossingDescription": f"above {row.threshold}",
            "direction": "up",
            "granularity": "PT1M",
            "windowStart": _iso(row.window_start),
        },
        "affectedService": row.affected.get("services", []),
        "extension": {
            "dependentServiceCount": row.affected.get("dependent_service_count", 0),
            "impactedCustomers": row.affected.get("customers", []),
            "clearedValue": row.cleared_value,
        },
    }
