"""The ten activation steps of the operator's design, each with `do` and its compensating `undo`.

A step reads the order and earlier steps' outputs from the Context, calls its systems (here: the
catalogue, the inventory and billing tables; the rest are recorded configurations), and returns
its outputs as JSON. `undo` must leave nothing active that `do` activated.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalogue import store
from catalogue.entitlement import DEVICE_MAX_HEIGHT, HARDWARE_BACKED, SecurityLevel
from catalogue.money import money_text
from core.errors import Refused
from subscriber import billing, inventory
from subscriber.offers import SvodOffering, find_offering, tvod_price_tiers
from subscriber.quote import quote
from subscriber.tables import DeviceRow, OrderRow

ORDER_HANDLING = "Order Handling"
SCA = "Service Configuration & Activation"
BRM = "Billing & Revenue Management"
SQM = "Service Quality Management"

# Territory -> (currency, CDN region): where the CDN serves and the plans are priced.
COVERAGE: dict[str, tuple[str, str]] = {
    "GB": ("GBP", "cdn-eu-west"),
    "IE": ("EUR", "cdn-eu-west"),
    "FR": ("EUR", "cdn-eu-central"),
    "DE": ("EUR", "cdn-eu-central"),
    "US": ("USD", "cdn-us-east"),
}

# RFS name -> resources (name, system) it uses: the dependency map for fault correlation.
RFS: dict[str, list[tuple[str, str]]] = {
    "cdn-access": [("cdn-edge-pool", "cdn"), ("cdn-session-token", "cdn")],
    "middleware-entitlement": [("entitlement-profile", "middleware")],
    "drm-policy": [("widevine-policy", "drm"), ("playready-policy", "drm"),
                   ("fairplay-policy", "drm")],
    "abr-profile": [("ladder-caps", "packager")],
    "device-registry": [("device-slots", "device-registry")],
    "billing-account": [("billing-account", "billing")],
    "qoe-monitoring": [("qoe-subscription", "qoe")],
}  # fmt: skip


class StepFailed(Refused):
    """A business refusal (not serviceable, not sold here): the order fails with this reason."""

    def __init__(self, cause: str) -> None:
        super().__init__(None, cause, reason="step_refused")


@dataclass
class Context:
    session: Session
    order: OrderRow
    now: datetime
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def offering(self) -> SvodOffering:
        found = find_offering(self.order.offering_id)
        if found is None:
            raise StepFailed(f"unknown product offering {self.order.offering_id!r}")
        return found


class Step:
    name: ClassVar[str]
    title: ClassVar[str]
    etom: ClassVar[str]
    systems: ClassVar[tuple[str, ...]]

    def inputs(self, ctx: Context) -> dict[str, Any]:
        o = ctx.order
        return {"customer": o.customer, "territory": o.territory, "offering": o.offering_id}

    def do(self, ctx: Context) -> dict[str, Any]:
        raise NotImplementedError

    def undo(self, ctx: Context) -> None:
        """Nothing to release by default (read-only steps)."""


class Serviceability(Step):
    name, title, etom, systems = "serviceability", "Serviceability", ORDER_HANDLING, (
        "serviceability", "cdn")  # fmt: skip

    def do(self, ctx: Context) -> dict[str, Any]:
        territory = ctx.order.territory
        if territory not in COVERAGE:
            raise StepFailed(f"territory {territory} is not served (no CDN coverage)")
        currency, region = COVERAGE[territory]
        if not store.browse(ctx.session, territory, ctx.now, limit=1):
            raise StepFailed(f"no catalogue is open in {territory}")
        return {"territory": territory, "currency": currency, "cdn_region": region,
                "catalogue_territory": territory}  # fmt: skip


class TerritoryScoping(Step):
    name, title, etom, systems = "territory_scoping", "Content territory scoping", \
        ORDER_HANDLING, ("catalogue",)  # fmt: skip

    def do(self, ctx: Context) -> dict[str, Any]:
        entries = store.browse(ctx.session, ctx.order.territory, ctx.now, limit=500)
        return {
            "at": ctx.now.isoformat(),
            "titles_open": len(entries),
            "sample_titles": [e.title_id for e in entries[:5]],
            "tvod_price_tiers": [t.model_dump(mode="json") for t in tvod_price_tiers(entries)],
        }


class Cpq(Step):
    name, title, etom, systems = "cpq", "CPQ: tier, quote, order", ORDER_HANDLING, (
        "cpq", "product-catalogue")  # fmt: skip

    def do(self, ctx: Context) -> dict[str, Any]:
        currency = ctx.outputs["serviceability"]["currency"]
        offering = ctx.offering
        if currency not in offering.monthly_price:
            raise StepFailed(f"{offering.name} is not sold in {currency}")
        q = quote(offering, currency, ctx.order.requested_start.date()).model_dump(mode="json")
        ctx.order.quote = q
        return {"offering": offering.model_dump(mode="json"), "quote": q}

    def undo(self, ctx: Context) -> None:
        ctx.order.quote = None


class Decomposition(Step):
    name, title, etom, systems = "decomposition", "CFS/RFS decomposition", SCA, (
        "service-inventory",)  # fmt: skip

    def do(self, ctx: Context) -> dict[str, Any]:
        o = ctx.order
        cfs = inventory.upsert_service(
            ctx.session,
            order_id=o.id,
            customer=o.customer,
            name=inventory.CFS_NAME,
            category="CFS",
            state="reserved",
        )
        for name, resources in RFS.items():
            inventory.upsert_service(ctx.session, order_id=o.id, customer=o.customer, name=name,
                                     category="RFS", state="reserved", parent_id=cfs.id,
                                     resources=resources)  # fmt: skip
        return {"cfs": inventory.CFS_NAME, "rfs": list(RFS)}

    def undo(self, ctx: Context) -> None:
        for name in (inventory.CFS_NAME, *RFS):
            inventory.set_state(ctx.session, ctx.order.id, name, "terminated")


class _ActivatesRfs(Step):
    """A step that configures some RFSs and activates them; undo terminates them."""

    rfs: ClassVar[tuple[str, ...]]

    def configure(self, ctx: Context) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def do(self, ctx: Context) -> dict[str, Any]:
        config = self.configure(ctx)
        for name in self.rfs:
            inventory.set_state(ctx.session, ctx.order.id, name, "active", **config[name])
        return config

    def undo(self, ctx: Context) -> None:
        for name in self.rfs:
            inventory.set_state(ctx.session, ctx.order.id, name, "terminated")


class CdnEntitlement(_ActivatesRfs):
    name, title, etom, systems = "cdn_entitlement", "CDN session & middleware entitlement", \
        SCA, ("cdn", "middleware")  # fmt: skip
    rfs = ("cdn-access", "middleware-entitlement")

    def configure(self, ctx: Context) -> dict[str, dict[str, Any]]:
        o, offering = ctx.order, ctx.offering
        token = hashlib.sha256(f"{o.id}:{o.customer}".encode()).hexdigest()[:32]
        return {
            "cdn-access": {"region": ctx.outputs["serviceability"]["cdn_region"],
                           "session_token": token, "territory": o.territory},
            "middleware-entitlement": {"tier": offering.tier,
                                       "includes": list(offering.includes),
                                       "concurrent_streams": offering.concurrent_streams,
                                       "territory": o.territory},
        }  # fmt: skip


def drm_policy(max_height: int) -> dict[str, dict[str, Any]]:
    """Licence policy per security level: software CDMs are capped at 720p without HDCP;
    hardware-backed ones get the tier's cap, with HDCP 2.2 (TYPE-1) above 1080p."""
    out = {}
    for level in SecurityLevel:
        hw = level in HARDWARE_BACKED
        cap = max_height if hw else min(max_height, 720)
        hdcp = "NONE" if not hw else ("TYPE-1" if cap > 1080 else "TYPE-0")
        out[level.value] = {"max_height": cap, "hdcp": hdcp, "persistent": False}
    return out


class DrmProvisioning(_ActivatesRfs):
    name, title, etom, systems = "drm", "Multi-DRM provisioning", SCA, ("drm",)
    rfs = ("drm-policy",)

    def configure(self, ctx: Context) -> dict[str, dict[str, Any]]:
        return {"drm-policy": {"systems": ["widevine", "playready", "fairplay"],
                               "policy": drm_policy(ctx.offering.max_height)}}  # fmt: skip


def abr_caps(max_height: int) -> dict[str, int]:
    """Ladder cap per device class: the lower of the tier's and the class's maximum height."""
    return {c.value: min(max_height, h) for c, h in DEVICE_MAX_HEIGHT.items()}


class AbrConfiguration(_ActivatesRfs):
    name, title, etom, systems = "abr", "Adaptive bitrate caps", SCA, ("packager",)
    rfs = ("abr-profile",)

    def configure(self, ctx: Context) -> dict[str, dict[str, Any]]:
        return {"abr-profile": {"caps": abr_caps(ctx.offering.max_height)}}


class DeviceOnboarding(_ActivatesRfs):
    name, title, etom, systems = "device_registry", "Device onboarding", SCA, (
        "device-registry",)  # fmt: skip
    rfs = ("device-registry",)

    def configure(self, ctx: Context) -> dict[str, dict[str, Any]]:
        return {"device-registry": {"device_limit": ctx.offering.device_limit}}

    def undo(self, ctx: Context) -> None:
        super().undo(ctx)
        devices = ctx.session.scalars(
            select(DeviceRow).where(
                DeviceRow.customer == ctx.order.customer, DeviceRow.state == "active"
            )  # fmt: skip
        )
        for d in devices:
            d.state = "deregistered"


def svod_charge_key(order_id: str) -> str:
    return f"order:{order_id}:svod-first-period"


class BillingActivation(Step):
    name, title, etom, systems = "billing", "Billing activation", BRM, ("billing",)

    def do(self, ctx: Context) -> dict[str, Any]:
        o, q = ctx.order, ctx.outputs["cpq"]["quote"]
        start = o.requested_start
        end = (start.replace(day=1) + timedelta(days=32)).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        )
        row, created = billing.charge_once(
            ctx.session, svod_charge_key(o.id), customer=o.customer, order_id=o.id,
            kind="recurring", description=f"{ctx.offering.name} subscription, first period "
            f"({q['first_period_days']}/{q['days_in_month']} days)",
            title_id=None, amount=q["first_period_charge"], currency=q["currency"],
            period_start=start, period_end=end,
        )  # fmt: skip
        inventory.set_state(ctx.session, o.id, "billing-account", "active",
                            account=f"ba-{o.customer}", currency=q["currency"])  # fmt: skip
        return {
            "charge_id": row.id,
            "idempotency_key": row.idempotency_key,
            "amount": money_text(row.amount, row.currency),
            "currency": row.currency,
            "created": created,
        }

    def undo(self, ctx: Context) -> None:
        billing.void(ctx.session, svod_charge_key(ctx.order.id))
        inventory.set_state(ctx.session, ctx.order.id, "billing-account", "terminated")


class QoeHookup(_ActivatesRfs):
    name, title, etom, systems = "qoe", "QoE assurance hookup", SQM, ("qoe",)
    rfs = ("qoe-monitoring",)

    def configure(self, ctx: Context) -> dict[str, dict[str, Any]]:
        return {"qoe-monitoring": {"subscription": f"qoe-{ctx.order.id}",
                                   "metrics": ["startup_time", "rebuffer_ratio", "bitrate",
                                               "errors"]}}  # fmt: skip


STEPS: tuple[Step, ...] = (
    Serviceability(), TerritoryScoping(), Cpq(), Decomposition(), CdnEntitlement(),
    DrmProvisioning(), AbrConfiguration(), DeviceOnboarding(), BillingActivation(), QoeHookup(),
)  # fmt: skip


def utcnow() -> datetime:
    return datetime.now(UTC)
