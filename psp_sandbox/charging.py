"""Confirming a PaymentIntent: charging the test card, declining it, or asking for an action.

Every outcome produces the objects it changes (intent, charge, balance transaction) and the
events Stripe would send, for the caller to store as one change. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psp_sandbox import balance
from psp_sandbox.card_outcomes import CardOutcome, Result
from psp_sandbox.errors import CARD_ERROR, ApiError
from psp_sandbox.events import Emitted, EventFactory
from psp_sandbox.faults import DECLINE_CODES, RequestFaults
from psp_sandbox.ids import new_id

StripeObject = dict[str, Any]
SCHEDULE = "action_completion"  # record kind: a requires_action intent to complete later


@dataclass
class Confirmed:
    objects: list[StripeObject] = field(default_factory=list)
    emitted: Emitted = field(default_factory=Emitted)
    decline: ApiError | None = None  # the 402 to answer with


def confirm(
    intent: StripeObject,
    payment_method: str,
    outcome: CardOutcome,
    request_faults: RequestFaults,
    now: float,
    factory: EventFactory,
    request: dict[str, Any] | None = None,
) -> Confirmed:
    """Charge `intent` (changed in place) with a test payment method, faults applied."""
    done = Confirmed()
    intent["payment_method"] = payment_method
    result = outcome.result
    if result is Result.SUCCEEDED and request_faults.decline_code:
        code, message = DECLINE_CODES[request_faults.decline_code]
        outcome = CardOutcome(
            Result.DECLINED,
            outcome.brand,
            outcome.last4,
            code,
            request_faults.decline_code,
            message,
        )
        result = Result.DECLINED
    if result is Result.SUCCEEDED and request_faults.requires_action:
        _require_action(intent)
        done.emitted.records.append(
            (
                SCHEDULE,
                intent["id"],
                {
                    "due": now + request_faults.action_after_s,
                    "outcome": request_faults.requires_action,
                },
            )
        )
        done.objects.append(intent)
        factory.emit(done.emitted, "payment_intent.requires_action", intent, now, request)
        return done
    if result is Result.REQUIRES_ACTION:
        # Stays so until confirmed again (POST /v1/payment_intents/{id}/confirm).
        _require_action(intent)
        done.objects.append(intent)
        factory.emit(done.emitted, "payment_intent.requires_action", intent, now, request)
        return done
    if result is Result.SUCCEEDED:
        succeed(intent, outcome, now, factory, done, request)
        return done
    decline(intent, outcome, now, factory, done, request)
    return done


def succeed(
    intent: StripeObject,
    card: CardOutcome,
    now: float,
    factory: EventFactory,
    done: Confirmed,
    request: dict[str, Any] | None = None,
) -> None:
    charge = _charge(intent, card, now, paid=True)
    transaction = balance.for_charge(charge, int(now))
    charge["balance_transaction"] = transaction["id"]
    intent.update(
        status="succeeded",
        amount_received=intent["amount"],
        latest_charge=charge["id"],
        next_action=None,
        last_payment_error=None,
    )
    done.objects += [intent, charge, transaction]
    factory.emit(done.emitted, "charge.succeeded", charge, now, request)
    factory.emit(done.emitted, "payment_intent.succeeded", intent, now, request)


def decline(
    intent: StripeObject,
    card: CardOutcome,
    now: float,
    factory: EventFactory,
    done: Confirmed,
    request: dict[str, Any] | None = None,
) -> None:
    charge = _charge(intent, card, now, paid=False)
    charge["failure_code"] = card.code
    charge["failure_message"] = card.message
    payment_method = {
        "id": intent["payment_method"],
        "object": "payment_method",
        "type": "card",
        "card": {"brand": card.brand, "last4": card.last4},
    }
    error: dict[str, Any] = {
        "type": CARD_ERROR,
        "code": card.code,
        "decline_code": card.decline_code,
        "message": card.message,
        "charge": charge["id"],
        "payment_method": payment_method,
    }
    intent.update(
        status="requires_payment_method",
        latest_charge=charge["id"],
        last_payment_error=error,
        next_action=None,
        payment_method=None,  # Stripe detaches a payment method that failed
    )
    done.objects += [intent, charge]
    factory.emit(done.emitted, "charge.failed", charge, now, request)
    factory.emit(done.emitted, "payment_intent.payment_failed", intent, now, request)
    done.decline = ApiError(
        402,
        CARD_ERROR,
        card.message,
        code=card.code,
        decline_code=card.decline_code,
        charge=charge["id"],
        payment_method=payment_method,
        payment_intent=intent,
    )


AUTHENTICATION_FAILED = CardOutcome(
    Result.DECLINED,
    "visa",
    "3220",
    "payment_intent_authentication_failure",
    "",
    "The provided PaymentMethod has failed authentication. Provide a new payment method to "
    "attempt to fulfill this PaymentIntent again.",
)


def _require_action(intent: StripeObject) -> None:
    intent.update(
        status="requires_action",
        next_action={
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect"},
        },
    )


def _charge(intent: StripeObject, card: CardOutcome, now: float, *, paid: bool) -> StripeObject:
    return {
        "id": new_id("ch_"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if paid else 0,
        "amount_refunded": 0,
        "balance_transaction": None,
        "captured": paid,
        "created": int(now),
        "currency": intent["currency"],
        "description": intent.get("description"),
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": dict(intent.get("metadata") or {}),
        "paid": paid,
        "payment_intent": intent["id"],
        "payment_method": intent["payment_method"],
        "payment_method_details": {
            "type": "card",
            "card": {"brand": card.brand, "last4": card.last4},
        },
        "refunded": False,
        "status": "succeeded" if paid else "failed",
    }
