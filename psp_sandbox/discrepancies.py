"""Seeded discrepancies between the PSP's books and paymesh's: `/_sandbox/discrepancies`.

    POST /_sandbox/discrepancies  {"kind": ..., ...}   seed one, now; answers what it changed
    GET  /_sandbox/discrepancies                       the ones seeded, oldest first

Each changes the sandbox's own records as a PSP's books would differ, so the balance
transactions list, report runs and platform payouts all show it:

- `missing_charge` (payment_order_id): the order's charge has no balance transaction;
- `extra_charge` (amount, currency): a charge no paymesh order knows (no metadata);
- `fee_differs` (payment_order_id, fee_delta): its charge's fee (and net) off by fee_delta;
- `amount_differs` (payment_order_id, amount_delta): its gross (and net) off by amount_delta;
- `duplicate_charge` (payment_order_id): a second charge on the same PaymentIntent;
- `late_settlement` (payment_order_id, delay_s): its charge's balance transaction is created
  (and available) delay_s later.

Amounts are integer minor units, delays seconds.

Needs the API key, like /v1.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import balance
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import invalid_request
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import encode, json_response
from psp_sandbox.store import SandboxStore, StripeObject

HIDDEN = "hidden_balance_transaction"  # record kind: balance transactions the PSP "lost"
SEEDED = "discrepancy"  # record kind: what was seeded, for GET
KINDS = (
    "missing_charge",
    "extra_charge",
    "fee_differs",
    "amount_differs",
    "duplicate_charge",
    "late_settlement",
)


def visible_transactions(store: SandboxStore) -> Iterator[StripeObject]:
    """The balance transactions the PSP's books show (all but the hidden ones), oldest first."""
    hidden = store.records(HIDDEN)
    for txn in store.all("balance_transaction"):
        if txn["id"] not in hidden:
            yield txn


# Bounds that keep every amount within Stripe's eight digits and every date within a report.
_LIMITS = {"delay_s": 90 * 86_400, "amount": 99_999_999, "fee_delta": 99_999_999,
           "amount_delta": 99_999_999}  # fmt: skip


def _int(body: dict[str, Any], name: str, *, positive: bool = False) -> int:
    value = body.get(name)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (positive and value <= 0)
        or abs(value) > _LIMITS[name]
    ):
        kind = "a positive integer" if positive else "an integer"
        raise invalid_request(
            f"{name} must be {kind} of at most {_LIMITS[name]} (minor units or seconds).",
            param=name,
        )
    return value


class DiscrepancyRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def list(self, request: Request) -> Response:
        self._authenticate(request)
        seeded = sorted(self._context.store.records(SEEDED).values(), key=lambda d: d["seq"])
        body = {"object": "list", "data": seeded, "has_more": False}
        return json_response(200, encode(body), new_id("req_"))

    async def seed(self, request: Request) -> Response:
        self._authenticate(request)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise invalid_request("The discrepancy must be JSON.") from None
        if not isinstance(body, dict) or body.get("kind") not in KINDS:
            raise invalid_request(f"kind must be one of: {', '.join(KINDS)}.", param="kind")
        kind = body["kind"]
        now = int(self._context.clock())
        store = self._context.store
        records: list[tuple[str, str, dict[str, Any] | None]] = []
        if kind == "extra_charge":
            objects = _extra_charge(body, now)
        else:
            charge, txn = self._charge_of(body)
            objects, records = _change(kind, body, charge, txn, now)
        seeded = {
            "id": new_id("dsc_"),
            "kind": kind,
            "seq": len(store.records(SEEDED)) + 1,
            "request": body,
            "balance_transactions": [
                o["id"] for o in objects if o["object"] == "balance_transaction"
            ],
            "created": now,
        }
        store.save(objects, records=[*records, (SEEDED, seeded["id"], seeded)])
        return json_response(200, encode(seeded), new_id("req_"))

    def _charge_of(self, body: dict[str, Any]) -> tuple[StripeObject, StripeObject]:
        order = body.get("payment_order_id")
        if not isinstance(order, str) or not order:
            raise invalid_request("payment_order_id is required.", param="payment_order_id")
        store = self._context.store
        for charge in reversed(store.all("charge")):
            if charge["paid"] and (charge.get("metadata") or {}).get("payment_order_id") == order:
                txn = store.get(charge["balance_transaction"], "balance_transaction")
                if txn is not None:
                    return charge, txn
        raise invalid_request(
            f"No succeeded charge for payment_order_id {order!r}.",
            param="payment_order_id",
            code="resource_missing",
            status=404,
        )

    def _authenticate(self, request: Request) -> None:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)


def _change(
    kind: str, body: dict[str, Any], charge: StripeObject, txn: StripeObject, now: int
) -> tuple[list[StripeObject], list[tuple[str, str, dict[str, Any] | None]]]:
    txn = copy.deepcopy(txn)
    if kind == "missing_charge":
        return [], [(HIDDEN, txn["id"], {"charge": charge["id"]})]
    if kind == "fee_differs":
        delta = _int(body, "fee_delta")
        if txn["fee"] + delta < 0:
            raise invalid_request("fee_delta would make the fee negative.", param="fee_delta")
        txn["fee"] += delta
        txn["net"] -= delta
        for detail in txn["fee_details"]:
            detail["amount"] = txn["fee"]
        return [txn], []
    if kind == "amount_differs":
        delta = _int(body, "amount_delta")
        txn["amount"] += delta
        txn["net"] += delta
        return [txn], []
    if kind == "late_settlement":
        delay = _int(body, "delay_s", positive=True)
        txn["created"] += delay
        txn["available_on"] += delay
        return [txn], []
    # duplicate_charge: the same PaymentIntent charged a second time.
    second = copy.deepcopy(charge)
    # Later than the first, as a second charge is: a report ranks an order's charges by time,
    # and one planted within the first's second would tie with it (and be told apart only by
    # its random id).
    later = max(now, int(charge["created"]) + 1)
    second.update(id=new_id("ch_"), created=later, amount_refunded=0, refunded=False)
    duplicate = balance.for_charge(second, later)
    second["balance_transaction"] = duplicate["id"]
    return [second, duplicate], []


def _extra_charge(body: dict[str, Any], now: int) -> list[StripeObject]:
    amount = _int(body, "amount", positive=True)
    currency = body.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise invalid_request("currency must be a three-letter code.", param="currency")
    charge = {
        "id": new_id("ch_"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "balance_transaction": None,
        "captured": True,
        "created": now,
        "currency": currency.lower(),
        "description": "a charge paymesh never asked for (seeded)",
        "livemode": False,
        "metadata": {},
        "paid": True,
        "payment_intent": None,
        "refunded": False,
        "status": "succeeded",
    }
    txn = balance.for_charge(charge, now)
    charge["balance_transaction"] = txn["id"]
    return [charge, txn]
