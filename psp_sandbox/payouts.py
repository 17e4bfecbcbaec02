"""Stripe Connect payouts: POST /v1/transfers (platform → connected account), POST /v1/payouts
with a `Stripe-Account` header (connected account → its bank), GET /v1/payouts/{id} and
GET /v1/payouts (newest first), both as seen by the connected account.

Any `acct_…` id is a connected account. A payout is `pending`, then `in_transit`, then `paid`
on the sandbox's timed delays (settings.payout_*_after_s): a read shows the status its age
gives it, and the clockwork (`advance_payouts`, every background tick) stores each step and
emits its events on the connected account, as Stripe does: `payout.updated` for every change,
with `payout.paid` / `payout.failed` / `payout.canceled` for those (Connect events carry
`account`, and go to the Connect webhook endpoint). A pending payout may be canceled
(POST /v1/payouts/{id}/cancel). Accounts
name their outcome: `acct_sandboxFails…` fail when they would be paid (`account_closed`);
`acct_sandboxReturns…` are paid, then fail (the bank returned it, Stripe's paid-then-failed);
a transfer to `acct_sandboxNoFunds…` is refused with `balance_insufficient` (the platform's
balance is too low); `acct_sandboxSlow…`, `…ServerErrorOnce…`, `…TimeoutOnce…` and
`…LostResponseOnce…` get the runner's faults (psp_sandbox.mutations.destination_fault).
Transfers and payouts go through the runner: idempotency keys and the per-run faults apply.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import balance, form
from psp_sandbox.accounts import is_known, no_access, no_such_destination
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import invalid_parameter, invalid_request, missing_parameter
from psp_sandbox.events import Emitted, EventFactory
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import Attempt, Change, encode, json_response
from psp_sandbox.payment_intents import metadata_param
from psp_sandbox.settings import SandboxSettings
from psp_sandbox.store import SandboxStore

ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")
# Record kind: a payout whose status will still change, with how many of its steps were
# stored (and their events emitted) so far.
PAYOUT_CLOCK = "payout_clock"
# The event each status change makes besides `payout.updated` (in_transit has none of its own).
_STATUS_EVENT = {"paid": "payout.paid", "failed": "payout.failed", "canceled": "payout.canceled"}
_CLOSED = "The bank account has been closed."


def timeline(
    payout: dict[str, Any], settings: SandboxSettings
) -> list[tuple[float, dict[str, Any]]]:
    """The steps of a payout after its creation: (seconds after it, the fields it changes)."""
    account = payout["account"].lower()
    transit = (settings.payout_in_transit_after_s, {"status": "in_transit"})
    paid_at = settings.payout_paid_after_s
    failed = {"status": "failed", "failure_code": "account_closed", "failure_message": _CLOSED}
    if account.startswith("acct_sandboxfails"):
        return [transit, (paid_at, failed)]
    steps = [transit, (paid_at, {"status": "paid"})]
    if account.startswith("acct_sandboxreturns"):
        returned = {**failed, "failure_message": _CLOSED[:-1] + " (returned after paid)."}
        steps.append((paid_at + settings.payout_return_after_s, returned))
    return steps


def advance_payouts(
    store: SandboxStore,
    factory: Callable[[], EventFactory],
    settings: SandboxSettings,
    now: float,
) -> int:
    """Store the steps payouts have reached by `now`, each with its events; how many steps."""
    taken = 0
    for payout_id, clock in store.records(PAYOUT_CLOCK).items():
        payout = store.get(payout_id, "payout")
        steps = timeline(payout, settings) if payout is not None else []
        if payout is None or payout["status"] == "canceled":
            store.save(records=[(PAYOUT_CLOCK, payout_id, None)])
            continue
        due = [
            fields
            for after_s, fields in steps[clock["done"] :]
            if now - payout["created_at_s"] >= after_s
        ]
        if not due:
            continue
        emitted = Emitted()
        objects = []
        for fields in due:
            payout = {**payout, **fields}
            objects.append(payout)
            events = factory()
            events.emit(emitted, "payout.updated", payout, now, account=payout["account"])
            if fields["status"] in _STATUS_EVENT:
                events.emit(
                    emitted, _STATUS_EVENT[fields["status"]], payout, now, account=payout["account"]
                )
        done = clock["done"] + len(due)
        record = None if done >= len(steps) else {**clock, "done": done}
        store.save(
            [payout, *emitted.events], records=[(PAYOUT_CLOCK, payout_id, record), *emitted.records]
        )
        taken += len(due)
    return taken


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


def _account(request: Request, store: SandboxStore) -> str:
    """The connected account of the `Stripe-Account` header, which the sandbox must know."""
    account = request.headers.get("stripe-account", "")
    if not ACCOUNT.match(account):
        raise invalid_request(
            "Payouts are made on a connected account: send its id in the Stripe-Account header.",
            code="account_invalid",
        )
    if not is_known(store, account):
        raise no_access(account, authenticate(request.headers.get("authorization"), "sk_"))
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
        if not is_known(self._context.store, destination):
            raise no_such_destination(destination)
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
        account = _account(request, self._context.store)

        def create(attempt: Attempt) -> Change:
            params = attempt.params
            payout_id = new_id("po_")
            payout = {
                "id": payout_id,
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
                change.emitted,
                "payout.created",
                payout,
                attempt.now,
                attempt.request,
                account=account,
            )
            change.emitted.records.append((PAYOUT_CLOCK, payout_id, {"done": 0}))
            return change

        return await self._context.runner.run(request, "POST /v1/payouts", create)

    def _as_of(self, payout: dict[str, Any]) -> dict[str, Any]:
        """The payout with the status its age gives it (the clockwork stores it a tick later)."""
        if payout["status"] == "canceled":
            return payout
        age = self._context.clock() - payout["created_at_s"]
        shown = dict(payout)
        for after_s, fields in timeline(payout, self._context.settings):
            if age >= after_s:
                shown.update(fields)
        return shown

    async def cancel(self, request: Request) -> Response:
        """POST /v1/payouts/{id}/cancel (on the connected account): a pending payout only."""
        account = _account(request, self._context.store)
        payout_id = request.path_params["id"]

        def cancel(attempt: Attempt) -> Change:
            stored = self._context.store.get(payout_id, "payout")
            if stored is None or stored["account"] != account:
                raise invalid_request(
                    f"No such payout: '{payout_id}'",
                    param="id",
                    code="resource_missing",
                    status=404,
                )
            payout = self._as_of(stored)
            if payout["status"] != "pending":
                raise invalid_request(
                    f"Payouts can only be canceled while they are pending; this one is "
                    f"{payout['status']}."
                )
            payout = {**payout, "status": "canceled"}
            change = Change(200, payout, [payout])
            factory = self._context.event_factory()
            for event_type in ("payout.updated", "payout.canceled"):
                factory.emit(
                    change.emitted,
                    event_type,
                    payout,
                    attempt.now,
                    attempt.request,
                    account=account,
                )
            change.emitted.records.append((PAYOUT_CLOCK, payout_id, None))
            return change

        return await self._context.runner.run(request, "POST /v1/payouts/cancel", cancel)

    async def retrieve(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        account = _account(request, self._context.store)
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
        account = _account(request, self._context.store)
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
