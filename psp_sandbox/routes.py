"""The PaymentIntents endpoints."""

from __future__ import annotations

import base64
import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import charging, form, listing, payment_intents, search
from psp_sandbox.auth import authenticate
from psp_sandbox.card_outcomes import CardOutcome, Result
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import (
    invalid_parameter,
    invalid_request,
    missing_parameter,
    no_such_payment_intent,
    unknown_parameter,
)
from psp_sandbox.events import Emitted
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import Attempt, Change, encode, json_response

LIST_URL = "/v1/payment_intents"
SEARCH_URL = "/v1/payment_intents/search"


class PaymentIntentRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context
        self._store = context.store
        self._api_key_prefix = context.settings.api_key_prefix

    async def create(self, request: Request) -> Response:
        """POST /v1/payment_intents: create, and with `confirm=true` charge at once."""
        return await self._context.runner.run(request, "POST /v1/payment_intents", self._create)

    def _create(self, attempt: Attempt) -> Change:
        draft = payment_intents.create(attempt.params, now=int(attempt.now))
        factory = self._context.event_factory()
        change = Change(200, draft.intent, [draft.intent])
        factory.emit(
            change.emitted, "payment_intent.created", draft.intent, attempt.now, attempt.request
        )
        if draft.confirm_with is None:
            return change
        confirmed = charging.confirm(
            draft.intent,
            draft.intent["payment_method"],
            draft.confirm_with,
            attempt.faults,
            attempt.now,
            factory,
            attempt.request,
        )
        return _answer(confirmed, change.emitted)

    async def confirm(self, request: Request) -> Response:
        """POST /v1/payment_intents/{intent}/confirm: charge it, or finish its pending action."""
        intent_id = request.path_params["intent"]
        return await self._context.runner.run(
            request,
            "POST /v1/payment_intents/confirm",
            lambda attempt: self._confirm(intent_id, attempt),
        )

    def _confirm(self, intent_id: str, attempt: Attempt) -> Change:
        for name in attempt.params:
            if name not in ("payment_method", "return_url"):
                raise unknown_parameter(name)
        stored = self._store.intent(intent_id)
        if stored is None:
            raise no_such_payment_intent(intent_id)
        intent = copy.deepcopy(stored)
        factory = self._context.event_factory()
        status = intent["status"]
        if status == "requires_action":
            # The buyer "completed" 3-D Secure: the charge goes through.
            done = charging.Confirmed()
            outcome = payment_intents.known_payment_method(intent["payment_method"])
            card = CardOutcome(Result.SUCCEEDED, outcome.brand, outcome.last4)
            charging.succeed(intent, card, attempt.now, factory, done, attempt.request)
            done.emitted.records.append((charging.SCHEDULE, intent_id, None))
            return _answer(done, Emitted())
        if status not in ("requires_confirmation", "requires_payment_method"):
            raise invalid_request(
                f"You cannot confirm this PaymentIntent because it has a status of {status}.",
                code="payment_intent_unexpected_state",
            )
        payment_method = (
            form.as_string(attempt.params, "payment_method") or intent["payment_method"]
        )
        if payment_method is None:
            raise missing_parameter("payment_method")
        outcome = payment_intents.known_payment_method(payment_method)
        confirmed = charging.confirm(
            intent, payment_method, outcome, attempt.faults, attempt.now, factory, attempt.request
        )
        return _answer(confirmed, Emitted())

    async def retrieve(self, request: Request) -> Response:
        """GET /v1/payment_intents/{intent}."""
        authenticate(request.headers.get("authorization"), self._api_key_prefix)
        params = form.decode(request.query_params.multi_items())
        for name in params:
            if name not in ("client_secret", "expand"):
                raise unknown_parameter(name)
        intent_id = request.path_params["intent"]
        intent = self._store.intent(intent_id)
        if intent is None:
            raise no_such_payment_intent(intent_id)
        for index, field in enumerate(form.as_list(params, "expand") or []):
            if field != "latest_charge":
                raise invalid_parameter(
                    f"expand[{index}]", f"This property cannot be expanded ({field})."
                )
            # The charge shows what was refunded (amount_refunded, refunded).
            charge = self._store.get(intent["latest_charge"] or "", "charge")
            intent = {**intent, "latest_charge": charge}
        return json_response(200, encode(intent), new_id("req_"))

    async def list(self, request: Request) -> Response:
        """GET /v1/payment_intents: newest first, paged with `limit` and cursors."""
        params = listing.query_params(request, self._api_key_prefix, ())
        return listing.list_response(self._store, "payment_intent", LIST_URL, params)

    async def search(self, request: Request) -> Response:
        """GET /v1/payment_intents/search?query=...: Stripe's search result, newest first."""
        authenticate(request.headers.get("authorization"), self._api_key_prefix)
        params = form.decode(request.query_params.multi_items())
        for name in params:
            if name not in ("query", "limit", "page", "expand"):
                raise unknown_parameter(name)
        text = form.as_string(params, "query")
        if text is None:
            raise missing_parameter("query")
        query = search.parse(text)
        limit = listing.limit_param(form.as_string(params, "limit"))
        page_token = form.as_string(params, "page")
        after = None
        if page_token:
            after = _page_cursor(page_token)
            if after is None or self._store.intent(after) is None:
                raise invalid_parameter("page", f"Invalid page: {page_token}")
        expand = form.as_list(params, "expand") or []
        for index, field in enumerate(expand):
            if field != "total_count":
                raise invalid_parameter(
                    f"expand[{index}]", f"This property cannot be expanded ({field})."
                )
        page = self._store.search(query, limit, after)
        body: dict[str, Any] = {
            "object": "search_result",
            "data": page.data,
            "has_more": page.has_more,
            "next_page": _page_token(page.data[-1]["id"]) if page.has_more else None,
            "url": SEARCH_URL,
        }
        if expand:
            body["total_count"] = self._store.count(query)
        return json_response(200, encode(body), new_id("req_"))


def _page_token(last_id: str) -> str:
    # Opaque to clients, as Stripe's is; the sandbox's is the last id returned, encoded.
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _page_cursor(token: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _answer(confirmed: charging.Confirmed, emitted: Emitted) -> Change:
    emitted.events += confirmed.emitted.events
    emitted.records += confirmed.emitted.records
    intent = next(obj for obj in confirmed.objects if obj["object"] == "payment_intent")
    if confirmed.decline is not None:
        return Change(
            confirmed.decline.status, confirmed.decline.body(), confirmed.objects, emitted
        )
    return Change(200, intent, confirmed.objects, emitted)
