"""schemathesis against the subscriber routes of the served OpenAPI schema: no server errors,
positive cases get documented statuses, and some reach the handler's 2xx (random ids only ever
404 or 409, so half the positive cases are aimed at a seeded customer, order and rental title).
Driven through hypothesis directly (schemathesis' pytest loader crashes under pytest 9; see
test_catalogue_api)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

from catalogue import db, store
from catalogue.model import AvailabilityWindow, LicenseType, PriceTerms, Title
from tests.support.schema_fuzz import fuzz_operation
from tests.support.subscriber_db import ORDERS, Served

OPERATIONS = [
    ("/tmf-api/productCatalogManagement/v4/productOffering", "GET"),
    ("/tmf-api/productOrderingManagement/v4/productOrder", "POST"),
    ("/tmf-api/productOrderingManagement/v4/productOrder", "GET"),
    ("/tmf-api/productOrderingManagement/v4/productOrder/{order_id}", "GET"),
    ("/tmf-api/productOrderingManagement/v4/productOrder/{order_id}/retry", "POST"),
    ("/tmf-api/serviceOrdering/v4/serviceOrder/{order_id}", "GET"),
    ("/tmf-api/serviceInventory/v4/service", "GET"),
    ("/tmf-api/customerBillManagement/v4/customerBill", "GET"),
    ("/tmf-api/subscriber/v1/device", "POST"),
    ("/tmf-api/subscriber/v1/device", "GET"),
    ("/tmf-api/subscriber/v1/rental", "POST"),
    ("/tmf-api/subscriber/v1/rental", "GET"),
]


@pytest.fixture(scope="module")
def api_schema(served: Served) -> Any:  # noqa: F811
    return schemathesis.openapi.from_url(f"{served.url}/openapi.json")


@pytest.fixture(scope="module")
def seeds(served: Served, operator_headers: dict[str, str]) -> dict[str, str]:  # noqa: F811
    """A customer with a completed premium order, and a title for rent in GB with no end."""
    rentable = AvailabilityWindow(
        title=Title(alid="md:alid:test:fuzz-rent", content_id="fuzz-rent", name="Fuzz rental"),
        territory="GB", license_type=LicenseType.TVOD, start=datetime(2026, 1, 1, tzinfo=UTC),
        end=None, price=PriceTerms(srp=Decimal("2.99"), currency="GBP"),
    )  # fmt: skip
    with db.session_scope(served.app.state.engine) as s:
        store.import_windows(s, [rentable])
    body = {"customerId": "fuzz-seed", "territory": "GB", "productOffering": {"id": "premium"}}
    with httpx.Client(base_url=served.url, timeout=30, headers=operator_headers) as h:
        order = h.post(ORDERS, json=body).json()
    assert order["state"] == "completed", order
    return {"customer": "fuzz-seed", "order": order["id"], "title": "fuzz-rent"}


def _seeded(case: schemathesis.Case, seeds: dict[str, str]) -> schemathesis.Case:
    """The case aimed at things that exist: the seeded order; for a new order, a served
    territory and a sold offering (its random customer is new); else the seeded customer."""
    if "order_id" in (case.path_parameters or {}):
        case.path_parameters["order_id"] = seeds["order"]
    if isinstance(case.body, dict):
        if "productOffering" in case.body:
            case.body.update(territory="GB", productOffering={"id": "standard"})
            case.body.pop("requestedStartDate", None)
        elif "customerId" in case.body:
            case.body["customerId"] = seeds["customer"]
        if "titleId" in case.body:
            case.body["titleId"] = seeds["title"]
    return case


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_fuzzed_requests_never_cause_a_server_error(
    api_schema: Any,
    served: Served,  # noqa: F811
    seeds: dict[str, str],
    path: str,
    method: str,
    mode: GenerationMode,
) -> None:
    operation = api_schema[path][method]
    cases = operation.as_strategy(generation_mode=mode)
    if mode == GenerationMode.POSITIVE:  # fuzz_operation then asserts a 2xx was reached
        cases = st.one_of(cases, cases.map(lambda c: _seeded(c, seeds)))
    fuzz_operation(operation, served.url, mode, timeout=30, cases=cases)
