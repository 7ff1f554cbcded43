"""Service order management: run the activation steps in order, record each, compensate on failure.

Each step is committed as it finishes, so a crash leaves an observable, resumable order: `run`
skips steps already `done`. On a failure the completed steps are undone in reverse (status
`compensated`) and the order is `failed`; running it again (a retry) starts those steps afresh.
Charging is idempotent per order (see `subscriber.billing`), so a retry never charges twice.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from subscriber import inventory
from subscriber.faults import Faults
from subscriber.steps import STEPS, Context, Step
from subscriber.tables import OrderRow, StepRow

SERVICE_ORDER_PATH = "/tmf-api/serviceOrdering/v4/serviceOrder"


def order_id_for(customer: str, idempotency_key: str | None) -> str:
    """A client key maps to one order id, so re-sending the same order finds the first one."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{customer}\0{idempotency_key}".encode()).hexdigest()[:32]


def create_order(
    session: Session, *, order_id: str, customer: str, territory: str, offering_id: str,
    requested_start: datetime,
) -> tuple[OrderRow, bool]:  # fmt: skip
    """The order with `order_id`, created (acknowledged, steps pending) when new."""
    existing = session.get(OrderRow, order_id)
    if existing is not None:
        return existing, False
    now = datetime.now(UTC)
    order = OrderRow(id=order_id, customer=customer, territory=territory,
                     offering_id=offering_id, requested_start=requested_start,
                     state="acknowledged", attempts=0, created_at=now, updated_at=now)  # fmt: skip
    try:
        session.add(order)
        session.flush()
        for seq, step in enumerate(STEPS, 1):
            session.add(StepRow(order_id=order_id, seq=seq, name=step.name, etom=step.etom,
                                systems=list(step.systems), status="pending", inputs={},
                                outputs={}, attempt=0))  # fmt: skip
        session.commit()
    except IntegrityError:  # the same order sent twice at once: the other request created it
        session.rollback()
        existing = session.get(OrderRow, order_id)
        if existing is None:
            raise
        return existing, False
    return order, True


def _steps(session: Session, order_id: str) -> dict[str, StepRow]:
    rows = session.scalars(select(StepRow).where(StepRow.order_id == order_id))
    return {r.name: r for r in rows}


def _finish(row: StepRow, status: str, started: float, error: str | None = None) -> None:
    row.status = status
    row.error = error
    row.ended_at = datetime.now(UTC)
    row.duration_ms = round((time.perf_counter() - started) * 1000, 3)


LEASE = timedelta(seconds=60)  # an inProgress order with no progress for this long was abandoned


def _claim(session: Session, order_id: str) -> bool:
    """Atomically take the order for this runner: one conditional UPDATE, so two requests
    never run the same order at once. An inProgress order is only taken over once its lease
    has lapsed (its runner died); each step's commit renews the lease."""
    now = datetime.now(UTC)
    runnable = or_(
        OrderRow.state.in_(("acknowledged", "failed")),
        and_(OrderRow.state == "inProgress", OrderRow.updated_at < now - LEASE),
    )
    result = session.execute(
        update(OrderRow)
        .where(OrderRow.id == order_id, runnable)
        .values(state="inProgress", error=None, attempts=OrderRow.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def run(
    session: Session, order_id: str, faults: Faults, steps: tuple[Step, ...] = STEPS
) -> OrderRow:
    """Run (or resume, or retry) an order to `completed` or `failed`; when another runner holds
    it (or it is completed), return it as it stands."""
    session.commit()  # the claim must start its own transaction (SQLite: a write, not a read)
    claimed = _claim(session, order_id)
    order = session.get(OrderRow, order_id, populate_existing=True)
    if order is None:
        raise KeyError(order_id)
    if not claimed:
        return order

    rows = _steps(session, order_id)
    ctx = Context(session=session, order=order, now=datetime.now(UTC))
    ctx.outputs = {n: dict(r.outputs) for n, r in rows.items() if r.status == "done"}
    done: list[Step] = [s for s in steps if rows[s.name].status == "done"]
    for step in steps:
        row = rows[step.name]
        if row.status == "done":
            continue  # resumed order: this step already holds
        started = time.perf_counter()
        row.status, row.attempt, row.error = "running", order.attempts, None
        row.started_at, row.ended_at, row.outputs = datetime.now(UTC), None, {}
        row.inputs = step.inputs(ctx)
        order.updated_at = datetime.now(UTC)  # renews the lease
        session.commit()
        try:
            for system in (step.name, *step.systems):
                faults.check(system)
            with session.begin_nested():
                outputs = step.do(ctx)
        except Exception as exc:  # noqa: BLE001 - any failure fails the order, with its reason
            _finish(row, "failed", started, f"{type(exc).__name__}: {exc}")
            session.commit()
            _compensate(ctx, rows, list(reversed(done)))
            order.state, order.error = "failed", f"{step.name}: {exc}"
            order.updated_at = datetime.now(UTC)
            session.commit()
            return order
        row.outputs = _jsonable(outputs)
        ctx.outputs[step.name] = row.outputs
        _finish(row, "done", started)
        done.append(step)
        session.commit()
    inventory.set_state(session, order.id, inventory.CFS_NAME, "active",
                        offering=order.offering_id, territory=order.territory)  # fmt: skip
    order.state, order.updated_at = "completed", datetime.now(UTC)
    session.commit()
    return order


def _compensate(ctx: Context, rows: dict[str, StepRow], done: list[Step]) -> None:
    """Undo completed steps, newest first; a failing undo is recorded and the rest still run."""
    for step in done:
        row = rows[step.name]
        started = time.perf_counter()
        try:
            with ctx.session.begin_nested():
                step.undo(ctx)
        except Exception as exc:  # noqa: BLE001 - keep compensating the others
            _finish(row, "compensationFailed", started, f"{type(exc).__name__}: {exc}")
        else:
            _finish(row, "compensated", started)
        ctx.session.commit()


def _jsonable(value: Any) -> Any:
    """Step outputs go into a JSON column: decimals and dates become strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def service_order(session: Session, order_id: str) -> dict[str, Any] | None:
    """TMF641-shaped view of the order with its steps."""
    order = session.get(OrderRow, order_id)
    if order is None:
        return None
    rows = sorted(_steps(session, order_id).values(), key=lambda r: r.seq)
    return {
        "id": order.id,
        "@type": "ServiceOrder",
        "state": order.state,
        "productOrderId": order.id,
        "relatedParty": [{"id": order.customer, "role": "Customer"}],
        "attempts": order.attempts,
        "error": order.error,
        "steps": [
            {
                "seq": r.seq,
                "name": r.name,
                "title": STEPS[r.seq - 1].title,
                "etom": r.etom,
                "systems": r.systems,
                "status": r.status,
                "attempt": r.attempt,
                "inputs": r.inputs,
                "outputs": r.outputs,
                "error": r.error,
                "startedAt": r.started_at.isoformat() if r.started_at else None,
                "endedAt": r.ended_at.isoformat() if r.ended_at else None,
                "durationMs": r.duration_ms,
            }  # fmt: skip
            for r in rows
        ],
    }


def product_order(order: OrderRow) -> dict[str, Any]:
    """TMF622-shaped view of the product order."""
    return {
        "id": order.id,
        "@type": "ProductOrder",
        "state": order.state,
        "relatedParty": [{"id": order.customer, "role": "Customer"}],
        "place": [{"country": order.territory}],
        "productOrderItem": [
            {"id": "1", "action": "add", "productOffering": {"id": order.offering_id}}
        ],
        "requestedStartDate": order.requested_start.isoformat(),
        "quote": order.quote,
        "attempts": order.attempts,
        "error": order.error,
        "serviceOrder": {"id": order.id, "href": f"{SERVICE_ORDER_PATH}/{order.id}"},
        "creationDate": order.created_at.isoformat(),
    }
