"""Subscriber activation over HTTP, shaped after TM Forum Open APIs (mounted by `api.app`).

TMF620 offerings, TMF622 product order, TMF641 service order, TMF638 service inventory, TMF678
bill preview, plus device registration and TVOD rentals (with an `Idempotency-Key` header) and
the order console page. Bodies are TMF-flavoured, not full TMF conformance. Orders run
synchronously inside the POST: the response is the order as it ended (completed or failed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.params import ID_PATTERN as ID
from api.params import TITLE_ID_PATTERN
from api.problems import documented
from catalogue import store
from catalogue.entitlement import DeviceClass, SecurityLevel
from core.errors import Conflict, NotFound
from subscriber import billing, inventory, orchestrator
from subscriber.offers import SVOD_OFFERINGS, find_offering, tvod_price_tiers
from subscriber.tables import ChargeRow, DeviceRow, OrderRow

TMF = "/tmf-api"
CustomerQuery = Annotated[str, Query(pattern=ID, max_length=100)]
OrderIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
KeyHeader = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=120)]
OptionalKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=120)
]


def _upper(v: str) -> str:
    return v.upper()


def _known_offering(v: str) -> str:
    found = find_offering(v)
    if found is None:
        raise ValueError(f"unknown product offering {v!r}")
    return found.id


class OfferingRef(BaseModel):
    id: Annotated[str, Field(max_length=64), AfterValidator(_known_offering)]


class OrderBody(BaseModel):
    """A product order for one SVOD offering (TMF622-flavoured)."""

    model_config = ConfigDict(populate_by_name=True)

    customer_id: str = Field(alias="customerId", pattern=ID, max_length=100)
    territory: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$"), AfterValidator(_upper)]
    product_offering: OfferingRef = Field(alias="productOffering")
    requested_start: AwareDatetime | None = Field(default=None, alias="requestedStartDate")


class DeviceBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    customer_id: str = Field(alias="customerId", pattern=ID, max_length=100)
    device_id: str = Field(alias="deviceId", pattern=ID, max_length=100)
    drm_system: str = Field(alias="drmSystem", pattern=r"^(widevine|playready|fairplay|clearkey)$")
    security_level: SecurityLevel = Field(alias="securityLevel")
    device_class: DeviceClass = Field(alias="deviceClass")


class RentalBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    customer_id: str = Field(alias="customerId", pattern=ID, max_length=100)
    title_id: str = Field(alias="titleId", pattern=TITLE_ID_PATTERN)


Result = tuple[int, Any]
NOT_FOUND = documented({404: "unknown"})
CONFLICT = documented({409: "refused: no active service, limit reached, ..."})
REPLAYED: dict[int | str, dict[str, Any]] = {200: {"description": "replayed: the existing one"}}


async def _in_thread(request: Request, work: Callable[[Session], Result]) -> JSONResponse:
    """One write session per request, in the thread pool; work returns (status, body)."""

    def run() -> Result:
        with request.app.state.write_sessions() as session:
            result = work(session)
            session.commit()
            return result

    status, body = await run_in_threadpool(run)
    return JSONResponse(body, status_code=status)


def _offering_view(o: Any) -> dict[str, Any]:
    return {
        "id": o.id,
        "@type": "ProductOffering",
        "name": o.name,
        "lifecycleStatus": "Active",
        "isSellable": True,
        "productOfferingPrice": [
            {
                "priceType": "recurring",
                "recurringChargePeriod": "month",
                "price": {"value": str(p), "unit": c},
            }
            for c, p in o.monthly_price.items()
        ],  # fmt: skip
        "prodSpecCharValueUse": [
            {"name": "maxResolution", "value": o.max_height},
            {"name": "concurrentStreams", "value": o.concurrent_streams},
            {"name": "deviceLimit", "value": o.device_limit},
            {"name": "catalogueTier", "value": o.tier},
        ],
    }


def _device_view(d: DeviceRow) -> dict[str, Any]:
    return {"id": str(d.id), "customerId": d.customer, "deviceId": d.device_id,
            "drmSystem": d.drm_system, "securityLevel": d.security_level,
            "deviceClass": d.device_class, "state": d.state,
            "registeredAt": d.registered_at.isoformat()}  # fmt: skip


def _rental_view(c: ChargeRow, replayed: bool) -> dict[str, Any]:
    return {"id": str(c.id), "customerId": c.customer, "titleId": c.title_id,
            "price": {"value": str(c.amount), "unit": c.currency},
            "purchasedAt": c.created_at.isoformat(),
            "rentalExpiresAt": c.period_end.isoformat() if c.period_end else None,
            "idempotencyKey": c.idempotency_key, "replayed": replayed}  # fmt: skip


def _subscription(session: Session, customer: str) -> tuple[OrderRow, Any]:
    """The customer's completed order and its offering, the CFS row locked (serialises device
    registrations and rentals per customer); 409 without an active subscription."""
    cfs = inventory.active_cfs(session, customer)
    if cfs is None:
        raise Conflict(None, f"customer {customer!r} has no active VOD service",
                       reason="no_active_service")  # fmt: skip
    session.refresh(cfs, with_for_update=True)
    order = session.get(OrderRow, cfs.order_id)
    assert order is not None
    return order, find_offering(order.offering_id)


def _has_service(customer: str) -> Conflict:
    return Conflict(None, f"customer {customer!r} already has a service", reason="has_service")


def _unknown_order(order_id: str) -> NotFound:
    return NotFound(None, f"unknown order {order_id!r}", reason="unknown_order")


def router() -> APIRouter:
    """The TMF-shaped routes; writes go through `app.state.write_sessions`."""
    r = APIRouter()

    @r.get(
        f"{TMF}/productCatalogManagement/v4/productOffering",
        tags=["TMF620"],
        summary="SVOD tiers and, for a territory, the TVOD price tiers open there",
    )
    async def offerings(
        request: Request,
        territory: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    ) -> JSONResponse:
        def work(s: Session) -> Result:
            items = [_offering_view(o) for o in SVOD_OFFERINGS]
            if territory:
                entries = store.browse(s, territory.upper(), datetime.now(UTC), limit=500)
                for t in tvod_price_tiers(entries):
                    items.append({
                        "id": f"tvod-{territory.upper()}-{t.tier or 'default'}-{t.price}",
                        "@type": "ProductOffering", "name": f"TVOD rental {t.tier or ''}".strip(),
                        "lifecycleStatus": "Active", "isSellable": True,
                        "productOfferingPrice": [{"priceType": "oneTime", "price": {
                            "value": str(t.price), "unit": t.currency}}],
                        "prodSpecCharValueUse": [{"name": "titles", "value": t.titles}],
                    })  # fmt: skip
            return 200, items

        return await _in_thread(request, work)

    orders = f"{TMF}/productOrderingManagement/v4/productOrder"

    @r.post(
        orders,
        tags=["TMF622"],
        status_code=201,
        responses={**CONFLICT, **REPLAYED},
        summary="Order an SVOD tier; runs it",
    )
    async def create_order(
        request: Request, body: OrderBody, key: OptionalKeyHeader = None
    ) -> JSONResponse:
        def work(s: Session) -> Result:
            order_id = orchestrator.order_id_for(body.customer_id, key)
            if s.get(OrderRow, order_id) is None and inventory.active_cfs(s, body.customer_id):
                raise _has_service(body.customer_id)
            order, created = orchestrator.create_order(
                s, order_id=order_id, customer=body.customer_id, territory=body.territory,
                offering_id=body.product_offering.id,
                requested_start=(body.requested_start or datetime.now(UTC)).astimezone(UTC),
            )  # fmt: skip
            if created or order.state == "acknowledged":
                order = orchestrator.run(s, order.id, request.app.state.faults)
            return (201 if created else 200), orchestrator.product_order(order)

        return await _in_thread(request, work)

    @r.get(orders, tags=["TMF622"], summary="A customer's product orders, newest first")
    async def list_orders(request: Request, customer: CustomerQuery) -> JSONResponse:
        def work(s: Session) -> Result:
            rows = s.scalars(select(OrderRow).where(OrderRow.customer == customer)
                             .order_by(OrderRow.created_at.desc()))  # fmt: skip
            return 200, [orchestrator.product_order(o) for o in rows]

        return await _in_thread(request, work)

    def _order(s: Session, order_id: str) -> OrderRow:
        order = s.get(OrderRow, order_id)
        if order is None:
            raise _unknown_order(order_id)
        return order

    @r.get(
        orders + "/{order_id}", tags=["TMF622"], responses=NOT_FOUND, summary="One product order"
    )
    async def get_order(request: Request, order_id: OrderIdPath) -> JSONResponse:
        return await _in_thread(
            request, lambda s: (200, orchestrator.product_order(_order(s, order_id)))
        )

    @r.post(
        orders + "/{order_id}/retry",
        tags=["TMF622"],
        responses={**NOT_FOUND, **CONFLICT},
        summary="Retry a failed order or resume an interrupted one",
    )
    async def retry_order(request: Request, order_id: OrderIdPath) -> JSONResponse:
        def work(s: Session) -> Result:
            order = _order(s, order_id)
            if order.state != "completed" and inventory.active_cfs(s, order.customer):
                raise _has_service(order.customer)
            order = orchestrator.run(s, order.id, request.app.state.faults)
            return 200, orchestrator.product_order(order)

        return await _in_thread(request, work)

    @r.get(
        f"{TMF}/serviceOrdering/v4/serviceOrder/{{order_id}}",
        tags=["TMF641"],
        responses=NOT_FOUND,
        summary="The service order: steps with systems, I/O, status, timing, eTOM",
    )
    async def get_service_order(request: Request, order_id: OrderIdPath) -> JSONResponse:
        def work(s: Session) -> Result:
            found = orchestrator.service_order(s, order_id)
            if found is None:
                raise _unknown_order(order_id)
            return 200, found

        return await _in_thread(request, work)

    @r.get(
        f"{TMF}/serviceInventory/v4/service",
        tags=["TMF638"],
        summary="Installed services with their supporting resources",
    )
    async def services(
        request: Request,
        customer: CustomerQuery,
        state: Annotated[str | None, Query(pattern=r"^(reserved|active|terminated)$")] = None,
    ) -> JSONResponse:
        return await _in_thread(
            request, lambda s: (200, inventory.services_for(s, customer, state))
        )

    @r.get(
        f"{TMF}/customerBillManagement/v4/customerBill",
        tags=["TMF678"],
        summary="Bill preview: the customer's rated charges",
    )
    async def bill(request: Request, customer: CustomerQuery) -> JSONResponse:
        return await _in_thread(
            request, lambda s: (200, billing.bill_preview(s, customer, datetime.now(UTC)))
        )

    devices = f"{TMF}/subscriber/v1/device"

    @r.post(
        devices,
        tags=["devices"],
        status_code=201,
        responses={**CONFLICT, **REPLAYED},
        summary="Register a device; refused (409) past the tier's device limit",
    )
    async def register_device(request: Request, body: DeviceBody) -> JSONResponse:
        def work(s: Session) -> Result:
            _, offering = _subscription(s, body.customer_id)
            rows = list(s.scalars(select(DeviceRow).where(DeviceRow.customer == body.customer_id)))
            same = next((d for d in rows if d.device_id == body.device_id), None)
            if same is not None and same.state == "active":
                return 200, _device_view(same)
            active = sum(d.state == "active" for d in rows)
            if active >= offering.device_limit:
                raise Conflict(None, f"device limit {offering.device_limit} reached for the "
                               f"{offering.name} tier", reason="device_limit")  # fmt: skip
            row = same or DeviceRow(customer=body.customer_id, device_id=body.device_id)
            row.drm_system, row.security_level = body.drm_system, body.security_level.value
            row.device_class, row.state = body.device_class.value, "active"
            row.registered_at = datetime.now(UTC)
            s.add(row)
            s.flush()
            return 201, _device_view(row)

        return await _in_thread(request, work)

    @r.get(devices, tags=["devices"], summary="A customer's devices")
    async def list_devices(request: Request, customer: CustomerQuery) -> JSONResponse:
        def work(s: Session) -> Result:
            rows = s.scalars(select(DeviceRow).where(DeviceRow.customer == customer)
                             .order_by(DeviceRow.id))  # fmt: skip
            return 200, [_device_view(d) for d in rows]

        return await _in_thread(request, work)

    rentals = f"{TMF}/subscriber/v1/rental"

    @r.post(
        rentals,
        tags=["TVOD"],
        status_code=201,
        responses={**NOT_FOUND, **CONFLICT, **REPLAYED},
        summary="Rent a TVOD title: charged once per Idempotency-Key",
    )
    async def rent(request: Request, body: RentalBody, key: KeyHeader) -> JSONResponse:
        def work(s: Session) -> Result:
            order, _ = _subscription(s, body.customer_id)
            now = datetime.now(UTC)
            detail = store.title_detail(s, body.title_id, order.territory, now)
            if detail is None:
                raise NotFound(None, f"unknown title {body.title_id!r}", reason="unknown_title")
            tvod = [w for w in detail.windows
                    if w.license_type.value == "TVOD" and w.open and w.srp is not None]  # fmt: skip
            if not tvod:
                raise Conflict(None, f"{body.title_id!r} is not for rent in {order.territory}",
                               reason="not_for_rent")  # fmt: skip
            w = min(tvod, key=lambda x: x.srp)
            hours = w.rental_duration_hours or 48
            charge, created = billing.charge_once(
                s, f"rental:{body.customer_id}:{key}", customer=body.customer_id, order_id=None,
                kind="oneTime", description=f"TVOD rental {detail.name or body.title_id}",
                title_id=body.title_id, amount=w.srp, currency=w.currency or "GBP",
                period_start=now, period_end=now + timedelta(hours=hours),
            )  # fmt: skip
            if charge.title_id != body.title_id:
                raise Conflict(None, "Idempotency-Key already used for another title",
                               reason="idempotency_key_reused")  # fmt: skip
            return (201 if created else 200), _rental_view(charge, replayed=not created)

        return await _in_thread(request, work)

    @r.get(rentals, tags=["TVOD"], summary="A customer's rentals")
    async def list_rentals(request: Request, customer: CustomerQuery) -> JSONResponse:
        def work(s: Session) -> Result:
            rows = s.scalars(select(ChargeRow).where(
                ChargeRow.customer == customer, ChargeRow.kind == "oneTime",
                ChargeRow.state == "rated").order_by(ChargeRow.id))  # fmt: skip
            return 200, [_rental_view(c, replayed=False) for c in rows]

        return await _in_thread(request, work)

    @r.get(f"{TMF}/subscriber/v1/stats", tags=["console"], summary="Counts for the console")
    async def stats(request: Request) -> JSONResponse:
        def work(s: Session) -> Result:
            by_state = dict(
                s.execute(select(OrderRow.state, func.count()).group_by(OrderRow.state))
            )
            return 200, {"orders": by_state}

        return await _in_thread(request, work)

    return r
