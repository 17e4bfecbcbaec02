"""Stripe Connect webhooks about payouts: the signature checked by the stripe SDK's own
verifier (HMAC-SHA256 of `<t>.<body>` with the Connect endpoint's secret, a 5-minute tolerance
against replays), as payment_svc checks the pay-in webhooks (ADR 0003), then the event turned
into a domain ProviderEvent. A genuine `payout.*` event whose shape is wrong becomes a
ProviderEvent with a `refusal`: recorded, never applied."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import stripe

from mesh.money import InvalidMoney, from_minor_units
from payout_svc.domain.provider import ProviderStatus
from payout_svc.domain.provider_event import ProviderEvent

TOLERANCE_S = 300
MAX_ID_LENGTH = 255
MAX_TIME = 253_402_300_800  # 10000-01-01: later cannot be a datetime (nor a real event)
_CURRENCY = re.compile(r"^[a-zA-Z]{3}$")

# The events that say where a payout stands; their object is the payout as it was when the
# event was made, and its status is what paymesh follows (so any order of arrival reads right).
PAYOUT_EVENTS = frozenset(
    {"payout.created", "payout.updated", "payout.paid", "payout.failed", "payout.canceled"}
)


class InvalidWebhook(Exception):
    """The delivery is not a genuine, fresh Stripe event: nothing of it may be recorded."""


def verify_connect_event(
    payload: bytes, signature: str, secret: str, tolerance_s: int = TOLERANCE_S
) -> ProviderEvent:
    """The event in `payload` if `signature` proves the provider sent it within the tolerance;
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
    return parse_event(event, payload)


def _text(value: object) -> str:
    """`value` as a TEXT column can hold it (no NUL, not too long); "" when not a string."""
    return value.replace("\x00", "\ufffd")[:MAX_ID_LENGTH] if isinstance(value, str) else ""


def parse_event(event: Any, payload: bytes) -> ProviderEvent:
    if not isinstance(event, dict):
        event = {}
    event_id, kind, created = event.get("id"), event.get("type"), event.get("created")
    has_id = isinstance(event_id, str) and bool(event_id.strip()) and "\x00" not in event_id
    base: dict[str, Any] = {
        # An event without a usable id is still recorded, under its body's digest.
        "event_id": _text(event_id)
        if has_id
        else "unidentified:" + hashlib.sha256(payload).hexdigest(),
        "type": _text(kind),
        "created_at": datetime.fromtimestamp(0, UTC),
        "account": _text(event.get("account")),
    }
    if not has_id:
        return ProviderEvent(**base, refusal="the event has no id")
    if not isinstance(kind, str) or not kind:
        return ProviderEvent(**base, refusal="the event has no type")
    if isinstance(created, bool) or not isinstance(created, int) or not 0 <= created < MAX_TIME:
        return ProviderEvent(**base, refusal="the event has no valid `created` time")
    base["created_at"] = datetime.fromtimestamp(created, UTC)
    if kind not in PAYOUT_EVENTS:
        return ProviderEvent(**base)
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict) or obj.get("object") != "payout":
        return ProviderEvent(**base, refusal=f"a {kind} event about no payout object")
    return _payout_event(base, kind, obj)


def _payout_event(base: dict[str, Any], kind: str, payout: dict[str, Any]) -> ProviderEvent:
    reference = _text(payout.get("id"))
    if not reference.strip():
        return ProviderEvent(**base, refusal="the payout has no id")
    if not base["account"]:
        return ProviderEvent(**base, refusal="a payout event without its connected account")
    metadata = payout.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return ProviderEvent(**base, refusal="the payout's metadata is not an object")
    amount, currency = payout.get("amount"), payout.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        return ProviderEvent(**base, refusal="the payout has no valid amount")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        return ProviderEvent(**base, refusal="the payout has no valid currency")
    try:
        major = from_minor_units(amount, currency.upper())
    except (InvalidMoney, KeyError, ValueError) as err:
        return ProviderEvent(**base, refusal=f"the payout's amount cannot be read: {err}")
    try:
        status = ProviderStatus(payout.get("status"))
    except ValueError:
        return ProviderEvent(**base, refusal=f"the payout has no known status ({kind})")
    return ProviderEvent(
        **base,
        payout_id=_text((metadata or {}).get("payout_id")),
        reference=reference,
        status=status,
        failure=_text(payout.get("failure_code")) if status is ProviderStatus.FAILED else "",
        amount=major,
        currency=currency.upper(),
    )
