"""Stripe webhooks: the signature checked by the stripe SDK's own verifier (HMAC-SHA256 of
`<t>.<body>` with the endpoint's secret, a 5-minute tolerance against replays), then the event
turned into a domain PspEvent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import stripe

from payment_svc.adapters.stripe_psp import outcome_of_intent
from payment_svc.domain.psp_event import PspEvent

TOLERANCE_S = 300

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
    except (UnicodeDecodeError, ValueError):
        raise InvalidWebhook("the body is not a JSON event") from None
    return _event(event, payload)


def _event(event: Any, payload: bytes) -> PspEvent:
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidWebhook("the body is not a Stripe event")
    kind = str(event.get("type") or "")
    obj = (event.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict):
        obj = {}
    is_intent = obj.get("object") == "payment_intent"
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return PspEvent(
        event_id=event["id"],
        type=kind,
        created_at=datetime.fromtimestamp(int(event.get("created") or 0), UTC),
        payment_order_id=str(metadata.get("payment_order_id") or "") if is_intent else "",
        psp_reference=str(obj.get("id") or "") if is_intent else "",
        outcome=outcome_of_intent(obj) if is_intent and kind in CHARGE_EVENTS else None,
        payload=payload,
    )
