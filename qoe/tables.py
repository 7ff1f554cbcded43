"""QoE schema: TMF642 alarms, on the subscriber tables' base and database.

Declared on `SubscriberBase` so the one `create_all` in `subscriber.db.setup` makes the table
(`sub_alarms`, unchanged) whenever this module has been imported, as the HTTP app does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from catalogue.tables import BigId, JSONType, UTCDateTime
from subscriber.tables import SubscriberBase


class AlarmRow(SubscriberBase):
    """A QoE alarm (TMF642): one KPI of one (title, device class, CDN) aggregate crossing its
    threshold; `affected` holds the services found through the dependency map."""

    __tablename__ = "sub_alarms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alarmed_object: Mapped[str] = mapped_column(String(300), index=True)
    indicator: Mapped[str] = mapped_column(String(60))
    title_id: Mapped[str] = mapped_column(String(200))
    device_class: Mapped[str] = mapped_column(String(20))
    cdn: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), index=True)  # raised | cleared
    specific_problem: Mapped[str] = mapped_column(Text)
    observed: Mapped[float] = mapped_column()
    threshold: Mapped[float] = mapped_column()
    cleared_value: Mapped[float | None] = mapped_column()
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    affected: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
