"""The order console in headless Chromium (Debian's, via playwright): a completed order shows all
ten steps done with their eTOM process; a failed one shows the failing step and the compensated
ones. Served by a real uvicorn; SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from subscriber.steps import STEPS
from tests.support.player_harness import CHROMIUM
from tests.support.requirements import requires
from tests.support.subscriber_db import Served

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"

pytestmark = requires(Path(CHROMIUM).exists(), CHROMIUM, "run scripts/setup.sh")


@pytest.fixture(scope="module")
def page(chromium_page: Any) -> Any:  # noqa: F811
    return chromium_page


def _order(base: str, customer: str, headers: dict[str, str]) -> dict:
    body = {"customerId": customer, "territory": "GB", "productOffering": {"id": "standard"}}
    return httpx.post(base + ORDERS, json=body, headers=headers, timeout=30).json()


def _steps(page: Any, url: str, headers: dict[str, str]) -> list[dict[str, str]]:
    """The console's flow for `url`, signed in the way an operator would: the token in the
    URL fragment (never sent to the server)."""
    page.goto(f"{url}#token={headers['Authorization'].removeprefix('Bearer ')}")
    page.wait_for_selector("body[data-ready]", timeout=15_000)
    assert page.get_attribute("body", "data-ready") == "1", page.inner_text("#message")
    return page.eval_on_selector_all(
        ".step",
        "els => els.map(e => ({name: e.dataset.step, status: e.dataset.status,"
        " text: e.innerText, color: getComputedStyle(e).borderColor}))",
    )


def test_console_shows_steps_status_and_etom(
    page: Any,
    served: Served,  # noqa: F811
    operator_headers: dict[str, str],
) -> None:
    served.app.state.faults.down.clear()
    order = _order(served.url, f"cust-{uuid.uuid4().hex[:8]}", operator_headers)
    steps = _steps(page, f"{served.url}/console?order={order['id']}", operator_headers)
    assert [s["name"] for s in steps] == [s.name for s in STEPS]
    assert {s["status"] for s in steps} == {"done"}
    for shown, step in zip(steps, STEPS, strict=True):
        assert step.title in shown["text"] and f"eTOM: {step.etom}" in shown["text"]
        assert "done" in shown["text"]
    assert page.inner_text("#order-state") == "completed"
    assert "vod-streaming" in page.inner_text("#inventory")
    assert "recurring" in page.inner_text("#bill")


def test_console_shows_a_failed_and_compensated_order(
    page: Any,
    served: Served,  # noqa: F811
    operator_headers: dict[str, str],
) -> None:
    served.app.state.faults.down.add("billing")
    try:
        order = _order(served.url, f"cust-{uuid.uuid4().hex[:8]}", operator_headers)
    finally:
        served.app.state.faults.down.clear()
    steps = _steps(page, f"{served.url}/console?order={order['id']}", operator_headers)
    statuses = {s["name"]: s["status"] for s in steps}
    assert statuses["billing"] == "failed" and statuses["qoe"] == "pending"
    assert statuses["device_registry"] == "compensated"
    failed = next(s for s in steps if s["name"] == "billing")
    assert "injected fault" in failed["text"]
    assert failed["color"] != next(s for s in steps if s["name"] == "qoe")["color"]
    assert page.inner_text("#order-state") == "failed"


def test_console_without_a_token_asks_to_sign_in(page: Any, served: Served) -> None:  # noqa: F811
    page.goto("about:blank")
    page.goto(f"{served.url}/console?customer=anyone")
    page.evaluate("sessionStorage.clear()")
    page.goto(f"{served.url}/console?customer=anyone")
    page.wait_for_selector("body[data-ready]", timeout=15_000)
    assert page.get_attribute("body", "data-ready") == "error"
    assert "sign in" in page.inner_text("#message")
