"""Stripe's test payment-method tokens and what confirming a payment with each one does.

Only tokens are accepted, never card numbers: the sandbox has no card data to leak.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Result(enum.Enum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"


@dataclass(frozen=True)
class CardOutcome:
    result: Result
    brand: str
    last4: str
    code: str = ""  # Stripe error code when declined, e.g. "card_declined"
    decline_code: str = ""  # the issuer's reason, e.g. "insufficient_funds"
    message: str = ""


def _ok(brand: str, last4: str) -> CardOutcome:
    return CardOutcome(Result.SUCCEEDED, brand, last4)


def _declined(last4: str, code: str, decline_code: str, message: str) -> CardOutcome:
    return CardOutcome(Result.DECLINED, "visa", last4, code, decline_code, message)


TEST_PAYMENT_METHODS: dict[str, CardOutcome] = {
    "pm_card_visa": _ok("visa", "4242"),
    "pm_card_visa_debit": _ok("visa", "5556"),
    "pm_card_mastercard": _ok("mastercard", "4444"),
    "pm_card_amex": _ok("amex", "8431"),
    "pm_card_chargeDeclined": _declined(
        "0002", "card_declined", "generic_decline", "Your card was declined."
    ),
    "pm_card_chargeDeclinedInsufficientFunds": _declined(
        "9995", "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "pm_card_chargeDeclinedFraudulent": _declined(
        "0019", "card_declined", "fraudulent", "Your card was declined."
    ),
    "pm_card_chargeDeclinedLostCard": _declined(
        "9987", "card_declined", "lost_card", "Your card was declined."
    ),
    "pm_card_chargeDeclinedStolenCard": _declined(
        "9979", "card_declined", "stolen_card", "Your card was declined."
    ),
    "pm_card_chargeDeclinedExpiredCard": _declined(
        "0069", "expired_card", "expired_card", "Your card has expired."
    ),
    "pm_card_chargeDeclinedIncorrectCvc": _declined(
        "0127", "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."
    ),
    "pm_card_chargeDeclinedProcessingError": _declined(
        "0119",
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "pm_card_threeDSecure2Required": CardOutcome(Result.REQUIRES_ACTION, "visa", "3220"),
    # Sandbox-only tokens: they charge like pm_card_visa apart from the fault each one names
    # (see faults.py).
    **{
        token: _ok("visa", "4242")
        for token in (
            "pm_card_sandbox_slow",
            "pm_card_sandbox_serverErrorOnce",
            "pm_card_sandbox_timeoutOnce",
            "pm_card_sandbox_lostResponseOnce",
            "pm_card_sandbox_threeDSecureSucceedsLater",
            "pm_card_sandbox_threeDSecureFailsLater",
        )
    },
}


def outcome_for(payment_method: str) -> CardOutcome | None:
    """What confirming with `payment_method` does, or None for a token the sandbox does not know."""
    return TEST_PAYMENT_METHODS.get(payment_method)
