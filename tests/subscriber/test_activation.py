"""Subscriber activation end to end over real HTTP (uvicorn on 127.0.0.1), SQLite and PostgreSQL:
order -> ten recorded steps -> devices -> idempotent TVOD rental -> bill preview; a fault at each
step fails and compensates the order, and a retry after recovery completes it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import update

from api.app import create_app
from catalogue import db, store
from catalogue.importer import import_file
from subscriber import billing, orchestrator
from subscriber.faults import Faults
from subscriber.offers import find_offering
from subscriber.quote import days_remaining, prorate
from subscriber.steps import STEPS, CdnEntitlement, Context, abr_caps, drm_policy
from subscriber.tables import OrderRow
from tests.support.auth import DevAuth
from tests.support.subscriber_db import (
    BILL,
    DEVICES,
    ORDERS,
    RENTALS,
    SAMPLE,
    SERVICE_ORDER,
    SERVICES,
    Served,
)
from vod.commands.subscriber import activate, orders

OFFERINGS = "/tmf-api/productCatalogManagement/v4/productOffering"
START = "2026-11-10T09:00:00Z"  # 21 of November's 30 days remain


@pytest.fixture
def http(served: Served, operator_headers: dict[str, str]) -> Iterator[httpx.Client]:  # noqa: F811
    served.app.state.faults.down.clear()
    with httpx.Client(base_url=served.url, timeout=30, headers=operator_headers) as client:
        yield client
    served.app.state.faults.down.clear()


def customer() -> str:
    return f"cust-{uuid.uuid4().hex[:10]}"


def order(http: httpx.Client, cust: str, tier: str = "svod-standard", **kw: str) -> httpx.Response:
    body = {"customerId": cust, "territory": kw.pop("territory", "GB"),
            "productOffering": {"id": tier}, "requestedStartDate": START}  # fmt: skip
    return http.post(ORDERS, json=body, headers=kw)


def device(http: httpx.Client, cust: str, dev: str, level: str = "L1") -> httpx.Response:
    return http.post(DEVICES, json={"customerId": cust, "deviceId": dev, "drmSystem": "widevine",
                                    "securityLevel": level, "deviceClass": "tv"})  # fmt: skip


def active(http: httpx.Client, cust: str) -> list[dict]:
    return http.get(SERVICES, params={"customer": cust, "state": "active"}).json()


# -- pure parts --------------------------------------------------------------------------


def test_proration_is_by_days_remaining_in_the_month() -> None:
    assert days_remaining(date(2026, 11, 10)) == (21, 30)
    assert prorate(Decimal("10.99"), date(2026, 11, 10)) == Decimal("7.69")
    assert prorate(Decimal("10.99"), date(2026, 11, 1)) == Decimal("10.99")
    assert prorate(Decimal("10.99"), date(2024, 2, 29)) == Decimal("0.38")


def test_standard_tier_limits_are_consistent() -> None:
    standard = find_offering("standard")
    assert standard is not None
    assert (standard.device_limit, standard.concurrent_streams, standard.max_height) == (2, 3, 1080)


# -- over HTTP ---------------------------------------------------------------------------


def test_offerings_include_svod_tiers_and_tvod_prices_from_the_avails(http: httpx.Client) -> None:
    items = http.get(OFFERINGS, params={"territory": "GB"}).json()
    by_id = {i["id"]: i for i in items}
    chars = {c["name"]: c["value"] for c in by_id["svod-standard"]["prodSpecCharValueUse"]}
    assert chars == {"maxResolution": 1080, "concurrentStreams": 3, "deviceLimit": 2,
                     "catalogueTier": "standard"}  # fmt: skip
    tvod = [i for i in items if i["id"].startswith("tvod-")]
    prices = [p["price"] for i in tvod for p in i["productOfferingPrice"]]
    assert [(Decimal(p["value"]), p["unit"]) for p in prices] == [(Decimal("3.49"), "GBP")]


def test_gb_subscriber_standard_devices_rental_and_bill(http: httpx.Client) -> None:
    cust = customer()
    r = order(http, cust, **{"Idempotency-Key": "signup-1"})
    assert r.status_code == 201, r.text
    po = r.json()
    assert po["state"] == "completed", po
    assert po["quote"]["first_period_charge"] == "7.69"

    so = http.get(f"{SERVICE_ORDER}/{po['id']}").json()
    assert [s["name"] for s in so["steps"]] == [s.name for s in STEPS]
    assert all(s["status"] == "done" and s["startedAt"] and s["endedAt"] for s in so["steps"])
    assert {s["etom"] for s in so["steps"]} == {
        "Order Handling", "Service Configuration & Activation", "Billing & Revenue Management",
        "Service Quality Management"}  # fmt: skip
    steps = {s["name"]: s for s in so["steps"]}
    assert steps["serviceability"]["outputs"]["currency"] == "GBP"
    assert steps["territory_scoping"]["outputs"]["sample_titles"] == ["sample"]
    assert steps["abr"]["outputs"]["abr-profile"]["caps"]["tv"] == 1080
    assert steps["drm"]["outputs"]["drm-policy"]["policy"]["L3"]["max_height"] == 720

    services = active(http, cust)
    names = {s["name"] for s in services}
    assert names == {
        "vod-streaming",
        "cdn-access",
        "middleware-entitlement",
        "drm-policy",
        "abr-profile",
        "device-registry",
        "billing-account",
        "qoe-monitoring",
    }
    cfs = next(s for s in services if s["category"] == "CFS")
    assert len(cfs["supportingService"]) == 7
    drm = next(s for s in services if s["name"] == "drm-policy")
    assert {r["system"] for r in drm["supportingResource"]} == {"drm"}

    # Re-sending the same order (a retried activation) finds it and charges nothing more.
    again = order(http, cust, **{"Idempotency-Key": "signup-1"})
    assert again.status_code == 200 and again.json()["id"] == po["id"]
    assert order(http, cust, **{"Idempotency-Key": "signup-2"}).status_code == 409

    assert device(http, cust, "tv-1").status_code == 201
    assert device(http, cust, "phone-1", "L3").status_code == 201
    assert device(http, cust, "tv-1").status_code == 200  # same device again: no new slot
    third = device(http, cust, "tablet-1")
    assert third.status_code == 409 and "device limit 2" in third.json()["detail"]
    assert len(http.get(DEVICES, params={"customer": cust}).json()) == 2

    rent = {"customerId": cust, "titleId": "sample"}
    first = http.post(RENTALS, json=rent, headers={"Idempotency-Key": "rent-1"})
    second = http.post(RENTALS, json=rent, headers={"Idempotency-Key": "rent-1"})
    assert (first.status_code, second.status_code) == (201, 200), (first.text, second.text)
    assert first.json()["id"] == second.json()["id"] and second.json()["replayed"]
    assert Decimal(first.json()["price"]["value"]) == Decimal("3.49")
    assert len(http.get(RENTALS, params={"customer": cust}).json()) == 1

    bill = http.get(BILL, params={"customer": cust}).json()
    items = [(c["type"], Decimal(c["taxExcludedAmount"]["value"]))
             for c in bill["appliedCustomerBillingRate"]]  # fmt: skip
    assert items == [("recurring", Decimal("7.69")), ("oneTime", Decimal("3.49"))]
    assert Decimal(bill["amountDue"]["value"]) == Decimal("11.18")
    assert bill["amountDue"]["unit"] == "GBP"


def test_concurrent_duplicate_rentals_charge_once(http: httpx.Client) -> None:
    cust = customer()
    assert order(http, cust).json()["state"] == "completed"
    rent = {"customerId": cust, "titleId": "sample"}

    def send(_: int) -> httpx.Response:
        return http.post(RENTALS, json=rent, headers={"Idempotency-Key": "race"})

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(send, range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(http.get(RENTALS, params={"customer": cust}).json()) == 1


def test_rental_needs_an_idempotency_key_and_an_active_service(http: httpx.Client) -> None:
    cust = customer()
    rent = {"customerId": cust, "titleId": "sample"}
    assert http.post(RENTALS, json=rent).status_code == 422
    assert http.post(RENTALS, json=rent, headers={"Idempotency-Key": "k"}).status_code == 409
    assert device(http, cust, "tv-1").status_code == 409


def test_unserved_territory_fails_at_serviceability(http: httpx.Client) -> None:
    cust = customer()
    po = order(http, cust, territory="JP").json()
    assert po["state"] == "failed" and po["error"].startswith("serviceability")
    assert active(http, cust) == []


@pytest.mark.parametrize("step", [s.name for s in STEPS])
def test_fault_at_each_step_compensates_and_a_retry_completes(
    http: httpx.Client,
    served: Served,  # noqa: F811
    step: str,
) -> None:
    failing = next(s for s in STEPS if s.name == step)
    served.app.state.faults.down.add(failing.systems[-1])
    cust = customer()
    po = order(http, cust).json()
    assert po["state"] == "failed" and po["error"].startswith(step), po

    so = http.get(f"{SERVICE_ORDER}/{po['id']}").json()
    names = [s.name for s in STEPS]
    at = names.index(step)
    statuses = [s["status"] for s in so["steps"]]
    assert statuses == ["compensated"] * at + ["failed"] + ["pending"] * (len(names) - at - 1)
    assert "injected fault" in so["steps"][at]["error"]
    assert active(http, cust) == []
    assert http.get(BILL, params={"customer": cust}).json()["appliedCustomerBillingRate"] == []
    assert device(http, cust, "tv-1").status_code == 409

    served.app.state.faults.down.clear()
    retried = http.post(f"{ORDERS}/{po['id']}/retry").json()
    assert retried["state"] == "completed" and retried["attempts"] == 2, retried
    so = http.get(f"{SERVICE_ORDER}/{po['id']}").json()
    assert {s["status"] for s in so["steps"]} == {"done"}
    assert len(active(http, cust)) == 8
    bill = http.get(BILL, params={"customer": cust}).json()
    assert [c["type"] for c in bill["appliedCustomerBillingRate"]] == ["recurring"]
    # Retrying a completed order is a no-op: still one charge.
    assert http.post(f"{ORDERS}/{po['id']}/retry").json()["attempts"] == 2
    assert len(http.get(BILL, params={"customer": cust}).json()["appliedCustomerBillingRate"]) == 1


def test_unknown_order_and_bad_offering(http: httpx.Client) -> None:
    assert http.get(f"{SERVICE_ORDER}/nope").status_code == 404
    assert http.get(f"{ORDERS}/nope").status_code == 404
    assert order(http, customer(), tier="svod-gold").status_code == 422


def test_cli_activate_and_orders(served: Served, dev_auth: DevAuth) -> None:  # noqa: F811
    cust = customer()
    runner = CliRunner(env={"VOD_API_TOKEN": dev_auth.token("subscriber", cust)})
    res = runner.invoke(activate, ["--customer", cust, "--territory", "GB", "--tier", "standard",
                                   "--api", served.url])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "completed" in res.output
    res = runner.invoke(orders, ["--customer", cust, "--api", served.url])
    assert res.exit_code == 0 and "completed" in res.output, res.output
    order_id = res.output.split()[0]
    res = runner.invoke(orders, [order_id, "--api", served.url])
    assert res.exit_code == 0 and "billing" in res.output and "done" in res.output, res.output


class _Crash(BaseException):
    """Stands in for a process dying mid-order (not an Exception: nothing compensates it)."""


class _CrashAt(Faults):
    def check(self, system: str) -> None:
        if system in self.down:
            raise _Crash(system)


def test_an_interrupted_order_resumes_from_where_it_stopped(
    http: httpx.Client,
    served: Served,  # noqa: F811
) -> None:
    cust = customer()
    sessions = db.session_factory(served.app.state.engine)
    with sessions() as s:
        created, _ = orchestrator.create_order(
            s, order_id=orchestrator.order_id_for(cust, None), customer=cust, territory="GB",
            offering_id="svod-premium", requested_start=datetime(2026, 11, 30, tzinfo=UTC),
        )  # fmt: skip
        order_id = created.id
    with sessions() as s, pytest.raises(_Crash):
        orchestrator.run(s, order_id, _CrashAt({"drm"}))

    so = http.get(f"{SERVICE_ORDER}/{order_id}").json()
    assert so["state"] == "inProgress"
    assert [s["status"] for s in so["steps"]][:6] == ["done"] * 5 + ["running"]
    # While the lease holds, nobody else runs it; once it lapses, a retry resumes it.
    assert http.post(f"{ORDERS}/{order_id}/retry").json()["attempts"] == 1
    with sessions() as s:
        s.execute(
            update(OrderRow)
            .where(OrderRow.id == order_id)
            .values(updated_at=datetime.now(UTC) - orchestrator.LEASE - timedelta(seconds=1))
        )
        s.commit()

    resumed = http.post(f"{ORDERS}/{order_id}/retry").json()
    assert resumed["state"] == "completed", resumed
    steps = http.get(f"{SERVICE_ORDER}/{order_id}").json()["steps"]
    assert [s["attempt"] for s in steps] == [1] * 5 + [2] * 5  # done steps were not re-run
    bill = http.get(BILL, params={"customer": cust}).json()
    assert [c["taxExcludedAmount"]["value"][:4] for c in bill["appliedCustomerBillingRate"]] == [
        "0.60"  # Premium 17.99 for 1 of 30 days
    ]


def test_concurrent_duplicate_orders_make_one_order_and_one_charge(http: httpx.Client) -> None:
    cust = customer()

    def send(_: int) -> httpx.Response:
        return order(http, cust, **{"Idempotency-Key": "dup"})

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(send, range(4)))
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses if r.status_code < 300}) == 1
    bill = http.get(BILL, params={"customer": cust}).json()
    assert len(bill["appliedCustomerBillingRate"]) == 1


def test_drm_policy_and_abr_caps_follow_the_tier() -> None:
    policy = drm_policy(2160)
    assert policy["L1"] == {"max_height": 2160, "hdcp": "TYPE-1", "persistent": False}
    assert policy["L3"]["max_height"] == 720 and policy["L3"]["hdcp"] == "NONE"
    assert drm_policy(1080)["SL3000"]["hdcp"] == "TYPE-0"
    assert abr_caps(1080) == {"tv": 1080, "stb": 1080, "console": 1080, "desktop": 1080,
                              "tablet": 1080, "mobile": 1080}  # fmt: skip
    assert abr_caps(2160)["mobile"] == 1080 and abr_caps(720)["tv"] == 720


def test_cli_in_process_on_a_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    app_db = create_app(url)
    with db.session_scope(app_db.state.engine) as s:
        store.import_windows(s, import_file(SAMPLE).windows)
    app_db.state.engine.dispose()
    res = runner.invoke(activate, ["--customer", "c1", "--territory", "GB", "--tier", "basic",
                                   "--database-url", url])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(activate, ["--customer", "c2", "--territory", "JP", "--database-url", url])
    assert res.exit_code == 1 and "not served" in res.output


class _WritesThenFails(CdnEntitlement):
    """Charges and activates, then fails: the step's own partial writes must not survive."""

    def do(self, ctx: Context) -> dict:
        billing.charge_once(ctx.session, "partial-write", customer=ctx.order.customer,
                            order_id=ctx.order.id, kind="oneTime", description="x",
                            title_id=None, amount=Decimal("1"), currency="GBP")  # fmt: skip
        super().do(ctx)
        raise RuntimeError("boom after writing")


def test_a_failing_step_leaves_none_of_its_own_writes(
    http: httpx.Client,
    served: Served,  # noqa: F811
) -> None:
    cust = customer()
    sessions = db.session_factory(served.app.state.engine)
    steps = (*STEPS[:4], _WritesThenFails())
    with sessions() as s:
        created, _ = orchestrator.create_order(
            s, order_id=orchestrator.order_id_for(cust, None), customer=cust, territory="GB",
            offering_id="svod-basic", requested_start=datetime(2026, 11, 2, tzinfo=UTC),
        )  # fmt: skip
        result = orchestrator.run(s, created.id, Faults(), steps)
        assert result.state == "failed" and "boom after writing" in (result.error or "")
    assert active(http, cust) == []
    assert http.get(BILL, params={"customer": cust}).json()["appliedCustomerBillingRate"] == []
    so = http.get(f"{SERVICE_ORDER}/{created.id}").json()
    assert [s["status"] for s in so["steps"]][:5] == ["compensated"] * 4 + ["failed"]
