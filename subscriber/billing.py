"""Dual charging (SVOD recurring, TVOD one-off) as rated usage records, and the bill preview.

Every charge carries an idempotency key with a unique constraint: charging the same key again
returns the existing record, so a retried activation or a repeated purchase never charges twice,
even when two requests race (the loser's insert fails on the constraint and it reads the
winner's row).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalogue.money import money, money_text, rounded
from subscriber.tables import ChargeRow


def charge_by_key(session: Session, key: str) -> ChargeRow | None:
    """The charge recorded under an idempotency key, if any."""
    return session.scalars(select(ChargeRow).where(ChargeRow.idempotency_key == key)).first()


def charge_once(session: Session, key: str, **fields: Any) -> tuple[ChargeRow, bool]:
    """The charge for `key`, created when new: (row, created). A voided charge (a compensated
    activation) is re-rated rather than duplicated. The amount is rated to the currency's minor
    unit (a catalogue price may carry four decimals; a customer pays whole cents)."""
    fields["amount"] = rounded(Decimal(str(fields["amount"])), fields.get("currency"))
    row = charge_by_key(session, key)
    if row is not None:
        if row.state == "void":
            row.state = "rated"
            session.flush()
            return row, True
        return row, False
    row = ChargeRow(idempotency_key=key, state="rated", created_at=datetime.now(UTC), **fields)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = charge_by_key(session, key)
        if existing is None:
            raise
        return existing, False
    return row, True


def void(session: Session, key: str) -> bool:
    """Reverse a charge (compensation); True when something was voided."""
    row = charge_by_key(session, key)
    if row is None or row.state == "void":
        return False
    row.state = "void"
    session.flush()
    return True


def bill_preview(session: Session, customer: str, at: datetime) -> dict[str, Any]:
    """A TMF678-shaped customer bill: rated charges not yet billed, totalled per currency."""
    rows = session.scalars(
        select(ChargeRow)
        .where(ChargeRow.customer == customer, ChargeRow.state == "rated")
        .order_by(ChargeRow.id)
    ).all()
    totals: dict[str, Decimal] = {}
    for r in rows:
        totals[r.currency] = totals.get(r.currency, Decimal("0")) + r.amount
    currency = next(iter(totals), "GBP")
    return {
        "id": f"preview-{customer}",
        "@type": "CustomerBill",
        "state": "new",
        "billDate": at.isoformat(),
        "relatedParty": [{"id": customer, "role": "Customer"}],
        "amountDue": money(totals.get(currency, Decimal("0.00")), currency),
        "totals": {c: money_text(v, c) for c, v in totals.items()},
        "appliedCustomerBillingRate": [
            {
                "id": str(r.id),
                "type": r.kind,
                "name": r.description,
                "productOrderId": r.order_id,
                "titleId": r.title_id,
                "taxExcludedAmount": money(r.amount, r.currency),
                "periodCoverage": {
                    "startDateTime": r.period_start.isoformat() if r.period_start else None,
                    "endDateTime": r.period_end.isoformat() if r.period_end else None,
                },
                "date": r.created_at.isoformat(),
            }
            for r in rows
        ],
    }
