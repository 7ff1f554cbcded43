"""`vod activate` and `vod orders`: order a tier and inspect orders, against the running API
(`--api`, default VOD_API_URL, with a bearer token from VOD_API_TOKEN or `--token`) or, for an
operator with direct database access, in-process on a database (`--database-url`)."""

from __future__ import annotations

import json
from typing import Any

import click

from core.errors import Refused
from vod.commands.api_client import checked, client, token_option
from vod.errors import friendly_errors

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
SERVICE_ORDER = "/tmf-api/serviceOrdering/v4/serviceOrder"

api_option = click.option(
    "--api", envvar="VOD_API_URL", help="Base URL of the API (default http://127.0.0.1:8081)."
)
db_option = click.option(
    "--database-url", help="Run in-process on this database instead of calling the API."
)


def _print_steps(so: dict[str, Any]) -> None:
    click.echo(f"{so['id']} {so['state']} (attempts {so['attempts']})")
    for s in so["steps"]:
        err = f"  {s['error']}" if s["error"] else ""
        click.echo(f"  {s['seq']:>2} {s['name']:<18} {s['status']:<12} {s['etom']}{err}")


@click.command("activate")
@click.option("--customer", required=True, help="Customer id.")
@click.option("--territory", required=True, help="ISO 3166-1 alpha-2, e.g. GB.")
@click.option("--tier", default="standard", show_default=True, help="basic, standard, premium.")
@click.option("--idempotency-key", help="Re-sending with the same key finds the same order.")
@click.option("--json", "as_json", is_flag=True, help="Print the service order as JSON.")
@api_option
@db_option
@token_option
@friendly_errors
def activate(
    customer: str, territory: str, tier: str, idempotency_key: str | None, as_json: bool,
    api: str | None, database_url: str | None, token: str | None,
) -> None:  # fmt: skip
    """Order an SVOD tier for a customer and run the activation steps."""
    body = {"customerId": customer, "territory": territory, "productOffering": {"id": tier}}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    with client(api, database_url, token) as c:
        po = checked(c.post(ORDERS, json=body, headers=headers))
        so = checked(c.get(f"{SERVICE_ORDER}/{po['id']}"))
    if as_json:
        click.echo(json.dumps(so, indent=2))
    else:
        _print_steps(so)
    if po["state"] != "completed":
        raise Refused(f"order {po['id']}", f"{po['state']}: {po['error']}", reason="order_failed")


@click.command("orders")
@click.argument("order_id", required=False)
@click.option("--customer", help="List this customer's orders.")
@api_option
@db_option
@token_option
@friendly_errors
def orders(
    order_id: str | None, customer: str | None, api: str | None, database_url: str | None,
    token: str | None,
) -> None:  # fmt: skip
    """Show one order's steps, or list a customer's orders."""
    if not order_id and not customer:
        raise click.UsageError("give an ORDER_ID or --customer")
    with client(api, database_url, token) as c:
        if order_id:
            _print_steps(checked(c.get(f"{SERVICE_ORDER}/{order_id}")))
            return
        for po in checked(c.get(ORDERS, params={"customer": customer})):
            offering = po["productOrderItem"][0]["productOffering"]["id"]
            click.echo(f"{po['id']} {po['state']:<10} {offering:<14} {po['creationDate']}")
