"""Stripe webhook deliveries as Stripe makes them, for tests of the receiving end: an event
about a PaymentIntent, and its `Stripe-Signature` header."""

from __future__ import annotations

import hashlib
import hmac
import json
import time


def stripe_event(
    kind: str,
    *,
    event_id: str = "evt_1",
    status: str = "succeeded",
    order_id: str = "po_1",
    intent_id: str = "pi_1",
    decline_code: str = "",
    amount: int = 1234,
    currency: str = "usd",
    created: int = 1_700_000_000,
) -> bytes:
    """`amount` in minor units and `currency` lower case, as Stripe sends them."""
    intent: dict[str, object] = {
        "id": intent_id,
        "object": "payment_intent",
        "status": status,
        "amount": amount,
        "currency": currency,
        "metadata": {"payment_order_id": order_id},
    }
    if decline_code:
        intent["last_payment_error"] = {"code": "card_declined", "decline_code": decline_code}
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": created,
            "data": {"object": intent},
        }
    ).encode()


def sign(payload: bytes, secret: str, at: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix time>,v1=<HMAC-SHA256 of "t.body">."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
