"""Which services a QoE alarm affects, found through the inventory's dependency map.

A (title, device class, CDN) aggregate degrades for the customers whose sessions reported into
it. Their services that depend on that CDN are the `cdn-access` RFSs whose `cdn-edge-pool`
resource sits in the region, together with the parent CFS (`vod-streaming`) and the
`qoe-monitoring` RFS that watches it. The whole blast radius (every active service on that
CDN region) is counted too, so an operator sees how far a CDN fault could reach.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscriber.inventory import SERVICE_PATH
from subscriber.tables import ResourceRow, ServiceRow

MAX_LISTED = 50


def _cdn_services(db: Session, cdn: str) -> list[ServiceRow]:
    """Active RFSs holding a CDN resource in region `cdn` (resource -> service edge)."""
    rows = db.scalars(
        select(ServiceRow)
        .join(ResourceRow, ResourceRow.service_id == ServiceRow.id)
        .where(
            ResourceRow.system == "cdn",
            ResourceRow.name == "cdn-edge-pool",
            ServiceRow.state == "active",
        )
        .distinct()
    )
    return [r for r in rows if (r.characteristics or {}).get("region") == cdn]


def _ref(row: ServiceRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "href": f"{SERVICE_PATH}/{row.id}",
        "name": row.name,
        "category": row.category,
        "customer": row.customer,
    }


def affected_services(db: Session, cdn: str, customers: Iterable[str]) -> dict[str, Any]:
    """{services: [...], customers: [...], dependent_service_count: n} for an alarm."""
    on_cdn = _cdn_services(db, cdn)
    wanted = set(customers)
    hit = [r for r in on_cdn if r.customer in wanted]
    services: list[dict[str, Any]] = []
    parents = {r.parent_id for r in hit if r.parent_id is not None}
    orders = {r.order_id for r in hit}
    related = (
        db.scalars(
            select(ServiceRow).where(
                ServiceRow.order_id.in_(orders) if orders else ServiceRow.id.is_(None),
                ServiceRow.state == "active",
                ServiceRow.name.in_(("qoe-monitoring",)) | ServiceRow.id.in_(parents),
            )
        )
        if orders
        else []
    )
    for row in [*hit, *related]:
        if len(services) < MAX_LISTED:
            services.append(_ref(row))
    return {
        "services": services,
        "customers": sorted({r.customer for r in hit})[:MAX_LISTED],
        "dependent_service_count": len(on_cdn),
    }
