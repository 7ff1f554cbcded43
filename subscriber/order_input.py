"""What a product order may ask for, checked before anything is recorded: pure functions that
raise ValueError worded for a 422 naming the field (the HTTP model calls them as validators).

A territory that is not a country at all (`ZZ`) is bad input; a real country we do not serve
(`JP`) is a well-formed order that fails at serviceability, with its reason, like any other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from catalogue.territories import is_country, normalise_territory

# A subscription starts in this century or it is a typo; the bounds also keep every date the
# activation derives (the month's end, the first period) far from datetime's year 1 and 9999.
EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_START = datetime(2100, 1, 1, tzinfo=UTC)


def order_start(value: datetime) -> datetime:
    """An aware requested start date, in UTC and within [EARLIEST_START, LATEST_START)."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("out of range once converted to UTC") from None
    if not EARLIEST_START <= utc < LATEST_START:
        raise ValueError(
            f"must be from {EARLIEST_START.date().isoformat()} and before "
            f"{LATEST_START.date().isoformat()} (UTC)"
        )
    return utc


def order_country(code: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper case (a region such as WW is not a place
    of residence)."""
    if not is_country(code):
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return normalise_territory(code)
