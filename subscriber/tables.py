"""Subscriber schema: orders and their steps, service/resource inventory, devices, charges.

A separate DeclarativeBase on the catalogue's database (same URL, same engine helpers): kept out
of `catalogue.tables.Base` so the catalogue's Alembic autogenerate check does not see these
tables. `subscriber.db.setup` creates them with `create_all`; folding them into an Alembic
migration is a follow-up. Layers above declare their tables on the same base (QoE alarms:
`qoe.tables`), so that one `create_all` makes them too once they are imported.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from catalogue.tables import BigId, JSONType, Money, UTCDateTime


class SubscriberBase(DeclarativeBase):
    pass


class OrderRow(SubscriberBase):
    """A product order (TMF622) and its service order (TMF641): one id for both."""

    __tablename__ = "sub_orders"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer: Mapped[str] = mapped_column(String(100), index=True)
    territory: Mapped[str] = mapped_column(String(2))
    offering_id: Mapped[str] = mapped_column(String(64))
    requested_start: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20))  # acknowledged|inProgress|completed|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    quote: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StepRow(SubscriberBase):
    """One orchestration step of an order: what it called, with what, and how it went."""

    __tablename__ = "sub_order_steps"
    __table_args__ = (UniqueConstraint("order_id", "name", name="uq_sub_step"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("sub_orders.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(40))
    etom: Mapped[str] = mapped_column(String(80))
    systems: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(20))  # pending|running|done|failed|compensated
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float | None] = mapped_column()


class ServiceRow(SubscriberBase):
    """Service inventory (TMF638): the CFS and its RFSs, one row each per order."""

    __tablename__ = "sub_services"
    __table_args__ = (UniqueConstraint("order_id", "name", name="uq_sub_service"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("sub_orders.id", ondelete="CASCADE"))
    customer: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(3))  # CFS | RFS
    parent_id: Mapped[int | None] = mapped_column(BigId)
    state: Mapped[str] = mapped_column(String(20))  # reserved|active|terminated
    characteristics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ResourceRow(SubscriberBase):
    """Resource inventory; `service_id` is the dependency map used for fault correlation."""

    __tablename__ = "sub_resources"
    __table_args__ = (UniqueConstraint("service_id", "name", name="uq_sub_resource"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("sub_services.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    system: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))


class DeviceRow(SubscriberBase):
    __tablename__ = "sub_devices"
    __table_args__ = (UniqueConstraint("customer", "device_id", name="uq_sub_device"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer: Mapped[str] = mapped_column(String(100), index=True)
    device_id: Mapped[str] = mapped_column(String(100))
    drm_system: Mapped[str] = mapped_column(String(20))
    security_level: Mapped[str] = mapped_column(String(20))
    device_class: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))  # active|deregistered
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChargeRow(SubscriberBase):
    """A rated usage record. `idempotency_key` is unique: a retry finds, never re-adds, it."""

    __tablename__ = "sub_charges"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_sub_charge_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    customer: Mapped[str] = mapped_column(String(100), index=True)
    order_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))  # recurring | oneTime
    description: Mapped[str] = mapped_column(Text)
    title_id: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(10))  # rated | void
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
