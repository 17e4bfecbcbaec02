"""The PSP's payouts of the platform's own balance to the platform's bank.

    POST /_sandbox/platform_payouts  {"currency": "usd", "available_before": <unix>}

pays out, now, the platform's balance in that currency made of the balance transactions
available before `available_before` (default: now; a test names a later time instead of
waiting the two days funds take to become available). The payout is `paid` at once, with a
balance transaction of type `payout` (gross = -amount, no fee), as Stripe's automatic payouts
are (the balance transactions list and the `payouts.itemized.3` report show it). With nothing
to pay out: 400 `balance_insufficient`. Needs the API key, like /v1.

The amount is the sum of `net` over the visible balance transactions (charges net of fees,
refunds, transfers to connected accounts, earlier payouts), integer minor units.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import balance, discrepancies
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import invalid_request
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import encode, json_response
from psp_sandbox.store import SandboxStore

PLATFORM = ""  # the `account` of a platform payout (connected accounts' payouts name theirs)


def available_balance(store: SandboxStore, currency: str, before: int) -> int:
    """The platform's balance in `currency` that is available before `before` (minor units)."""
    return sum(
        txn["net"]
        for txn in discrepancies.visible_transactions(store)
        if txn["currency"] == currency and txn["available_on"] < before
    )


class PlatformPayoutRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def create(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise invalid_request("The payout request must be JSON.") from None
        if not isinstance(body, dict):
            raise invalid_request("The payout request must be a JSON object.")
        currency = body.get("currency")
        if not isinstance(currency, str) or len(currency) != 3:
            raise invalid_request("currency must be a three-letter code.", param="currency")
        currency = currency.lower()
        now = int(self._context.clock())
        before = body.get("available_before", now + 1)
        if isinstance(before, bool) or not isinstance(before, int):
            raise invalid_request("available_before must be a unix time.", param="available_before")
        amount = available_balance(self._context.store, currency, before)
        if amount <= 0:
            raise invalid_request(
                f"The platform has no available {currency} balance to pay out.",
                code="balance_insufficient",
            )
        payout: dict[str, Any] = {
            "id": new_id("po_"),
            "object": "payout",
            "account": PLATFORM,  # sandbox-only: the platform's own payout
            "amount": amount,
            "arrival_date": now,
            "automatic": True,
            "balance_transaction": None,
            "created": now,
            "created_at_s": float(now),  # sandbox-only, as on connected accounts' payouts
            "currency": currency,
            "description": "STRIPE PAYOUT",
            "destination": "ba_platform",
            "failure_code": None,
            "failure_message": None,
            "metadata": {},
            "method": "standard",
            "status": "paid",
            "type": "bank_account",
        }
        txn = balance.for_payout(payout, now)
        payout["balance_transaction"] = txn["id"]
        self._context.store.save([payout, txn])
        return json_response(200, encode(payout), new_id("req_"))
