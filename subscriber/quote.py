"""Pure pricing: a quote for an SVOD tier, its first period prorated by the days left in the month.

No I/O and no clock: the caller passes the activation date, so quotes are reproducible.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel

from subscriber.offers import SvodOffering

CENT = Decimal("0.01")


def days_remaining(start: date) -> tuple[int, int]:
    """(days from `start` to the month's end, both inclusive; days in the month)."""
    days_in_month = calendar.monthrange(start.year, start.month)[1]
    return days_in_month - start.day + 1, days_in_month


def prorate(monthly: Decimal, start: date) -> Decimal:
    """The first period's charge: monthly x remaining days / days in month, to the cent."""
    remaining, total = days_remaining(start)
    return (monthly * remaining / total).quantize(CENT, rounding=ROUND_HALF_UP)


class Quote(BaseModel):
    offering_id: str
    currency: str
    monthly_price: Decimal
    first_period_start: date
    first_period_days: int
    days_in_month: int
    first_period_charge: Decimal


def quote(offering: SvodOffering, currency: str, start: date) -> Quote:
    """Price `offering` in `currency` from `start`; KeyError when it is not sold in it."""
    monthly = offering.monthly_price[currency]
    remaining, total = days_remaining(start)
    return Quote(
        offering_id=offering.id,
        currency=currency,
        monthly_price=monthly,
        first_period_start=start,
        first_period_days=remaining,
        days_in_month=total,
        first_period_charge=prorate(monthly, start),
    )
