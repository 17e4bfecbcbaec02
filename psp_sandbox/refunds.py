"""Refunds: POST /v1/refunds, GET /v1/refunds/{id}, GET /v1/refunds.

A refund takes back all or part of a succeeded PaymentIntent's charge, never more than what is
left of it. It succeeds at once, updates the charge (`amount_refunded`, `refunded`), adds a
negative balance transaction, and emits `refund.created` and `charge.refunded`. It runs through
the same pipeline as charges: idempotency keys, and the server-error, timeout, slow and
lost-response faults.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import balance, currencies, form, listing
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import (
    invalid_parameter,
    invalid_request,
    missing_parameter,
    unknown_parameter,
)
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import Attempt, Change
from psp_sandbox.payment_intents import metadata_param

CREATE_PARAMETERS = frozenset({"payment_intent", "charge", "amount", "reason", "metadata"})
REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


class RefundRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def create(self, request: Request) -> Response:
        return await self._context.runner.run(request, "POST /v1/refunds", self._create)

    def _create(self, attempt: Attempt) -> Change:
        params = attempt.params
        for name in params:
            if name not in CREATE_PARAMETERS:
                raise unknown_parameter(name)
        charge = self._charge(params)
        intent_id = charge["payment_intent"]
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise invalid_request(
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _amount(form.as_string(params, "amount"), remaining)
        refusal = currencies.amount_refusal(amount, charge["currency"])
        if refusal is not None:
            raise invalid_parameter("amount", refusal[1], code=refusal[0])
        reason = form.as_string(params, "reason")
        if reason is not None and reason not in REASONS:
            raise invalid_parameter(
                "reason", f"Invalid reason: must be one of {', '.join(sorted(REASONS))}"
            )
        now = attempt.now
        refund: dict[str, Any] = {
            "id": new_id("re_"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": int(now),
            "currency": charge["currency"],
            "metadata": metadata_param(params),
            "payment_intent": intent_id,
            "reason": reason,
            "status": "succeeded",
        }
        transaction = balance.for_refund(refund, int(now))
        refund["balance_transaction"] = transaction["id"]
        charge = copy.deepcopy(charge)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        change = Change(200, refund, [refund, charge, transaction])
        factory = self._context.event_factory()
        factory.emit(change.emitted, "refund.created", refund, now, attempt.request)
        factory.emit(change.emitted, "charge.refunded", charge, now, attempt.request)
        return change

    def _charge(self, params: form.Params) -> dict[str, Any]:
        store = self._context.store
        intent_id = form.as_string(params, "payment_intent")
        charge_id = form.as_string(params, "charge")
        if intent_id is None and charge_id is None:
            raise missing_parameter("payment_intent")
        if intent_id is not None:
            intent = store.intent(intent_id)
            if intent is None:
                raise invalid_request(
                    f"No such payment_intent: '{intent_id}'",
                    param="payment_intent",
                    code="resource_missing",
                )
            if intent["status"] != "succeeded":
                raise invalid_request(
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                    "refund.",
                    param="payment_intent",
                    code="charge_not_refundable",
                )
            charge_id = intent["latest_charge"]
        charge = store.get(charge_id or "", "charge")
        if charge is None:
            raise invalid_request(
                f"No such charge: '{charge_id}'", param="charge", code="resource_missing"
            )
        if not charge["paid"]:
            raise invalid_request(
                f"Charge {charge['id']} has no captured funds to refund.",
                param="charge",
                code="charge_not_refundable",
            )
        return charge

    async def retrieve(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        return listing.retrieve_response(self._context.store, "refund", request.path_params["id"])

    async def list(self, request: Request) -> Response:
        """Newest first; filters `payment_intent` and `charge`."""
        prefix = self._context.settings.api_key_prefix
        params = listing.query_params(request, prefix, ("payment_intent", "charge"))
        filters = {
            name: value
            for name in ("payment_intent", "charge")
            if (value := form.as_string(params, name)) is not None
        }
        where = None
        if filters:

            def where(refund: dict[str, Any]) -> bool:
                return all(refund[name] == value for name, value in filters.items())

        return listing.list_response(self._context.store, "refund", "/v1/refunds", params, where)


def _amount(text: str | None, remaining: int) -> int:
    if text is None:
        return remaining
    if not text.isdigit() or int(text) < 1:
        raise invalid_parameter(
            "amount", f"Invalid positive integer: {text}", code="parameter_invalid_integer"
        )
    amount = int(text)
    if amount > remaining:
        raise invalid_request(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            param="amount",
            code="amount_too_large",
        )
    return amount
