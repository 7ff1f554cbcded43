"""Service and resource inventory: the installed base and the service -> resource dependency map.

Rows are keyed by (order, service name), so re-running a step after a failure reuses its rows
instead of piling up duplicates; compensation marks them terminated (history is kept).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from subscriber.tables import ResourceRow, ServiceRow

CFS_NAME = "vod-streaming"
SERVICE_PATH = "/tmf-api/serviceInventory/v4/service"  # TMF638; one service at SERVICE_PATH/{id}


def service(session: Session, order_id: str, name: str) -> ServiceRow | None:
    return session.scalars(
        select(ServiceRow).where(ServiceRow.order_id == order_id, ServiceRow.name == name)
    ).first()


def upsert_service(
    session: Session,
    *,
    order_id: str,
    customer: str,
    name: str,
    category: str,
    state: str,
    parent_id: int | None = None,
    resources: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> ServiceRow:
    """Create or reset a service and its resources (name, system) to `state`."""
    row = service(session, order_id, name)
    if row is None:
        row = ServiceRow(order_id=order_id, customer=customer, name=name, category=category,
                         parent_id=parent_id, state=state, characteristics={})  # fmt: skip
        session.add(row)
        session.flush()
    row.state = state
    existing = {r.name: r for r in _resources(session, row.id)}
    for rname, system in resources:
        res = existing.get(rname)
        if res is None:
            session.add(ResourceRow(service_id=row.id, name=rname, system=system, state=state))
        else:
            res.state = state
    session.flush()
    return row


def set_state(
    session: Session, order_id: str, name: str, state: str, **characteristics: Any
) -> ServiceRow | None:
    """Move a service and its resources to `state`, merging in `characteristics`."""
    row = service(session, order_id, name)
    if row is None:
        return None
    row.state = state
    if characteristics:
        row.characteristics = {**(row.characteristics or {}), **characteristics}
    for res in _resources(session, row.id):
        res.state = state
    session.flush()
    return row


def _resources(session: Session, service_id: int) -> list[ResourceRow]:
    return list(session.scalars(select(ResourceRow).where(ResourceRow.service_id == service_id)))


def active_cfs(session: Session, customer: str) -> ServiceRow | None:
    """The customer's active VOD streaming service, if any."""
    return session.scalars(
        select(ServiceRow)
        .where(
            ServiceRow.customer == customer,
            ServiceRow.name == CFS_NAME,
            ServiceRow.state == "active",
        )  # fmt: skip
        .order_by(ServiceRow.id.desc())
    ).first()


def lock_service(session: Session, row: ServiceRow) -> None:
    """Hold `row` for the rest of the transaction on PostgreSQL and SQLite alike, then re-read
    it: a no-op UPDATE is a row lock on PostgreSQL and the database write lock on SQLite (which
    ignores SELECT ... FOR UPDATE), so two requests for one customer run one after the other."""
    session.execute(
        update(ServiceRow)
        .where(ServiceRow.id == row.id)
        .values(state=ServiceRow.state)
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)


def services_for(session: Session, customer: str, state: str | None = None) -> list[dict]:
    """TMF638-shaped services with their supporting services and resources."""
    q = select(ServiceRow).where(ServiceRow.customer == customer).order_by(ServiceRow.id)
    if state:
        q = q.where(ServiceRow.state == state)
    rows = list(session.scalars(q))
    ids = [r.id for r in rows]
    res_rows = (
        session.scalars(select(ResourceRow).where(ResourceRow.service_id.in_(ids))).all()
        if ids
        else []
    )
    by_service: dict[int, list[ResourceRow]] = {}
    for res in res_rows:
        by_service.setdefault(res.service_id, []).append(res)
    children: dict[int, list[ServiceRow]] = {}
    for r in rows:
        if r.parent_id is not None:
            children.setdefault(r.parent_id, []).append(r)
    return [_view(r, children.get(r.id, []), by_service.get(r.id, [])) for r in rows]


def service_by_id(session: Session, service_id: int) -> dict[str, Any] | None:
    """One TMF638 service (what an alarm's `affectedService` href names), or None."""
    row = session.get(ServiceRow, service_id)
    if row is None:
        return None
    children = session.scalars(
        select(ServiceRow).where(ServiceRow.parent_id == row.id).order_by(ServiceRow.id)
    )
    return _view(row, list(children), _resources(session, row.id))


def _view(r: ServiceRow, children: list[ServiceRow], resources: list[ResourceRow]) -> dict:
    return {
        "id": str(r.id),
        "href": f"{SERVICE_PATH}/{r.id}",
        "name": r.name,
        "category": r.category,
        "state": r.state,
        "productOrderId": r.order_id,
        "relatedParty": [{"id": r.customer, "role": "Customer"}],
        "serviceCharacteristic": [
            {"name": k, "value": v} for k, v in sorted((r.characteristics or {}).items())
        ],
        "supportingService": [{"id": str(c.id), "name": c.name} for c in children],
        "supportingResource": [
            {"id": str(x.id), "name": x.name, "system": x.system, "state": x.state}
            for x in resources
        ],
    }
