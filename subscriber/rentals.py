"""TVOD rentals: one charge per Idempotency-Key, one active rental per title, never past the
rights window.

- The same key again replays the first rental (200), whatever has changed since.
- A new key for a title the customer already has on rent is refused (409 `already_rented`,
  naming until when): charging twice for the same right is never what the customer meant.
  Once the rental has expired the title can be rented again.
- A rental ends at the window's rental duration (48 h when the rights do not say) or when the
  rights window closes, whichever is first; a shortened rental says so in its description,
  which the rental and the bill both show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalogue import store
from catalogue.money import money
from catalogue.store import WindowView
from core.errors import Conflict, NotFound
from subscriber import billing
from subscriber.tables import ChargeRow, OrderRow

DEFAULT_RENTAL_HOURS = 48
SHORTENED = "shortened: the rights window closes at"


class AlreadyRented(Conflict):
    """The title is on rent already; the problem carries `rentalExpiresAt`."""

    def __init__(self, title_id: str, until: datetime) -> None:
        super().__init__(
            None,
            f"{title_id!r} is already rented until {until.isoformat()}",
            reason="already_rented",
        )
        self.until = until

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        return {**super().problem(instance), "rentalExpiresAt": self.until.isoformat()}


def key_for(customer: str, idempotency_key: str) -> str:
    return f"rental:{customer}:{idempotency_key}"


def rental_end(now: datetime, hours: int | None, window_end: datetime | None) -> datetime:
    """When a rental bought at `now` expires: its duration, cut at the window's end."""
    end = now + timedelta(hours=hours or DEFAULT_RENTAL_HOURS)
    return min(end, window_end) if window_end is not None else end


def cheapest_open(windows: list[WindowView]) -> WindowView | None:
    """The open, priced TVOD window a rental is sold under (the cheapest)."""
    tvod = [w for w in windows
            if w.license_type.value == "TVOD" and w.open and w.srp is not None]  # fmt: skip
    return min(tvod, key=lambda w: w.srp or 0) if tvod else None


def active_rental(
    session: Session, customer: str, title_id: str, now: datetime
) -> ChargeRow | None:
    """The customer's rental of the title still running at `now`, if any."""
    return session.scalars(
        select(ChargeRow)
        .where(
            ChargeRow.customer == customer,
            ChargeRow.title_id == title_id,
            ChargeRow.kind == "oneTime",
            ChargeRow.state == "rated",
            ChargeRow.period_end > now,
        )
        .order_by(ChargeRow.period_end.desc())
    ).first()


def _replay(charge: ChargeRow, title_id: str) -> ChargeRow:
    if charge.title_id != title_id:
        raise Conflict(None, "Idempotency-Key already used for another title",
                       reason="idempotency_key_reused")  # fmt: skip
    return charge


def rent_title(
    session: Session, order: OrderRow, title_id: str, idempotency_key: str, now: datetime
) -> tuple[ChargeRow, bool]:
    """Rent `title_id` for the customer of `order` (an active subscription whose service row the
    caller holds with `inventory.lock_service`, so two rentals of one customer never both see
    "not rented yet"): (charge, created)."""
    customer, key = order.customer, key_for(order.customer, idempotency_key)
    existing = billing.charge_by_key(session, key)
    if existing is not None and existing.state == "rated":
        return _replay(existing, title_id), False
    detail = store.title_detail(session, title_id, order.territory, now)
    if detail is None:
        raise NotFound(None, f"unknown title {title_id!r}", reason="unknown_title")
    window = cheapest_open(detail.windows)
    if window is None or window.srp is None:
        raise Conflict(None, f"{title_id!r} is not for rent in {order.territory}",
                       reason="not_for_rent")  # fmt: skip
    running = active_rental(session, customer, title_id, now)
    if running is not None and running.period_end is not None:
        raise AlreadyRented(title_id, running.period_end)
    hours = window.rental_duration_hours or DEFAULT_RENTAL_HOURS
    end = rental_end(now, hours, window.end)
    description = f"TVOD rental {detail.name or title_id}"
    if end < now + timedelta(hours=hours):
        description += f" ({hours} h {SHORTENED} {end.isoformat()})"
    charge, created = billing.charge_once(
        session, key, customer=customer, order_id=None, kind="oneTime", description=description,
        title_id=title_id, amount=window.srp, currency=window.currency or "GBP",
        period_start=now, period_end=end,
    )  # fmt: skip
    return _replay(charge, title_id), created


def rental_view(c: ChargeRow, replayed: bool) -> dict[str, Any]:
    """A rental as the API shows it; `shortened` when the rights window cut it."""
    hours = None
    if c.period_end is not None and c.period_start is not None:
        hours = round((c.period_end - c.period_start).total_seconds() / 3600, 2)
    return {"id": str(c.id), "customerId": c.customer, "titleId": c.title_id,
            "description": c.description, "price": money(c.amount, c.currency),
            "purchasedAt": c.created_at.isoformat(),
            "rentalExpiresAt": c.period_end.isoformat() if c.period_end else None,
            "rentalDurationHours": hours, "shortened": SHORTENED in c.description,
            "idempotencyKey": c.idempotency_key, "replayed": replayed}  # fmt: skip
