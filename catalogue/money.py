"""Amounts as customers see and pay them (catalogue prices, charges, bills): to the currency's
minor unit (ISO 4217 exponent).

The catalogue stores prices as numeric(12, 4) and PostgreSQL hands back "3.4900" where SQLite
hands back "3.49"; a bill must say 3.49 GBP on both. So every amount we charge is rounded to the
currency's minor unit when it is rated, and every amount we print goes through `money_text`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# ISO 4217 currencies whose minor unit is not the cent (exponent 2 is the default).
_BY_EXPONENT = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
}
_EXPONENTS: dict[str, int] = {c: e for e, codes in _BY_EXPONENT.items() for c in codes.split()}


def minor_digits(currency: str | None) -> int:
    """Decimal places of the currency's minor unit (2 when unknown or not given)."""
    return _EXPONENTS.get((currency or "").upper(), 2)


def rounded(amount: Decimal, currency: str | None) -> Decimal:
    """`amount` to the currency's minor unit, half up (what a customer is actually charged)."""
    return amount.quantize(Decimal(1).scaleb(-minor_digits(currency)), rounding=ROUND_HALF_UP)


def money_text(amount: Decimal, currency: str | None) -> str:
    """The amount as text to the minor unit: 4.9900 GBP -> "4.99", 500.0000 JPY -> "500"."""
    return str(rounded(amount, currency))


def money(amount: Decimal, currency: str | None) -> dict[str, Any]:
    """A TMF Money object: {"value": "4.99", "unit": "GBP"}."""
    return {"value": money_text(amount, currency), "unit": currency}
