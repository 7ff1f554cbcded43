"""One Avails transaction as read, before the rules: the unit both carriers produce (an XML
Transaction, a spreadsheet row), and the collector that names errors the carrier's way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from catalogue.model import AvailabilityWindow, RowError


@dataclass(frozen=True)
class RawTerm:
    """One Avails Term as read: `kind` is the value element (Money, Text, Number, Duration)."""

    name: str
    kind: str
    value: str | None
    currency: str | None = None
    label: str = ""  # how errors name it; default "Term[<name>]"


@dataclass
class RawTransaction:
    """One transaction before validation: an XML Transaction or one spreadsheet row.

    Values are as found (text, or spreadsheet cell values for dates and run length).
    `labels` maps the XML field names used here to the carrier's own (column names).
    `problems` are (field, value, problem) the carrier found itself; they reject the row.
    """

    file: str
    location: str
    alid: str | None = None
    content_id: str | None = None
    eidr_candidates: list[str] = field(default_factory=list)
    name: str | None = None
    kind: str | None = None
    run_length: object = None
    license_type: str | None = None
    territories: list[str] = field(default_factory=list)
    territories_excluded: list[str] = field(default_factory=list)
    start: object = None
    start_condition: str | None = None
    end: object = None
    end_condition: str | None = None
    end_lag: str | None = None
    format_profile: str | None = None
    hdr: str | None = None
    allowed_languages: list[str] = field(default_factory=list)
    asset_languages: list[str] = field(default_factory=list)
    localization: str | None = None  # LocalizationOffering / LocalizationType: sub, dub...
    rights_description: str | None = None
    terms: list[RawTerm] = field(default_factory=list)
    labels: Mapping[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str | None, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Draft:
    """A validated window whose End may still wait on the file (EndCondition ESTStart)."""

    window: AvailabilityWindow
    end_on_est_start: bool = False
    end_lag: timedelta = timedelta(0)


class RowErrors:
    """Collects RowErrors for one transaction, naming fields the carrier's way."""

    def __init__(self, tx: RawTransaction):
        self.tx = tx
        self.items: list[RowError] = []

    def add(self, name: str, value: object, problem: str) -> None:
        label = self.tx.labels.get(name, name)
        shown = None if value is None else show(value)
        self.items.append(
            RowError(
                file=self.tx.file, location=self.tx.location, field=label, value=shown,
                problem=problem,
            )
        )  # fmt: skip


def show(value: object) -> str:
    """A value as an error quotes it (dates in ISO 8601)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
