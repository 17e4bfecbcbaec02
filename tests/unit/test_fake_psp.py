"""The fake PSP behaves like the real one where callers can tell: idempotency, outcomes, faults."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from payment_svc.adapters.fake_psp import FakePaymentProvider
from payment_svc.domain.psp import (
    ChargeOutcome,
    ChargeRequest,
    ChargeStatus,
    PspRejected,
    PspUnavailable,
)

pytestmark = pytest.mark.unit

REQUEST = ChargeRequest(
    payment_order_id="po_1",
    amount=Decimal("12.34"),
    currency="USD",
    payment_method="pm_card_visa",
    buyer_id="buyer_1",
    checkout_id="co_1",
)


@pytest.fixture
def psp() -> FakePaymentProvider:
    return FakePaymentProvider()


async def test_visa_succeeds_with_a_reference(psp: FakePaymentProvider) -> None:
    outcome = await psp.charge(REQUEST)

    assert outcome.status is ChargeStatus.SUCCEEDED
    assert outcome.psp_reference
    assert outcome.decline_reason == ""
    assert await psp.retrieve(outcome.psp_reference) == outcome


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("pm_card_chargeDeclined", (ChargeStatus.DECLINED, "generic_decline")),
        ("pm_card_chargeDeclinedInsufficientFunds", (ChargeStatus.DECLINED, "insufficient_funds")),
        ("pm_card_threeDSecure2Required", (ChargeStatus.PENDING, "")),
        ("pm_card_mastercard", (ChargeStatus.SUCCEEDED, "")),
    ],
)
async def test_test_tokens_have_stripes_outcomes(
    psp: FakePaymentProvider, token: str, expected: tuple[ChargeStatus, str]
) -> None:
    outcome = await psp.charge(replace(REQUEST, payment_method=token))
    assert (outcome.status, outcome.decline_reason) == expected


async def test_a_retry_replays_and_charges_once(psp: FakePaymentProvider) -> None:
    first = await psp.charge(REQUEST)
    again = await psp.charge(REQUEST)

    assert again == first
    assert psp.charges_by_order() == {"po_1": 1}
    assert psp.calls == 2


async def test_a_retry_with_other_parameters_is_rejected(psp: FakePaymentProvider) -> None:
    await psp.charge(REQUEST)
    with pytest.raises(PspRejected):
        await psp.charge(replace(REQUEST, amount=Decimal("99.00")))


async def test_unknown_token_is_rejected_and_charges_nothing(psp: FakePaymentProvider) -> None:
    with pytest.raises(PspRejected):
        await psp.charge(replace(REQUEST, payment_method="pm_unknown"))
    assert psp.charge_for("po_1") is None


async def test_outcomes_can_be_scripted(psp: FakePaymentProvider) -> None:
    psp.set_outcome("pm_review", ChargeStatus.PENDING)
    psp.set_outcome("pm_card_visa", ChargeStatus.DECLINED, "fraudulent")

    review = await psp.charge(replace(REQUEST, payment_order_id="po_2", payment_method="pm_review"))
    fraud = await psp.charge(REQUEST)

    assert review.status is ChargeStatus.PENDING
    assert (fraud.status, fraud.decline_reason) == (ChargeStatus.DECLINED, "fraudulent")


async def test_an_outage_charges_nothing_until_it_ends(psp: FakePaymentProvider) -> None:
    psp.fail_next(2)

    for _ in range(2):
        with pytest.raises(PspUnavailable):
            await psp.charge(REQUEST)
        assert psp.charge_for("po_1") is None
    outcome = await psp.charge(REQUEST)

    assert outcome.status is ChargeStatus.SUCCEEDED
    assert psp.calls == 3


async def test_a_lost_answer_has_charged_and_the_retry_tells(psp: FakePaymentProvider) -> None:
    psp.lose_next_answers(1)

    with pytest.raises(PspUnavailable):
        await psp.charge(REQUEST)
    charge = psp.charge_for("po_1")
    assert charge is not None and charge.outcome.status is ChargeStatus.SUCCEEDED
    retried = await psp.charge(REQUEST)

    assert retried == charge.outcome
    assert psp.charges_by_order() == {"po_1": 1}


async def test_a_pending_charge_can_be_settled(psp: FakePaymentProvider) -> None:
    pending = await psp.charge(replace(REQUEST, payment_method="pm_card_threeDSecure2Required"))

    psp.settle(pending.psp_reference, ChargeStatus.SUCCEEDED)

    assert await psp.retrieve(pending.psp_reference) == ChargeOutcome(
        ChargeStatus.SUCCEEDED, pending.psp_reference
    )
    with pytest.raises(ValueError):
        psp.settle(pending.psp_reference, ChargeStatus.DECLINED, "expired")


async def test_unknown_reference_is_rejected(psp: FakePaymentProvider) -> None:
    with pytest.raises(PspRejected):
        await psp.retrieve("pi_unknown")
