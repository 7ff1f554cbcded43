"""schemathesis against the subscriber routes of the served OpenAPI schema: no server errors,
and positive cases get documented statuses. Driven through hypothesis directly (schemathesis'
pytest loader crashes under pytest 9; see test_catalogue_api)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode

from tests.support.schema_fuzz import fuzz_operation
from tests.support.subscriber_db import Served

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


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_fuzzed_requests_never_cause_a_server_error(
    api_schema: Any,
    served: Served,  # noqa: F811
    path: str,
    method: str,
    mode: GenerationMode,
) -> None:
    fuzz_operation(api_schema[path][method], served.url, mode, timeout=30)
