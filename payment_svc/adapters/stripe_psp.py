"""The PaymentProvider port over the Stripe API, with the official stripe SDK (async).

It drives real Stripe and the sandbox PSP alike. This is the only place where an amount becomes
integer minor units. The SDK's own retries are off: the executor retries, with the same
idempotency key (the payment order id), so a retry can never charge twice.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

import stripe

from mesh import tracing
from mesh.metrics import PSP_DECLINES, PSP_LATENCY, PSP_REQUESTS, BoundedLabel, Children
from mesh.money import InvalidMoney
from payment_svc.adapters.stripe_currencies import (
    StripeAmountRefused,
    charge_minor_units,
    refusal,
    stripe_exponent,
)
from payment_svc.domain.psp import (
    ChargeOutcome,
    ChargeRequest,
    ChargeStatus,
    HostedPage,
    HostedPageRequest,
    PspRejected,
    PspUnavailable,
)
from payment_svc.domain.psp_refunds import RefundOutcome, RefundOutcomeStatus, RefundRequest

_PENDING_STATUSES = frozenset(
    {"requires_action", "processing", "requires_confirmation", "requires_capture"}
)
_LIST_PAGE_SIZE = 100
_T = TypeVar("_T")

_psp_requests = Children(PSP_REQUESTS)
_psp_latency = Children(PSP_LATENCY)
_declines = Children(PSP_DECLINES)
# Stripe's decline codes are a few dozen; anything past that is counted as `other`.
_decline_code = BoundedLabel(limit=60)


def _counted(outcome: ChargeOutcome) -> ChargeOutcome:
    """`outcome` of a charge, its decline code counted when it is a decline."""
    if outcome.status is ChargeStatus.DECLINED:
        _declines(_decline_code(outcome.decline_reason or "unknown")).inc()
    return outcome


class StripePaymentProvider:
    """Charges with PaymentIntents created and confirmed in one call."""

    def __init__(self, api_key: str, api_base: str, timeout_s: float = 10.0) -> None:
        self._timeout_s = timeout_s
        self._http = stripe.HTTPXClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=0,
            http_client=self._http,
        )

    def amount_refusal(self, amount: Decimal, currency: str) -> str | None:
        """Why Stripe would refuse to charge `amount` `currency`; None when it would take it."""
        return refusal(amount, currency)

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        """Create and confirm a PaymentIntent keyed by the payment order id.

        A retry with the same request replays the first answer; a retry with different
        parameters under the same payment order id is refused (PspRejected).
        """
        amount = _minor_units(request.amount, request.currency, "charge")
        try:
            intent = await self._call(
                "charge",
                self._client.v1.payment_intents.create_async(
                    {
                        "amount": amount,
                        "currency": request.currency.lower(),
                        "payment_method": request.payment_method,
                        # Server-side confirmation: refuse redirect-based methods, which would
                        # need a return_url.
                        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
                        "confirm": True,
                        "metadata": {
                            "payment_order_id": request.payment_order_id,
                            "checkout_id": request.checkout_id,
                            "buyer_id": request.buyer_id,
                        },
                    },
                    {"idempotency_key": request.payment_order_id},
                ),
            )
        except stripe.CardError as exc:
            return _counted(_declined(exc))
        return _counted(outcome_of_intent(intent.to_dict()))

    async def open_hosted_page(self, request: HostedPageRequest) -> HostedPage:
        """A Checkout Session for the order: the buyer types a card on the PSP's page, which
        then sends the browser to `redirect_url` (success and cancel alike; the order's state,
        not the URL, is the truth). Keyed by the payment order id, so a retry gets the same
        session; the order id rides in the PaymentIntent's metadata for webhooks and search."""
        amount = _minor_units(request.amount, request.currency, "charge")
        metadata = {
            "payment_order_id": request.payment_order_id,
            "checkout_id": request.checkout_id,
        }
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": amount,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "success_url": request.redirect_url,
            "cancel_url": request.redirect_url,
            "client_reference_id": request.payment_order_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
        if request.buyer_email:
            params["customer_email"] = request.buyer_email
        session = await self._call(
            "hosted_page",
            self._client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": f"hosted-{request.payment_order_id}"},
            ),
        )
        return HostedPage(token=session.id, url=session.url or "")

    async def retrieve(self, psp_reference: str) -> ChargeOutcome:
        """The PaymentIntent's current status, e.g. to settle an order whose answer was lost."""
        if not psp_reference:
            raise PspRejected("no PSP reference to look up")
        intent = await self._call(
            "retrieve", self._client.v1.payment_intents.retrieve_async(psp_reference)
        )
        return outcome_of_intent(intent.to_dict())

    async def find_charge(self, payment_order_id: str) -> ChargeOutcome | None:
        """The PaymentIntent made for `payment_order_id`, found by its metadata with the search
        API. A succeeded intent wins over others (there should be only one). Stripe's search
        index can lag a freshly made intent by a little while; a miss then leads to a charge
        with the same idempotency key, which Stripe answers with the first attempt's result."""
        escaped = payment_order_id.replace("\\", "\\\\").replace("'", "\\'")
        result = await self._call(
            "search",
            self._client.v1.payment_intents.search_async(
                {"query": f"metadata['payment_order_id']:'{escaped}'", "limit": _LIST_PAGE_SIZE}
            ),
        )
        intents = [i for i in result.to_dict().get("data", []) if _is_for(i, payment_order_id)]
        if not intents:
            return None
        intents.sort(key=lambda i: (i.get("status") == "succeeded", i.get("created") or 0))
        return outcome_of_intent(intents[-1])

    async def charges_by_order(self) -> dict[str, int]:
        """Succeeded PaymentIntents per `metadata.payment_order_id`, over every intent."""
        counts: dict[str, int] = {}
        for intent in await self._every(self._client.v1.payment_intents.list_async, {}):
            order_id = (intent.get("metadata") or {}).get("payment_order_id")
            if order_id and intent.get("status") == "succeeded":
                counts[order_id] = counts.get(order_id, 0) + 1
        return counts

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        """Refund part or all of the order's PaymentIntent, keyed by the refund id (the same on
        every attempt, so a retry replays the first answer instead of refunding again)."""
        if not request.charge_reference:
            raise PspRejected(f"refund {request.refund_id}: the order has no PSP reference")
        amount = _minor_units(request.amount, request.currency, "refund")
        refund = await self._call(
            "refund",
            self._client.v1.refunds.create_async(
                {
                    "payment_intent": request.charge_reference,
                    "amount": amount,
                    "metadata": {
                        "refund_id": request.refund_id,
                        "payment_order_id": request.payment_order_id,
                    },
                },
                {"idempotency_key": request.refund_id},
            ),
        )
        return outcome_of_refund(refund.to_dict())

    async def find_refund(self, charge_reference: str, refund_id: str) -> RefundOutcome | None:
        """The refund made for `refund_id`, among the refunds of the PaymentIntent (few: a
        listing, not a search, so a fresh refund is never missed)."""
        if not charge_reference:
            return None
        for refund in await self._refunds_of(charge_reference):
            if (refund.get("metadata") or {}).get("refund_id") == refund_id:
                return outcome_of_refund(refund)
        return None

    async def _refunds_of(self, payment_intent: str | None) -> list[dict[str, Any]]:
        """Every refund of a PaymentIntent, or of the whole account when None."""
        filters = {"payment_intent": payment_intent} if payment_intent else {}
        return await self._every(self._client.v1.refunds.list_async, filters)

    async def _every(
        self, list_page: Callable[[Any], Awaitable[Any]], filters: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Every object of a Stripe list endpoint, page after page."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {**filters, "limit": _LIST_PAGE_SIZE}
        while True:
            page = (await self._call("list", list_page(params))).to_dict()
            found.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return found
            params = {**params, "starting_after": page["data"][-1]["id"]}

    async def refunds_by_id(self) -> dict[str, list[tuple[str, int, str]]]:
        """Every refund the PSP holds, by `metadata.refund_id`: (status, amount in minor units,
        currency upper case) of each (more than one succeeded is a refund made twice). Refunds
        made outside paymesh (no refund id) are under their own PSP id."""
        found: dict[str, list[tuple[str, int, str]]] = {}
        for r in await self._refunds_of(None):
            refund_id = (r.get("metadata") or {}).get("refund_id") or r["id"]
            found.setdefault(refund_id, []).append(
                (
                    r.get("status") or "",
                    int(r.get("amount") or 0),
                    str(r.get("currency") or "").upper(),
                )
            )
        return found

    async def aclose(self) -> None:
        await self._http.close_async()

    async def __aenter__(self) -> StripePaymentProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _call(self, kind: str, call: Awaitable[_T]) -> _T:
        """Await one SDK call within the timeout, translating failures into the port's errors,
        and count it by `kind` and outcome with its latency (mesh.metrics), inside a client
        span when tracing is on (mesh.tracing).

        CardError passes through: a decline is an answer, not a failure.
        """
        with tracing.psp_call(kind) as record_outcome:
            return await self._counted_call(kind, call, record_outcome)

    async def _counted_call(
        self, kind: str, call: Awaitable[_T], record_outcome: Callable[[str], None]
    ) -> _T:
        outcome = "ok"
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call
        except TimeoutError as exc:
            outcome = "timeout"
            raise PspUnavailable(f"no answer from the PSP within {self._timeout_s} s") from exc
        except stripe.CardError:
            outcome = "declined"
            raise
        except stripe.StripeError as exc:
            error = psp_error(exc)
            outcome = "rejected" if isinstance(error, PspRejected) else "unavailable"
            raise error from exc
        except BaseException:
            outcome = "error"
            raise
        finally:
            _psp_latency(kind).observe(time.perf_counter() - started)
            _psp_requests(kind, outcome).inc()
            record_outcome(outcome)


async def list_charges_by_order(api_key: str, api_base: str) -> dict[str, int]:
    """How many PaymentIntents reached `succeeded`, per `metadata.payment_order_id`.

    Orders without a succeeded intent are absent (count 0); any count above 1 is a double charge.
    Intents created while the listing runs may be missed: run it after the traffic.
    """
    async with StripePaymentProvider(api_key, api_base) as provider:
        return await provider.charges_by_order()


async def list_refunds_by_id(api_key: str, api_base: str) -> dict[str, list[tuple[str, int, str]]]:
    """Every refund at the PSP by paymesh refund id: [(status, minor units, currency)]."""
    async with StripePaymentProvider(api_key, api_base) as provider:
        return await provider.refunds_by_id()


def outcome_of_refund(refund: dict[str, Any]) -> RefundOutcome:
    """What a Stripe Refund in this state means for our refund."""
    status = refund.get("status")
    reference = refund.get("id") or ""
    if status == "succeeded":
        return RefundOutcome(RefundOutcomeStatus.SUCCEEDED, reference)
    if status in ("failed", "canceled"):
        reason = refund.get("failure_reason") or status
        return RefundOutcome(RefundOutcomeStatus.FAILED, reference, reason)
    # pending, requires_action, or a status this adapter does not know: ask again later.
    return RefundOutcome(RefundOutcomeStatus.PENDING, reference)


def _minor_units(amount: Decimal, currency: str, verb: str) -> int:
    """Stripe's integer minor units (its own table, not ISO's: stripe_currencies); an amount
    Stripe would refuse is refused here, before the call."""
    try:
        return charge_minor_units(amount, currency)
    except (InvalidMoney, StripeAmountRefused) as exc:
        raise PspRejected(f"cannot {verb} {amount} {currency}: {exc}") from exc


def amount_of_minor_units(minor: int, currency: str) -> Decimal:
    """The inverse of `_minor_units`, for amounts Stripe sends (webhooks), with Stripe's own
    table (50000 ISK minor units are 500 krónur). InvalidMoney or StripeAmountRefused for a
    currency it does not know or take."""
    return Decimal(minor).scaleb(-stripe_exponent(currency.upper()))


def _is_for(intent: dict[str, Any], payment_order_id: str) -> bool:
    return (intent.get("metadata") or {}).get("payment_order_id") == payment_order_id


def outcome_of_intent(intent: dict[str, Any]) -> ChargeOutcome:
    """What a PaymentIntent in this state means for its order."""
    status = intent.get("status")
    reference = intent.get("id") or ""
    if status == "succeeded":
        return ChargeOutcome(ChargeStatus.SUCCEEDED, reference)
    if status == "requires_payment_method":
        # Confirmed at creation, so this means the last attempt failed.
        error = intent.get("last_payment_error") or {}
        reason = error.get("decline_code") or error.get("code") or "requires_payment_method"
        return ChargeOutcome(ChargeStatus.DECLINED, reference, reason)
    if status == "canceled":
        reason = intent.get("cancellation_reason") or "canceled"
        return ChargeOutcome(ChargeStatus.DECLINED, reference, reason)
    if status in _PENDING_STATUSES:
        return ChargeOutcome(ChargeStatus.PENDING, reference)
    # A status this adapter does not know: never call it failed, let the sweeper ask again.
    return ChargeOutcome(ChargeStatus.PENDING, reference)


def _declined(exc: stripe.CardError) -> ChargeOutcome:
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error") or {}
    reason = error.get("decline_code") or exc.code or "card_declined"
    intent = error.get("payment_intent") or {}
    return ChargeOutcome(ChargeStatus.DECLINED, intent.get("id") or "", reason)


def psp_error(exc: stripe.StripeError) -> Exception:
    """The port's error for a failed Stripe call: PspRejected when the request can never
    succeed as sent (retrying is pointless), PspUnavailable when the outcome is unknown or the
    PSP is busy (retry with the same idempotency key)."""
    summary = f"{type(exc).__name__} (HTTP {exc.http_status}): {exc.user_message}"
    if exc.code == "idempotency_key_in_use":
        # Our own earlier attempt is still running at the PSP: ask again later.
        return PspUnavailable(summary)
    if isinstance(exc, stripe.IdempotencyError):
        # The same payment order id was sent with other parameters: a bug, not a blip.
        return PspRejected(summary)
    if isinstance(exc, stripe.InvalidRequestError | stripe.AuthenticationError):
        return PspRejected(summary)
    if isinstance(exc, stripe.PermissionError):
        return PspRejected(summary)
    # Connection errors, timeouts, 429, 409 (key in use), 5xx and anything unforeseen: the charge
    # may or may not have happened, and retrying with the same key is always safe. Stripe's 429
    # and 503 may say when to come back (Retry-After): the consumer waits that long.
    return PspUnavailable(summary, retry_after_s=retry_after_header(exc.headers))


MAX_RETRY_AFTER_S = 3600.0


def retry_after_header(headers: Any) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), capped at an hour;
    None when there is none or it cannot be read."""
    if not headers:
        return None
    value = next(
        (str(v) for k, v in dict(headers).items() if str(k).lower() == "retry-after"), None
    )
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))
