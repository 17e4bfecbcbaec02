"""Stripe Connect payouts: POST /v1/transfers (platform → connected account), POST /v1/payouts
with a `Stripe-Account` header (connected account → its bank), GET /v1/payouts/{id} and
GET /v1/payouts (newest first), both as seen by the connected account.

Any `acct_…` id is a connected account. A payout is `pending`, then `in_transit`, then `paid`
on the sandbox's timed delays (settings.payout_*_after_s), computed when it is read. Accounts
name their outcome: `acct_sandboxFails…` fail when they would be paid (`account_closed`);
`acct_sandboxReturns…` are paid, then fail (the bank returned it, Stripe's paid-then-failed);
a transfer to `acct_sandboxNoFunds…` is refused with `balance_insufficient` (the platform's
balance is too low); `acct_sandboxSlow…`, `…ServerErrorOnce…`, `…TimeoutOnce…` and
`…LostResponseOnce…` get the runner's faults (psp_sandbox.mutations.destination_fault).
Transfers and payouts go through the runner: idempotency keys and the per-run faults apply.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import balance, form
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import invalid_parameter, invalid_request, missing_parameter
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import Attempt, Change, encode, json_response
from psp_sandbox.payment_intents import metadata_param

ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")


def _amount(params: form.Params) -> int:
    text = form.as_string(params, "amount")
    if text is None:
        raise missing_parameter("amount")
    if not text.isdigit() or int(text) < 1:
        raise invalid_parameter(
            "amount", f"Invalid positive integer: {text}", code="parameter_invalid_integer"
        )
    return int(text)


def _currency(params: form.Params) -> str:
    currency = form.as_string(params, "currency")
    if currency is None:
        raise missing_parameter("currency")
    return currency.lower()


def _account(request: Request) -> str:
    account = request.headers.get("stripe-account", "")
    if not ACCOUNT.match(account):
        raise invalid_request(
            "Payouts are made on a connected account: send its id in the Stripe-Account header.",
            code="account_invalid",
        )
    return account


class PayoutRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def create_transfer(self, request: Request) -> Response:
        return await self._context.runner.run(request, "POST /v1/transfers", self._transfer)

    def _transfer(self, attempt: Attempt) -> Change:
        params = attempt.params
        destination = form.as_string(params, "destination") or ""
        if not ACCOUNT.match(destination):
            raise invalid_parameter("destination", f"No such destination: '{destination}'")
        if destination.lower().startswith("acct_sandboxnofunds"):
            raise invalid_request(
                "You have insufficient available funds in your Stripe account.",
                code="balance_insufficient",
            )
        transfer = {
            "id": new_id("tr_"),
            "object": "transfer",
            "amount": _amount(params),
            "currency": _currency(params),
            "destination": destination,
            "created": int(attempt.now),
            "metadata": metadata_param(params),
        }
        # The platform's balance pays for it at once (balance_transaction of type transfer).
        transaction = balance.for_transfer(transfer, int(attempt.now))
        transfer["balance_transaction"] = transaction["id"]
        change = Change(200, transfer, [transfer, transaction])
        self._context.event_factory().emit(
            change.emitted, "transfer.created", transfer, attempt.now, attempt.request
        )
        return change

    async def create_payout(self, request: Request) -> Response:
        account = _account(request)

        def create(attempt: Attempt) -> Change:
            params = attempt.params
            payout = {
                "id": new_id("po_"),
                "object": "payout",
                "amount": _amount(params),
                "currency": _currency(params),
                "created": int(attempt.now),
                "created_at_s": attempt.now,  # sandbox-only: the clock its statuses follow
                "account": account,  # sandbox-only: the connected account it was made on
                "destination": "ba_sandbox",
                "metadata": metadata_param(params),
                "status": "pending",
                "failure_code": None,
                "failure_message": None,
            }
            change = Change(200, payout, [payout])
            self._context.event_factory().emit(
                change.emitted, "payout.created", payout, attempt.now, attempt.request
            )
            return change

        return await self._context.runner.run(request, "POST /v1/payouts", create)

    def _as_of(self, payout: dict[str, Any]) -> dict[str, Any]:
        """The payout with the status its age gives it."""
        settings = self._context.settings
        age = self._context.clock() - payout["created_at_s"]
        account = payout["account"].lower()
        shown = dict(payout)
        if age >= settings.payout_paid_after_s + settings.payout_return_after_s and (
            account.startswith("acct_sandboxreturns")
        ):
            shown.update(
                status="failed",
                failure_code="account_closed",
                failure_message="The bank account has been closed (returned after paid).",
            )
        elif age >= settings.payout_paid_after_s:
            if account.startswith("acct_sandboxfails"):
                shown.update(
                    status="failed",
                    failure_code="account_closed",
                    failure_message="The bank account has been closed.",
                )
            else:
                shown["status"] = "paid"
        elif age >= settings.payout_in_transit_after_s:
            shown["status"] = "in_transit"
        return shown

    async def retrieve(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        account = _account(request)
        payout = self._context.store.get(request.path_params["id"], "payout")
        if payout is None or payout["account"] != account:
            raise invalid_request(
                f"No such payout: '{request.path_params['id']}'",
                param="id",
                code="resource_missing",
                status=404,
            )
        return json_response(200, encode(self._as_of(payout)), new_id("req_"))

    async def list(self, request: Request) -> Response:
        """The connected account's payouts, newest first (`limit`, default 10, at most 100)."""
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        account = _account(request)
        limit_text = request.query_params.get("limit", "10")
        limit = int(limit_text) if limit_text.isdigit() else 10
        mine = [p for p in self._context.store.all("payout") if p["account"] == account]
        mine.sort(key=lambda p: p["created_at_s"], reverse=True)
        body = {
            "object": "list",
            "data": [self._as_of(p) for p in mine[: min(limit, 100)]],
            "has_more": len(mine) > limit,
            "url": "/v1/payouts",
        }
        return json_response(200, encode(body), new_id("req_"))
