"""How the Stripe adapter reads the PSP: every PaymentIntent status as an order outcome, and
every stripe error class as retryable (PspUnavailable) or permanent (PspRejected)."""

from __future__ import annotations

import pytest
import stripe

from payment_svc.adapters.stripe_psp import outcome_of_intent, psp_error
from payment_svc.domain.psp import ChargeOutcome, ChargeStatus, PspRejected, PspUnavailable

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        ({"id": "pi_1", "status": "succeeded"}, ChargeOutcome(ChargeStatus.SUCCEEDED, "pi_1")),
        ({"id": "pi_1", "status": "processing"}, ChargeOutcome(ChargeStatus.PENDING, "pi_1")),
        ({"id": "pi_1", "status": "requires_action"}, ChargeOutcome(ChargeStatus.PENDING, "pi_1")),
        ({"id": "pi_1", "status": "requires_capture"}, ChargeOutcome(ChargeStatus.PENDING, "pi_1")),
        (
            {"id": "pi_1", "status": "requires_confirmation"},
            ChargeOutcome(ChargeStatus.PENDING, "pi_1"),
        ),
        (
            {
                "id": "pi_1",
                "status": "requires_payment_method",
                "last_payment_error": {"code": "card_declined", "decline_code": "stolen_card"},
            },
            ChargeOutcome(ChargeStatus.DECLINED, "pi_1", "stolen_card"),
        ),
        (
            {
                "id": "pi_1",
                "status": "requires_payment_method",
                "last_payment_error": {"code": "expired_card"},
            },
            ChargeOutcome(ChargeStatus.DECLINED, "pi_1", "expired_card"),
        ),
        (
            {"id": "pi_1", "status": "canceled", "cancellation_reason": "fraudulent"},
            ChargeOutcome(ChargeStatus.DECLINED, "pi_1", "fraudulent"),
        ),
        # A status this adapter does not know is never called a failure: the sweeper asks again.
        ({"id": "pi_1", "status": "something_new"}, ChargeOutcome(ChargeStatus.PENDING, "pi_1")),
    ],
    ids=lambda v: v.get("status") if isinstance(v, dict) else "",
)
def test_every_intent_status_maps_to_an_order_outcome(intent, expected) -> None:  # type: ignore[no-untyped-def]
    assert outcome_of_intent(intent) == expected


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (stripe.InvalidRequestError("No such payment_method", "payment_method"), PspRejected),
        (stripe.AuthenticationError("Invalid API Key"), PspRejected),
        (stripe.PermissionError("not allowed"), PspRejected),
        (
            stripe.IdempotencyError(
                "Keys for idempotent requests can only be used with the same parameters"
            ),
            PspRejected,
        ),
        (stripe.RateLimitError("Too many requests"), PspUnavailable),
        (stripe.APIConnectionError("connection reset"), PspUnavailable),
        (stripe.APIError("internal error", http_status=500), PspUnavailable),
        (stripe.APIError("in use", http_status=409, code="idempotency_key_in_use"), PspUnavailable),
        (
            stripe.InvalidRequestError("in use", None, code="idempotency_key_in_use"),
            PspUnavailable,
        ),
        (stripe.StripeError("something unforeseen"), PspUnavailable),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else "",
)
def test_every_error_class_is_retryable_or_permanent(error, kind) -> None:  # type: ignore[no-untyped-def]
    assert type(psp_error(error)) is kind
