"""What a playback decision needs to know about a subscriber: plan, territory, the device, the
rentals and the CDN region activation assigned. Read from the inventory, device and charge
tables; a missing piece is a ContextError whose category (refused, conflict) and `reason` the
HTTP app answers as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from catalogue.entitlement import DeviceClass, Purchase, SecurityLevel
from catalogue.model import LicenseType
from core.errors import Conflict, Refused, VodError
from subscriber import inventory
from subscriber.offers import SvodOffering, find_offering
from subscriber.tables import ChargeRow, DeviceRow, OrderRow, ServiceRow


class ContextError(VodError):
    """The subscriber cannot play at all; `reason` is machine-readable."""

    def __init__(self, reason: str, cause: str) -> None:
        super().__init__(None, cause, reason=reason)


class NotSubscribed(ContextError, Refused):
    """No active service, or the device is not registered: 403."""


class InconsistentInventory(ContextError, Conflict):
    """The inventory names an offering we do not sell: 409."""


@dataclass(frozen=True)
class SubscriberContext:
    customer: str
    order_id: str
    territory: str
    offering: SvodOffering
    device_id: str
    device_class: DeviceClass
    security_level: SecurityLevel
    cdn_region: str | None
    rentals: list[ChargeRow] = field(default_factory=list)

    def purchases(self, title_id: str) -> list[Purchase]:
        """Rated TVOD rentals of the title, as the entitlement rules take them."""
        return [
            Purchase(title_id=title_id, license_type=LicenseType.TVOD, purchased_at=r.created_at)
            for r in self.rentals
            if r.title_id == title_id
        ]


def load_context(db: Session, customer: str, device_id: str) -> SubscriberContext:
    """Two round trips: the active service with its order, the device and the CDN-access
    service joined in one query, then the customer's rentals."""
    cfs, cdn = aliased(ServiceRow), aliased(ServiceRow)
    row = db.execute(
        select(OrderRow, DeviceRow, cdn)
        .select_from(cfs)
        .join(OrderRow, OrderRow.id == cfs.order_id)
        .outerjoin(
            DeviceRow, and_(DeviceRow.customer == customer, DeviceRow.device_id == device_id)
        )
        .outerjoin(cdn, and_(cdn.order_id == cfs.order_id, cdn.name == "cdn-access"))
        .where(cfs.customer == customer, cfs.name == inventory.CFS_NAME, cfs.state == "active")
        .order_by(cfs.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotSubscribed(
            "no_active_subscription", f"customer {customer!r} has no active VOD service"
        )
    order, device, cdn_service = row
    offering = find_offering(order.offering_id)
    if offering is None:
        raise InconsistentInventory("inconsistent_inventory", f"unknown offering of {customer!r}")
    if device is None or device.state != "active":
        raise NotSubscribed(
            "device_not_registered", f"device {device_id!r} is not registered to {customer!r}"
        )
    region = (cdn_service.characteristics or {}).get("region") if cdn_service else None
    rentals = list(
        db.scalars(
            select(ChargeRow).where(
                ChargeRow.customer == customer,
                ChargeRow.kind == "oneTime",
                ChargeRow.state == "rated",
                ChargeRow.title_id.is_not(None),
            )
        )
    )
    return SubscriberContext(
        customer=customer,
        order_id=order.id,
        territory=order.territory,
        offering=offering,
        device_id=device_id,
        device_class=DeviceClass(device.device_class),
        security_level=SecurityLevel(device.security_level),
        cdn_region=region,
        rentals=rentals,
    )
