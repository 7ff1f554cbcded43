"""Order input that used to answer 500 or a misleading 201 (issue 12, item 7), over real HTTP on
SQLite and PostgreSQL: an out-of-range `requestedStartDate` and a territory that is no country
are 422 problems naming the field; a real but unserved country still fails at serviceability;
the console's order counts answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from subscriber.order_input import order_country, order_start

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
STATS = "/tmf-api/subscriber/v1/stats"


@pytest.fixture
def http(operator_http: httpx.Client) -> httpx.Client:
    return operator_http


def order(http: httpx.Client, territory: str = "GB", **extra: str) -> httpx.Response:
    body = {"customerId": f"cust-{uuid.uuid4().hex[:10]}", "territory": territory,
            "productOffering": {"id": "svod-basic"}, **extra}  # fmt: skip
    return http.post(ORDERS, json=body)


def invalid(resp: httpx.Response, field: str) -> dict:
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert problem["reason"] == "invalid_request"
    assert problem["errors"][0]["loc"] == ["body", field]
    assert problem["detail"].startswith(f"body.{field}: ")
    return problem


@pytest.mark.parametrize(
    "when",
    [
        "9999-12-31T23:00:00-05:00",  # past year 9999 in UTC: was an OverflowError, 500
        "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
        "9999-12-31T00:00:00Z",  # the month's end would overflow in billing
        "1900-01-01T00:00:00Z",
        "2100-01-01T00:00:00Z",
    ],
)
def test_out_of_range_requested_start_is_a_422_naming_it(http: httpx.Client, when: str) -> None:
    invalid(order(http, requestedStartDate=when), "requestedStartDate")


def test_a_start_inside_the_range_with_an_offset_is_kept_in_utc(http: httpx.Client) -> None:
    resp = order(http, requestedStartDate="2026-11-10T23:30:00-05:00")
    assert resp.status_code == 201, resp.text
    assert resp.json()["requestedStartDate"] == "2026-11-11T04:30:00+00:00"


@pytest.mark.parametrize("code", ["ZZ", "zz", "WW", "EU", "XK"])
def test_a_territory_that_is_no_country_is_a_422_naming_it(http: httpx.Client, code: str) -> None:
    problem = invalid(order(http, territory=code), "territory")
    assert "ISO 3166-1" in problem["detail"]


def test_a_real_unserved_country_still_fails_with_its_reason(http: httpx.Client) -> None:
    resp = order(http, territory="jp")
    assert resp.status_code == 201, resp.text
    po = resp.json()
    assert po["state"] == "failed" and "JP is not served" in po["error"]
    assert po["place"] == [{"country": "JP"}]


def test_stats_count_orders_by_state(http: httpx.Client) -> None:
    before = http.get(STATS)
    assert before.status_code == 200, before.text
    counts = before.json()["orders"]
    assert order(http).json()["state"] == "completed"
    assert order(http, territory="JP").json()["state"] == "failed"
    after = http.get(STATS).json()["orders"]
    assert after["completed"] == counts.get("completed", 0) + 1
    assert after["failed"] == counts.get("failed", 0) + 1


def test_order_start_and_country_are_pure_checks() -> None:
    assert order_start(datetime.fromisoformat("2030-01-01T01:00:00+01:00")) == datetime(
        2030, 1, 1, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="out of range"):
        order_start(datetime.fromisoformat("9999-12-31T23:00:00-05:00"))
    assert order_country(" gb") == "GB"
    with pytest.raises(ValueError, match="not an ISO 3166-1"):
        order_country("ZZ")
