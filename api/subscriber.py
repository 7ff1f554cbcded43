"""Subscriber activation over HTTP, shaped after TM Forum Open APIs (mounted by `api.app`).

TMF620 offerings, TMF622 product order, TMF641 service order, TMF638 service inventory, TMF678
bill preview, plus device registration and TVOD rentals (with an `Idempotency-Key` header) and
the order console page. Bodies are TMF-flavoured, not full TMF conformance. Orders run
synchronously inside the POST: the response is the order as it ended (completed or failed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import Caller, Operator, act_for, own_customer, owned, responses
from api.params import ID_PATTERN as ID
from api.params import TITLE_ID_PATTERN
from api.problems import documented
from auth.principal import Principal
from catalogue import store
from catalogue.entitlement import DeviceClass, SecurityLevel
from catalogue.money import money, money_text
from core.errors import Conflict, NotFound
from subscriber import billing, inventory, orchestrator
from subscriber.offers import SVOD_OFFERINGS, find_offering, tvod_price_tiers
from subscriber.order_input import order_country, order_start
from subscriber.rentals import rent_title, rental_view
from subscriber.tables import ChargeRow, DeviceRow, OrderRow

TMF = "/tmf-api"
CustomerQuery = Annotated[
    str | None,
    Query(pattern=ID, max_length=100, description="default: the subscriber calling"),
]
OrderIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ServiceIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]  # a BIGINT id
KeyHeader = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=120)]
OptionalKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=120)
]


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
    territory: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$"), AfterValidator(order_country)]
    product_offering: OfferingRef = Field(alias="productOffering")
    requested_start: Annotated[AwareDatetime, AfterValidator(order_start)] | None = Field(
        default=None, alias="requestedStartDate"
    )


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
                "price": money(p, c),
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


def _subscription(session: Session, customer: str) -> tuple[OrderRow, Any]:
    """The customer's completed order and its offering, the CFS row locked (serialises device
    registrations and rentals per customer); 409 without an active subscription."""
    cfs = inventory.active_cfs(session, customer)
    if cfs is None:
        raise Conflict(None, f"customer {customer!r} has no active VOD service",
                       reason="no_active_service")  # fmt: skip
    inventory.lock_service(session, cfs)
    order = session.get(OrderRow, cfs.order_id)
    assert order is not None
    return order, find_offering(order.offering_id)


def _has_service(customer: str) -> Conflict:
    return Conflict(None, f"customer {customer!r} already has a service", reason="has_service")


def _unknown_order(order_id: str) -> NotFound:
    return NotFound(None, f"unknown order {order_id!r}", reason="unknown_order")


def router() -> APIRouter:
    """The TMF-shaped routes; writes go through `app.state.write_sessions`."""
    r = APIRouter(responses=responses(401, 403))

    @r.get(
        f"{TMF}/productCatalogManagement/v4/productOffering",
        tags=["TMF620"],
        summary="SVOD tiers and, for a territory, the TVOD price tiers open there",
    )
    async def offerings(
        request: Request,
        who: Caller,
        territory: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    ) -> JSONResponse:
        def work(s: Session) -> Result:
            items = [_offering_view(o) for o in SVOD_OFFERINGS]
            if territory:
                entries = store.browse(s, territory.upper(), datetime.now(UTC), limit=500)
                for t in tvod_price_tiers(entries):
                    price = money_text(t.price, t.currency)
                    items.append({
                        "id": f"tvod-{territory.upper()}-{t.tier or 'default'}-{price}",
                        "@type": "ProductOffering", "name": f"TVOD rental {t.tier or ''}".strip(),
                        "lifecycleStatus": "Active", "isSellable": True,
                        "productOfferingPrice": [{"priceType": "oneTime", "price": {
                            "value": price, "unit": t.currency}}],
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
        request: Request, who: Caller, body: OrderBody, key: OptionalKeyHeader = None
    ) -> JSONResponse:
        act_for(who, body.customer_id)

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
    async def list_orders(
        request: Request, who: Caller, customer: CustomerQuery = None
    ) -> JSONResponse:
        customer = own_customer(who, customer)

        def work(s: Session) -> Result:
            rows = s.scalars(select(OrderRow).where(OrderRow.customer == customer)
                             .order_by(OrderRow.created_at.desc()))  # fmt: skip
            return 200, [orchestrator.product_order(o) for o in rows]

        return await _in_thread(request, work)

    def _order(s: Session, order_id: str, who: Principal) -> OrderRow:
        """The order, if the caller may see it; another customer's is answered as unknown."""
        order = s.get(OrderRow, order_id)
        if order is None:
            raise _unknown_order(order_id)
        owned(who, order.customer, _unknown_order(order_id))
        return order

    @r.get(
        orders + "/{order_id}", tags=["TMF622"], responses=NOT_FOUND, summary="One product order"
    )
    async def get_order(request: Request, who: Caller, order_id: OrderIdPath) -> JSONResponse:
        return await _in_thread(
            request, lambda s: (200, orchestrator.product_order(_order(s, order_id, who)))
        )

    @r.post(
        orders + "/{order_id}/retry",
        tags=["TMF622"],
        responses={**NOT_FOUND, **CONFLICT},
        summary="Retry a failed order or resume an interrupted one",
    )
    async def retry_order(request: Request, who: Caller, order_id: OrderIdPath) -> JSONResponse:
        def work(s: Session) -> Result:
            order = _order(s, order_id, who)
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
    async def get_service_order(
        request: Request, who: Caller, order_id: OrderIdPath
    ) -> JSONResponse:
        def work(s: Session) -> Result:
            _order(s, order_id, who)
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
        who: Caller,
        customer: CustomerQuery = None,
        state: Annotated[str | None, Query(pattern=r"^(reserved|active|terminated)$")] = None,
    ) -> JSONResponse:
        customer = own_customer(who, customer)
        return await _in_thread(
            request, lambda s: (200, inventory.services_for(s, customer, state))
        )

    @r.get(
        f"{TMF}/serviceInventory/v4/service/{{service_id}}",
        tags=["TMF638"],
        responses=documented({404: "unknown service (or another customer's)"}),
        summary="One installed service (what an alarm's affectedService href names)",
    )
    async def get_service(request: Request, who: Caller, service_id: ServiceIdPath) -> JSONResponse:
        def work(s: Session) -> Result:
            unknown = NotFound(None, f"unknown service {service_id}", reason="unknown_service")
            found = inventory.service_by_id(s, service_id)
            if found is None:
                raise unknown
            owned(who, found["relatedParty"][0]["id"], unknown)
            return 200, found

        return await _in_thread(request, work)

    @r.get(
        f"{TMF}/customerBillManagement/v4/customerBill",
        tags=["TMF678"],
        summary="Bill preview: the customer's rated charges",
    )
    async def bill(request: Request, who: Caller, customer: CustomerQuery = None) -> JSONResponse:
        customer = own_customer(who, customer)
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
    async def register_device(request: Request, who: Caller, body: DeviceBody) -> JSONResponse:
        act_for(who, body.customer_id)

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
    async def list_devices(
        request: Request, who: Caller, customer: CustomerQuery = None
    ) -> JSONResponse:
        customer = own_customer(who, customer)

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
        summary="Rent a TVOD title: charged once per Idempotency-Key; 409 already_rented "
        "while a rental of it runs",
    )
    async def rent(request: Request, who: Caller, body: RentalBody, key: KeyHeader) -> JSONResponse:
        act_for(who, body.customer_id)

        def work(s: Session) -> Result:
            order, _ = _subscription(s, body.customer_id)
            charge, created = rent_title(s, order, body.title_id, key, datetime.now(UTC))
            return (201 if created else 200), rental_view(charge, replayed=not created)

        return await _in_thread(request, work)

    @r.get(rentals, tags=["TVOD"], summary="A customer's rentals")
    async def list_rentals(
        request: Request, who: Caller, customer: CustomerQuery = None
    ) -> JSONResponse:
        customer = own_customer(who, customer)

        def work(s: Session) -> Result:
            rows = s.scalars(select(ChargeRow).where(
                ChargeRow.customer == customer, ChargeRow.kind == "oneTime",
                ChargeRow.state == "rated").order_by(ChargeRow.id))  # fmt: skip
            return 200, [rental_view(c, replayed=False) for c in rows]

        return await _in_thread(request, work)

    @r.get(f"{TMF}/subscriber/v1/stats", tags=["console"], summary="Counts for the console")
    async def stats(request: Request, who: Operator) -> JSONResponse:
        def work(s: Session) -> Result:
            by_state = {state: n for state, n in s.execute(  # a Result is not a mapping
                select(OrderRow.state, func.count()).group_by(OrderRow.state))}  # fmt: skip
            return 200, {"orders": by_state}

        return await _in_thread(request, work)

    return r
