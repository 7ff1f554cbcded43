"""An alarm's `affectedService` hrefs lead somewhere (issue 12, item 7): each is the TMF638
service it names, answered 200 to an operator and to the service's own subscriber, 404 to
another subscriber and for an unknown id. On SQLite and PostgreSQL, over real HTTP."""

from __future__ import annotations

import uuid

import httpx

from qoe.impact import affected_services
from tests.support.auth import DevAuth
from tests.support.subscriber_db import Served

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
SERVICE = "/tmf-api/serviceInventory/v4/service"


def test_affected_service_hrefs_are_the_services_they_name(
    served: Served, operator_headers: dict[str, str], dev_auth: DevAuth
) -> None:
    cust = f"cust-{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=served.url, timeout=30, headers=operator_headers) as http:
        body = {"customerId": cust, "territory": "GB", "productOffering": {"id": "svod-basic"}}
        assert http.post(ORDERS, json=body).json()["state"] == "completed"
        with served.app.state.write_sessions() as db:
            affected = affected_services(db, "cdn-eu-west", [cust])  # what an alarm records
        refs = [s for s in affected["services"] if s["customer"] == cust]
        assert {s["name"] for s in refs} == {"cdn-access", "vod-streaming", "qoe-monitoring"}
        for ref in refs:
            resp = http.get(ref["href"])
            assert resp.status_code == 200, (ref, resp.text)
            service = resp.json()
            assert (service["id"], service["name"], service["href"]) == (
                ref["id"], ref["name"], ref["href"]
            )  # fmt: skip
            assert service["relatedParty"] == [{"id": cust, "role": "Customer"}]
            assert service["state"] == "active"
        cfs = http.get(next(r["href"] for r in refs if r["name"] == "vod-streaming")).json()
        assert len(cfs["supportingService"]) == 7

        href = refs[0]["href"]
        own = http.get(href, headers=dev_auth.subscriber(cust))
        assert own.status_code == 200 and own.json()["id"] == refs[0]["id"]
        other = http.get(href, headers=dev_auth.subscriber("someone-else"))
        assert other.status_code == 404 and other.json()["reason"] == "unknown_service"
        assert http.get(f"{SERVICE}/999999999").json()["reason"] == "unknown_service"
        assert http.get(f"{SERVICE}/0").status_code == 422
