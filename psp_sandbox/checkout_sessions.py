"""Hosted checkout: POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id}.

A session in `mode=payment` prices its `line_items` (`price_data` with `currency`,
`unit_amount`, `product_data[name]`; `quantity`) and gets a `url`: the sandbox's own payment
page (hosted_page.py), where the buyer types a card. Nothing is charged before that.

`metadata` is the session's; the PaymentIntent made on the page gets
`payment_intent_data[metadata]` merged over it (Stripe copies only the latter; the sandbox also
copies the session's, so that an order id put on the session finds its payment by search).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import form, listing
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import (
    invalid_parameter,
    invalid_request,
    missing_parameter,
    unknown_parameter,
)
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import Attempt, Change, encode, json_response
from psp_sandbox.payment_intents import MAX_AMOUNT, metadata_param

CREATE_PARAMETERS = frozenset(
    {
        "mode",
        "line_items",
        "success_url",
        "cancel_url",
        "return_url",
        "client_reference_id",
        "customer_email",
        "metadata",
        "payment_intent_data",
        "payment_method_types",
        "expires_at",
    }
)
LIFETIME_S = 24 * 3600  # Stripe's default expiry
MIN_LIFETIME_S = 30 * 60
_CURRENCY_LENGTH = 3


class CheckoutSessionRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def create(self, request: Request) -> Response:
        return await self._context.runner.run(request, "POST /v1/checkout/sessions", self._create)

    def _create(self, attempt: Attempt) -> Change:
        params = form.decode_deep(attempt.pairs)
        for name in params:
            if name not in CREATE_PARAMETERS:
                raise unknown_parameter(name)
        mode = _string(params, "mode")
        if mode is None:
            raise missing_parameter("mode")
        if mode != "payment":
            raise invalid_parameter("mode", "The sandbox supports only mode=payment.")
        currency, amount = _priced(params.get("line_items"))
        success_url = _string(params, "success_url")
        return_url = _string(params, "return_url")
        if success_url is None and return_url is None:
            raise missing_parameter("success_url")
        for name in ("success_url", "cancel_url", "return_url"):
            url = _string(params, name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise invalid_parameter(name, f"Not a valid URL: {url}", code="url_invalid")
        now = int(attempt.now)
        expires_at = _expires_at(_string(params, "expires_at"), now)
        session_id = new_id("cs_test_")
        intent_data = params.get("payment_intent_data") or {}
        if not isinstance(intent_data, dict):
            raise invalid_request("Invalid hash", param="payment_intent_data")
        session: dict[str, Any] = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": _string(params, "cancel_url"),
            "client_reference_id": _string(params, "client_reference_id"),
            "created": now,
            "currency": currency,
            "customer_email": _string(params, "customer_email"),
            "expires_at": expires_at,
            "livemode": False,
            "metadata": _metadata(params),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "return_url": return_url,
            "status": "open",
            "success_url": success_url,
            "url": f"{self._page_base(attempt)}/pay/{session_id}",
            # Not Stripe's: what the PaymentIntent made on the page will carry.
            "payment_intent_metadata": _metadata(intent_data),
        }
        return Change(200, public(session), [session])

    def _page_base(self, attempt: Attempt) -> str:
        # PSP_SANDBOX_PUBLIC_URL when set; otherwise the address the API client reached us on,
        # which on one machine is one the buyer's browser reaches too.
        return self._context.settings.public_url.rstrip("/") or attempt.origin

    async def retrieve(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        session_id = request.path_params["id"]
        session = self._context.store.get(session_id, "checkout.session")
        if session is None:
            return listing.retrieve_response(self._context.store, "checkout.session", session_id)
        shown = public(expired_if_due(session, self._context.clock()))
        return json_response(200, encode(shown), new_id("req_"))


def public(session: dict[str, Any]) -> dict[str, Any]:
    """The session as the API shows it (without the sandbox's own bookkeeping)."""
    return {key: value for key, value in session.items() if key != "payment_intent_metadata"}


def expired_if_due(session: dict[str, Any], now: float) -> dict[str, Any]:
    if session["status"] == "open" and now >= session["expires_at"]:
        return {**session, "status": "expired", "url": None}
    return session


def _string(params: form.Nested, name: str) -> str | None:
    value = params.get(name)
    if isinstance(value, dict):
        raise invalid_request(f"Invalid string: {name}", param=name)
    return value


def _metadata(params: form.Nested) -> dict[str, str]:
    metadata = params.get("metadata", {})
    if not isinstance(metadata, dict) or any(isinstance(v, dict) for v in metadata.values()):
        raise invalid_request("Invalid hash: metadata", param="metadata")
    return metadata_param({"metadata": {k: str(v) for k, v in metadata.items()}})


def _priced(line_items: str | form.Nested | None) -> tuple[str, int]:
    """The currency and total of the line items, in minor units."""
    if line_items is None:
        raise missing_parameter("line_items")
    if (
        not isinstance(line_items, dict)
        or not line_items
        or not all(k.isdigit() for k in line_items)
    ):
        raise invalid_request("Invalid array", param="line_items")
    currencies: set[str] = set()
    total = 0
    for index in sorted(line_items, key=int):
        item = line_items[index]
        where = f"line_items[{index}]"
        if not isinstance(item, dict):
            raise invalid_request("Invalid hash", param=where)
        for name in item:
            if name not in ("price_data", "quantity"):
                raise unknown_parameter(f"{where}[{name}]")
        price = item.get("price_data")
        if not isinstance(price, dict):
            raise missing_parameter(f"{where}[price_data]")
        currency = price.get("currency")
        unit_amount = price.get("unit_amount")
        product = price.get("product_data")
        if not isinstance(currency, str) or len(currency) != _CURRENCY_LENGTH:
            raise invalid_parameter(f"{where}[price_data][currency]", "Invalid currency.")
        if not isinstance(unit_amount, str) or not unit_amount.isdigit():
            raise invalid_parameter(
                f"{where}[price_data][unit_amount]",
                "Invalid integer.",
                code="parameter_invalid_integer",
            )
        if not isinstance(product, dict) or not product.get("name"):
            raise missing_parameter(f"{where}[price_data][product_data][name]")
        quantity = item.get("quantity", "1")
        if not isinstance(quantity, str) or not quantity.isdigit() or int(quantity) < 1:
            raise invalid_parameter(
                f"{where}[quantity]", "Invalid integer.", code="parameter_invalid_integer"
            )
        currencies.add(currency.lower())
        total += int(unit_amount) * int(quantity)
    if len(currencies) > 1:
        raise invalid_request("All line items must have the same currency.", param="line_items")
    if not 1 <= total <= MAX_AMOUNT:
        raise invalid_request(
            f"The total must be between 1 and {MAX_AMOUNT} minor units.", param="line_items"
        )
    return currencies.pop(), total


def _expires_at(text: str | None, now: int) -> int:
    if text is None:
        return now + LIFETIME_S
    if not text.isdigit() or not now + MIN_LIFETIME_S <= int(text) <= now + LIFETIME_S:
        raise invalid_parameter(
            "expires_at",
            "expires_at must be between 30 minutes and 24 hours from now.",
            code="parameter_invalid_integer",
        )
    return int(text)
