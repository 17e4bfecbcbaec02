"""Stripe webhooks: the signature checked by the stripe SDK's own verifier (HMAC-SHA256 of
`<t>.<body>` with the endpoint's secret, a 5-minute tolerance against replays), then the event
turned into a domain PspEvent. A genuine event whose shape is wrong (no intent id, no amount,
a malformed `data` object) becomes a PspEvent with a `refusal`: stored for audit, never applied.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import stripe

from mesh.money import InvalidMoney
from payment_svc.adapters.stripe_currencies import StripeAmountRefused
from payment_svc.adapters.stripe_psp import amount_of_minor_units, outcome_of_intent
from payment_svc.domain.psp_event import PspEvent

TOLERANCE_S = 300
MAX_ID_LENGTH = 255  # Stripe's ids are far shorter; a longer one is cut, not stored whole
MAX_TIME = 253_402_300_800  # 10000-01-01: later cannot be a datetime (nor a real event)
_CURRENCY = re.compile(r"^[a-zA-Z]{3}$")

# Events that say where a PaymentIntent stands. Their object is the intent as it was when the
# event was made; its status tells the outcome (outcome_of_intent), so a failed payment and a
# later success each read right whatever order they arrive in.
CHARGE_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.processing",
        "payment_intent.requires_action",
    }
)


class InvalidWebhook(Exception):
    """The delivery is not a genuine, fresh Stripe event: nothing of it may be stored."""


def verify_stripe_event(
    payload: bytes, signature: str, secret: str, tolerance_s: int = TOLERANCE_S
) -> PspEvent:
    """The event in `payload` if `signature` proves it came from the PSP within the tolerance;
    InvalidWebhook otherwise."""
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, tolerance_s
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as err:
        raise InvalidWebhook(f"bad signature: {err.user_message or err}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidWebhook("the body is not a JSON event") from None
    return _event(event, payload)


def _event(event: Any, payload: bytes) -> PspEvent:
    if not isinstance(event, dict):
        event = {}
    event_id, kind = event.get("id"), event.get("type")
    created = event.get("created")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    has_id = isinstance(event_id, str) and bool(event_id.strip())
    base: dict[str, Any] = {
        # An event without an id is still kept, under its body's digest.
        "event_id": _stored(event_id)
        if has_id
        else "unidentified:" + hashlib.sha256(payload).hexdigest(),
        "type": _stored(kind) if isinstance(kind, str) else "",
        "payload": payload,
        "payment_order_id": "",
        "psp_reference": "",
        "outcome": None,
    }
    if not has_id:
        return _refused(base, "the event has no id")
    if _has_nul(event_id, kind):
        return _refused(base, "the event holds a NUL character")
    # Signed by the PSP, yet not trusted blindly: an event whose shape is wrong is kept for
    # audit with why, and refused (a 4xx, never a 500).
    if not isinstance(kind, str) or not kind:
        return _refused(base, "the event has no type")
    if isinstance(created, bool) or not isinstance(created, int) or not 0 <= created < MAX_TIME:
        return _refused(base, "the event has no valid `created` time")
    base["created_at"] = datetime.fromtimestamp(created, UTC)
    if not isinstance(obj, dict):
        return _refused(base, "`data.object` is missing or not an object")
    if obj.get("object") != "payment_intent":
        if kind in CHARGE_EVENTS:
            return _refused(base, f"a {kind} event about a {obj.get('object')!r}")
        return PspEvent(**base)
    return _intent_event(base, kind, obj)


def _intent_event(base: dict[str, Any], kind: str, intent: dict[str, Any]) -> PspEvent:
    intent_id = intent.get("id")
    if not isinstance(intent_id, str) or not intent_id.strip():
        return _refused(base, "the payment intent has no id")
    base["psp_reference"] = _stored(intent_id)
    metadata = intent.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return _refused(base, "the payment intent's metadata is not an object")
    order_id = (metadata or {}).get("payment_order_id") or ""
    if not isinstance(order_id, str):
        return _refused(base, "metadata.payment_order_id is not a string")
    base["payment_order_id"] = _stored(order_id)
    if _has_nul(intent_id, order_id):
        return _refused(base, "the payment intent holds a NUL character")
    amount, currency = intent.get("amount"), intent.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        return _refused(base, "the payment intent has no valid amount")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        return _refused(base, "the payment intent has no valid currency")
    try:
        base["amount"] = amount_of_minor_units(amount, currency.upper())
    except (InvalidMoney, StripeAmountRefused) as err:
        return _refused(base, f"the payment intent's amount cannot be read: {err}")
    base["currency"] = currency.upper()
    if isinstance(intent.get("status"), str) and kind in CHARGE_EVENTS:
        base["outcome"] = outcome_of_intent(intent)
    elif kind in CHARGE_EVENTS:
        return _refused(base, "the payment intent has no status")
    return PspEvent(**base)


def _stored(text: str) -> str:
    """`text` as a TEXT column can hold it: no NUL (PostgreSQL refuses one), not too long."""
    return text.replace("\x00", "\ufffd")[:MAX_ID_LENGTH]


def _has_nul(*texts: object) -> bool:
    return any(isinstance(t, str) and "\x00" in t for t in texts)


def _refused(base: dict[str, Any], why: str) -> PspEvent:
    fields = {"created_at": datetime.fromtimestamp(0, UTC), **base}
    return PspEvent(**fields, refusal=why)
