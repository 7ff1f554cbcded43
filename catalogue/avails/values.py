"""Avails value parsers: dates, durations, run lengths, hours, money, EIDRs, text.

Pure functions shared by both carriers (XML and spreadsheet); each raises ValueError with a
message fit for a RowError.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from catalogue.model import MAX_DURATION_HOURS, MAX_RUN_LENGTH_SECONDS, storable_money

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<d>\d+)D)?(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_EIDR = re.compile(
    r"(?:10\.5240[/:]|eidr-s:)([0-9A-Z]{4}(?:-[0-9A-Z]{4}){4}-[0-9A-Z])(?![0-9A-Z-])", re.I
)


def parse_when(value: object) -> datetime:
    """A datetime (naive = zone-less) from xs:dateTime / xs:date text or a cell value."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(
        "unparseable date (expected e.g. 2026-03-01T00:00:00, optionally with Z or +hh:mm, "
        "or 2026-03-01)"
    )


def parse_duration(text: str) -> timedelta:
    """xs:duration with days, hours, minutes, seconds (years/months have no fixed length)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError("not an xs:duration of days/hours/minutes/seconds (e.g. PT48H, P2D)")
    return timedelta(
        days=int(match["d"] or 0),
        hours=int(match["h"] or 0),
        minutes=int(match["m"] or 0),
        seconds=float(match["s"] or 0),
    )


def parse_run_length(value: object) -> int:
    """Seconds from RunLength (PT1H37M49S), a cell time, h:mm:ss or mm:ss (the TV samples),
    at most what the catalogue's integer column holds."""
    seconds = _run_length(value)
    if seconds > MAX_RUN_LENGTH_SECONDS:
        raise ValueError(f"longer than {MAX_RUN_LENGTH_SECONDS} seconds")
    return seconds


def _run_length(value: object) -> int:
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str):
        text = value.strip()
        if text.upper().startswith("P"):
            return int(parse_duration(text.upper()).total_seconds())
        parts = text.split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
            nums = [int(p) for p in parts]
            hours, minutes, seconds = [0, *nums] if len(nums) == 2 else nums
            if minutes < 60 and seconds < 60:
                return hours * 3600 + minutes * 60 + seconds
    raise ValueError("unparseable run length (expected PT1H37M49S, h:mm:ss or mm:ss)")


def parse_hours(kind: str, text: str) -> int:
    """Whole hours from an xs:duration (Duration terms) or a number of hours."""
    if kind == "Duration" or text.strip().upper().startswith("P"):
        seconds = parse_duration(text.upper()).total_seconds()
    else:
        try:
            seconds = float(Decimal(text.strip()) * 3600)
        except InvalidOperation:
            raise ValueError("not a number of hours or an xs:duration") from None
    if seconds <= 0 or seconds % 3600:
        raise ValueError("must be a positive whole number of hours")
    if seconds // 3600 > MAX_DURATION_HOURS:
        raise ValueError(f"more than {MAX_DURATION_HOURS} hours (ten years)")
    return int(seconds // 3600)


def parse_money(text: str) -> Decimal:
    """A non-negative finite decimal amount, as the catalogue stores it (`storable_money`)."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError("not a decimal amount") from None
    return storable_money(amount)


def normalise_eidr(text: str) -> str | None:
    """Canonical 10.5240/XXXX-XXXX-XXXX-XXXX-XXXX-C from URN, DOI or md:cid:eidr-s forms."""
    match = _EIDR.search(text)
    return f"10.5240/{match[1].upper()}" if match else None


def clean_text(text: str | None) -> str | None:
    """Collapse the whitespace XML pretty-printing puts inside titles; '' -> None."""
    if text is None:
        return None
    return " ".join(text.split()) or None
