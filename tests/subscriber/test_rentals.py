"""TVOD rentals over real HTTP on SQLite and PostgreSQL (issue 12, item 7): a title already on
rent is refused under a new Idempotency-Key (409 `already_rented`, naming until when) while the
first key still replays; a rental never outlives its rights window and says it was shortened;
amounts print with the currency's two decimals on both backends (PostgreSQL's numeric(12, 4)
used to show "3.4900")."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from catalogue import db, store
from catalogue.importer import import_file
from catalogue.money import money_text
from subscriber.rentals import rental_end
from tests.support.subscriber_db import Served

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
OFFERINGS = "/tmf-api/productCatalogManagement/v4/productOffering"
RENTALS = "/tmf-api/subscriber/v1/rental"
BILL = "/tmf-api/customerBillManagement/v4/customerBill"


@pytest.fixture
def http(operator_http: httpx.Client) -> httpx.Client:
    return operator_http


def subscribed(http: httpx.Client) -> str:
    cust = f"cust-{uuid.uuid4().hex[:10]}"
    body = {"customerId": cust, "territory": "GB", "productOffering": {"id": "svod-standard"},
            "requestedStartDate": "2026-11-10T09:00:00Z"}  # fmt: skip
    resp = http.post(ORDERS, json=body)
    assert resp.status_code == 201 and resp.json()["state"] == "completed", resp.text
    return cust


def rent(http: httpx.Client, cust: str, key: str, title: str = "sample") -> httpx.Response:
    return http.post(RENTALS, json={"customerId": cust, "titleId": title},
                     headers={"Idempotency-Key": key})  # fmt: skip


def closing_title(served: Served, tmp_path: Path, closes: datetime) -> str:
    """A title whose GB TVOD window (720 h rentals at 2.5 GBP) closes at `closes`."""
    title = f"closing-{uuid.uuid4().hex[:8]}"
    rights = {"title_id": title, "name": "Closing soon", "windows": [
        {"territory": "GB", "license_type": "TVOD", "format_profile": "HD",
         "start": "2026-01-01T00:00:00Z", "end": closes.isoformat(),
         "price": {"srp": "2.5", "currency": "GBP"}, "rental_duration_hours": 720}]}  # fmt: skip
    path = tmp_path / f"{title}.json"
    path.write_text(json.dumps(rights))
    with db.session_scope(served.app.state.engine) as s:
        store.import_windows(s, import_file(path).windows)
    return title


def test_a_title_on_rent_is_not_charged_again_under_a_new_key(http: httpx.Client) -> None:
    cust = subscribed(http)
    first = rent(http, cust, "k1")
    assert first.status_code == 201, first.text
    again = rent(http, cust, "k2")
    assert again.status_code == 409, again.text
    problem = again.json()
    assert problem["reason"] == "already_rented"
    assert problem["rentalExpiresAt"] == first.json()["rentalExpiresAt"]
    assert first.json()["rentalExpiresAt"] in problem["detail"]
    replay = rent(http, cust, "k1")
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert len(http.get(RENTALS, params={"customer": cust}).json()) == 1
    assert len(http.get(BILL, params={"customer": cust}).json()["appliedCustomerBillingRate"]) == 2


def test_concurrent_rentals_under_different_keys_charge_once(http: httpx.Client) -> None:
    cust = subscribed(http)
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda i: rent(http, cust, f"race-{i}"), range(6)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5, [
        r.text for r in responses
    ]
    assert {r.json()["reason"] for r in responses if r.status_code == 409} == {"already_rented"}
    assert len(http.get(RENTALS, params={"customer": cust}).json()) == 1


def test_a_rental_ends_when_its_rights_window_closes(
    http: httpx.Client, served: Served, tmp_path: Path
) -> None:
    closes = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    title = closing_title(served, tmp_path, closes)
    cust = subscribed(http)
    resp = rent(http, cust, "k", title)
    assert resp.status_code == 201, resp.text
    rental = resp.json()
    assert datetime.fromisoformat(rental["rentalExpiresAt"]) == closes  # not 720 h from now
    assert rental["shortened"] is True and 71 < rental["rentalDurationHours"] <= 72
    assert "720 h shortened" in rental["description"]
    assert closes.isoformat() in rental["description"]
    [line] = [c for c in http.get(BILL, params={"customer": cust}).json()[
        "appliedCustomerBillingRate"] if c["titleId"] == title]  # fmt: skip
    assert line["name"] == rental["description"]
    assert datetime.fromisoformat(line["periodCoverage"]["endDateTime"]) == closes
    # A window open long after the rental keeps the full duration.
    later = closing_title(served, tmp_path, closes + timedelta(days=60))
    full = rent(http, subscribed(http), "k", later).json()
    assert full["shortened"] is False and full["rentalDurationHours"] == 720
    assert full["description"] == "TVOD rental Closing soon"


def test_amounts_print_with_the_currencys_two_decimals(
    http: httpx.Client, served: Served, tmp_path: Path
) -> None:
    title = closing_title(served, tmp_path, datetime.now(UTC) + timedelta(days=30))
    cust = subscribed(http)
    rental = rent(http, cust, "k", title).json()
    assert rental["price"] == {"value": "2.50", "unit": "GBP"}
    assert rent(http, cust, "k", title).json()["price"] == {"value": "2.50", "unit": "GBP"}
    assert http.get(RENTALS, params={"customer": cust}).json()[0]["price"]["value"] == "2.50"
    sample = rent(http, cust, "k2").json()
    assert sample["price"] == {"value": "3.49", "unit": "GBP"}

    bill = http.get(BILL, params={"customer": cust}).json()
    values = [c["taxExcludedAmount"]["value"] for c in bill["appliedCustomerBillingRate"]]
    assert values == ["7.69", "2.50", "3.49"]
    assert bill["amountDue"] == {"value": "13.68", "unit": "GBP"} and bill["totals"] == {
        "GBP": "13.68"
    }
    svc = http.get(f"/tmf-api/serviceOrdering/v4/serviceOrder/{_order_id(http, cust)}").json()
    assert {s["name"]: s for s in svc["steps"]}["billing"]["outputs"]["amount"] == "7.69"

    offers = http.get(OFFERINGS, params={"territory": "GB"}).json()
    tvod = {o["id"]: o["productOfferingPrice"][0]["price"] for o in offers if o["id"][:4] == "tvod"}
    assert tvod["tvod-GB-new-release-3.49"] == {"value": "3.49", "unit": "GBP"}
    assert tvod["tvod-GB-default-2.50"] == {"value": "2.50", "unit": "GBP"}
    svod = next(o for o in offers if o["id"] == "svod-standard")["productOfferingPrice"]
    assert {p["price"]["unit"]: p["price"]["value"] for p in svod}["GBP"] == "10.99"


def _order_id(http: httpx.Client, cust: str) -> str:
    [order] = http.get(ORDERS, params={"customer": cust}).json()
    return order["id"]


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [("4.9900", "GBP", "4.99"), ("2.5", "EUR", "2.50"), ("500.0000", "JPY", "500"),
     ("1.2345", "BHD", "1.235"), ("3.499", None, "3.50")],
)  # fmt: skip
def test_money_text_uses_the_currencys_minor_unit(amount: str, currency: str, text: str) -> None:
    assert money_text(Decimal(amount), currency) == text


def test_rental_end_is_the_earlier_of_duration_and_window_end() -> None:
    now = datetime(2026, 12, 30, 12, tzinfo=UTC)
    window_end = datetime(2027, 1, 1, tzinfo=UTC)
    assert rental_end(now, 720, window_end) == window_end
    assert rental_end(now, 24, window_end) == now + timedelta(hours=24)
    assert rental_end(now, None, None) == now + timedelta(hours=48)
