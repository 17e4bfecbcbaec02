"""The risk check inside CreatePayment, on the in-memory store: the decision is stored with the
checkout or with its refusal, and velocity counts the checkouts the store holds, in a window
that slides with the clock."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mesh.errors import Code, ServiceError
from payment_svc.adapters.fake_psp import FakePaymentProvider
from payment_svc.domain.checkout import Checkout, Flow
from payment_svc.domain.commands import CreatePayment, NewOrder
from payment_svc.domain.risk import Outcome, RuleBasedRiskCheck, VelocityLimits
from payment_svc.domain.risk_limits import AmountLimits
from payment_svc.service_layer.create_payment import CreatePaymentResult, create_payment
from payment_svc.service_layer.fake_uow import FakeStore
from payment_svc.service_layer.queries import get_risk_decision

pytestmark = pytest.mark.unit

WINDOW = timedelta(hours=1)
RISK = RuleBasedRiskCheck(
    AmountLimits.parse("USD:10000,JPY:1500000"),
    frozenset({"fraudster"}),
    VelocityLimits(WINDOW, 2, AmountLimits.parse("USD:100,JPY:15000")),
)
CARD = "pm_1QxYz7Abc"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def render(checkout: Checkout) -> bytes:
    return json.dumps({"checkout_id": checkout.checkout_id}).encode()


def command(
    n: int,
    buyer_id: str = "buyer_1",
    amount: str = "10.00",
    currency: str = "USD",
    payment_method: str = CARD,
) -> CreatePayment:
    return CreatePayment(
        request_id=f"00000000-0000-4000-8000-{n:012d}",
        request_hash=f"{n}|{buyer_id}|{amount}|{currency}|{payment_method}",
        checkout_id=f"co_{n}",
        buyer_id=buyer_id,
        payment_method=payment_method,
        orders=(NewOrder(f"po_{n}", "seller_1", Decimal(amount), currency),),
    )


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def create(store: FakeStore, clock: Clock, cmd: CreatePayment) -> CreatePaymentResult:
    return await create_payment(
        cmd, uow=store.uow, risk=RISK, fee_rate=Decimal("0.10"), render=render, clock=clock
    )


async def refusal(store: FakeStore, clock: Clock, cmd: CreatePayment) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        await create(store, clock, cmd)
    assert (info.value.code, info.value.reason) == (
        Code.FAILED_PRECONDITION,
        "RISK_REJECTED",
    )
    return info.value


async def test_an_accepted_checkout_stores_its_decision_with_every_rule(
    store: FakeStore, clock: Clock
) -> None:
    await create(store, clock, command(1))

    record = await get_risk_decision("co_1", uow=store.uow)

    assert record is not None
    assert (record.buyer_id, record.payment_method, record.decided_at) == (
        "buyer_1",
        CARD,
        clock.now,
    )
    assert record.decision.outcome is Outcome.ALLOW
    assert {r.rule: r.outcome for r in record.decision.rules} == {
        "buyer.blocked": Outcome.ALLOW,
        "order.currency_not_accepted": Outcome.ALLOW,
        "order.amount_limit": Outcome.ALLOW,
        "velocity.buyer.checkouts": Outcome.ALLOW,
        "velocity.buyer.amount": Outcome.ALLOW,
        "velocity.payment_method.checkouts": Outcome.ALLOW,
        "velocity.payment_method.amount": Outcome.ALLOW,
    }


async def test_a_refusal_stores_its_decision_once_and_is_the_key_s_answer(
    store: FakeStore, clock: Clock
) -> None:
    first = await refusal(store, clock, command(1, buyer_id="fraudster"))
    again = await refusal(store, clock, command(1, buyer_id="fraudster"))

    assert first.metadata == {"rule": "buyer.blocked"} and again.replayed
    assert store.state.checkouts == {} and store.outbox == []
    [record] = store.state.risk_decisions  # the replay decided nothing anew
    assert (record.checkout_id, record.decision.outcome, record.decision.rule) == (
        "co_1",
        Outcome.DENY,
        "buyer.blocked",
    )
    assert await get_risk_decision("co_1", uow=store.uow) is None  # nothing was let in


async def test_a_checkout_id_already_taken_stores_no_second_decision(
    store: FakeStore, clock: Clock
) -> None:
    await create(store, clock, command(1))
    taken = replace(command(2), checkout_id="co_1")

    with pytest.raises(ServiceError) as info:
        await create(store, clock, taken)

    assert info.value.reason == "ALREADY_EXISTS"
    assert [r.request_id for r in store.state.risk_decisions] == [command(1).request_id]


async def test_velocity_by_buyer_refuses_the_third_checkout_in_the_window(
    store: FakeStore, clock: Clock
) -> None:
    await create(store, clock, command(1, payment_method="pm_card_visa"))
    await create(store, clock, command(2, payment_method="pm_card_mastercard"))

    error = await refusal(store, clock, command(3, payment_method="pm_card_visa"))

    assert error.metadata == {"rule": "velocity.buyer.checkouts"}
    assert "try again later" in error.message
    assert list(store.state.checkouts) == ["co_1", "co_2"]
    await create(store, clock, command(4, buyer_id="buyer_2"))  # another buyer is not held up


async def test_the_window_slides_checkouts_older_than_it_no_longer_count(
    store: FakeStore, clock: Clock
) -> None:
    await create(store, clock, command(1, payment_method="pm_card_visa"))
    clock.now += timedelta(minutes=30)
    await create(store, clock, command(2, payment_method="pm_card_visa"))
    clock.now += timedelta(minutes=29)
    await refusal(store, clock, command(3, payment_method="pm_card_visa"))

    clock.now += timedelta(minutes=1)  # the first is now an hour old: out of the window

    await create(store, clock, command(4, payment_method="pm_card_visa"))
    record = await get_risk_decision("co_4", uow=store.uow)
    assert record is not None
    figures = {r.rule: dict(r.figures) for r in record.decision.rules}
    assert figures["velocity.buyer.checkouts"]["recent"] == "1"


async def test_velocity_by_token_refuses_a_card_shared_by_many_buyers(
    store: FakeStore, clock: Clock
) -> None:
    await create(store, clock, command(1, buyer_id="buyer_a"))
    await create(store, clock, command(2, buyer_id="buyer_b"))

    error = await refusal(store, clock, command(3, buyer_id="buyer_c"))

    assert error.metadata == {"rule": "velocity.payment_method.checkouts"}
    await create(store, clock, command(4, buyer_id="buyer_c", payment_method="pm_1OtherCard"))


async def test_velocity_amount_is_counted_per_currency(store: FakeStore, clock: Clock) -> None:
    await create(store, clock, command(1, amount="90.00", payment_method="pm_card_visa"))
    error = await refusal(store, clock, command(2, amount="10.01", payment_method="pm_card_visa"))
    assert error.metadata == {"rule": "velocity.buyer.amount"}
    assert "100" not in error.message  # the threshold stays with the operator

    # Yen are counted against the yen limit: ¥10,000 is well within ¥15,000.
    await create(
        store, clock, command(3, amount="10000", currency="JPY", payment_method="pm_card_visa")
    )


async def test_a_hosted_checkout_refused_on_its_own_opens_no_page(
    store: FakeStore, clock: Clock
) -> None:
    psp = FakePaymentProvider()
    hosted = replace(
        command(1, buyer_id="fraudster", payment_method=""),
        flow=Flow.HOSTED,
        redirect_url="https://shop.test/done",
    )

    with pytest.raises(ServiceError) as info:
        await create_payment(
            hosted,
            uow=store.uow,
            risk=RISK,
            fee_rate=Decimal("0.10"),
            render=render,
            clock=clock,
            psp=psp,
        )

    assert info.value.metadata == {"rule": "buyer.blocked"}
    assert psp.hosted_pages == {}
    [record] = store.state.risk_decisions
    assert record.decision.outcome is Outcome.DENY
