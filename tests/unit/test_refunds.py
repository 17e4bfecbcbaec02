"""Refunds in the payment service: the rules (domain) and the use cases against the in-memory
unit of work and the fake PSP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mesh.errors import Code, ServiceError
from payment_svc.adapters.fake_psp import FakePaymentProvider
from payment_svc.domain.commands import CreatePayment, NewOrder
from payment_svc.domain.psp import PspUnavailable
from payment_svc.domain.psp_refunds import RefundOutcomeStatus
from payment_svc.domain.refund import (
    InvalidRefundAmount,
    Refund,
    RefundableOrder,
    RefundNotAllowed,
    RefundStatus,
    plan_refund,
)
from payment_svc.domain.refund_events import RefundCreated, RefundFailed, RefundSucceeded
from payment_svc.domain.risk import RuleBasedRiskCheck
from payment_svc.service_layer.create_payment import create_payment
from payment_svc.service_layer.execute_order import execute_order
from payment_svc.service_layer.execute_refund import (
    RefundExecution,
    execute_refund,
    sweep_stuck_refunds,
)
from payment_svc.service_layer.fake_uow import FakeStore
from payment_svc.service_layer.idempotency import IdempotentResult
from payment_svc.service_layer.refunds import CreateRefund, create_refund, get_refund

pytestmark = pytest.mark.unit

D = Decimal
KEYS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(1, 20)]


# --- the rules ----------------------------------------------------------------------------


def order(
    amount: str = "100.00",
    fee: str = "10.00",
    refunded: str = "0",
    fee_refunded: str = "0",
    *,
    succeeded: bool = True,
    currency: str = "USD",
) -> RefundableOrder:
    return RefundableOrder(
        "po_1", succeeded, D(amount), D(fee), currency, D(refunded), D(fee_refunded)
    )


def refund_all(o: RefundableOrder, *parts: str) -> list[tuple[Decimal, Decimal]]:
    """Plan each part in turn as if each before it had been stored; (amount, fee) of each."""
    planned = []
    for part in parts:
        plan = plan_refund(o, part)
        planned.append((plan.amount, plan.fee_refunded))
        o = RefundableOrder(
            o.payment_order_id,
            True,
            o.amount,
            o.fee_amount,
            o.currency,
            o.refunded + plan.amount,
            o.fee_refunded + plan.fee_refunded,
        )
    return planned


def test_no_amount_refunds_all_that_remains_with_all_the_fee_left() -> None:
    assert refund_all(order(), "") == [(D("100.00"), D("10.00"))]
    assert refund_all(order(refunded="40.00", fee_refunded="4.00"), "") == [(D("60.00"), D("6.00"))]


def test_partial_refunds_up_to_the_limit_give_back_exactly_the_fee() -> None:
    # A fee that does not split evenly: the refund that empties the order takes what is left.
    parts = refund_all(order("10.00", "1.00"), "3.33", "3.33", "3.34")
    assert parts == [(D("3.33"), D("0.33")), (D("3.33"), D("0.33")), (D("3.34"), D("0.34"))]
    assert sum(f for _, f in parts) == D("1.00")
    cents = refund_all(order("0.03", "0.01"), "0.01", "0.01", "")
    assert [f for _, f in cents] == [D("0.00"), D("0.00"), D("0.01")]
    yen = refund_all(order("1000", "100", currency="JPY"), "333", "333", "334")
    assert sum(f for _, f in yen) == D("100")


@pytest.mark.parametrize(
    ("o", "requested"),
    [
        (order(), "100.01"),
        (order(refunded="60.00", fee_refunded="6.00"), "40.01"),
        (order(refunded="100.00", fee_refunded="10.00"), ""),  # nothing left
    ],
)
def test_more_than_remains_is_refused(o: RefundableOrder, requested: str) -> None:
    with pytest.raises(RefundNotAllowed) as info:
        plan_refund(o, requested)
    assert info.value.reason == "REFUND_EXCEEDS_REMAINING"


def test_only_a_successful_order_is_refundable() -> None:
    with pytest.raises(RefundNotAllowed) as info:
        plan_refund(order(succeeded=False), "1.00")
    assert info.value.reason == "ORDER_NOT_REFUNDABLE"


@pytest.mark.parametrize(
    ("requested", "rule"), [("0", "amount.positive"), ("1.001", "amount.precision")]
)
def test_an_amount_that_is_not_money_in_the_order_currency_is_invalid(
    requested: str, rule: str
) -> None:
    with pytest.raises(InvalidRefundAmount) as info:
        plan_refund(order(), requested)
    assert info.value.rule == rule
    with pytest.raises(InvalidRefundAmount):
        plan_refund(order("1000", "100", currency="JPY"), "1.5")


def test_only_a_pending_refund_succeeds_or_fails() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    refund = Refund("rf_1", "po_1", "s", D("1.00"), D("0.10"), "USD", now, now)
    refund.succeed("re_1", now)
    assert (refund.status, refund.psp_reference, refund.seller_debit) == (
        RefundStatus.SUCCEEDED,
        "re_1",
        D("0.90"),
    )
    with pytest.raises(Exception, match="not allowed"):
        refund.fail("late", now)


# --- the use cases ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def render(refund: Refund) -> bytes:
    return json.dumps(
        [refund.refund_id, str(refund.amount), str(refund.fee_refunded), refund.status.value]
    ).encode()


class Shop:
    """A store with one paid order (po_1, 100.00 USD, fee 10.00) and one declined (po_2)."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.clock = Clock()
        self.psp = FakePaymentProvider()

    async def pay(self, order_id: str, payment_method: str, key: str) -> None:
        cmd = CreatePayment(
            request_id=key,
            request_hash=f"pay-{order_id}",
            checkout_id=f"co_{order_id}",
            buyer_id="buyer_1",
            payment_method=payment_method,
            orders=(NewOrder(order_id, "seller_1", D("100.00"), "USD"),),
        )
        await create_payment(
            cmd,
            uow=self.store.uow,
            risk=RuleBasedRiskCheck(D("10000"), frozenset()),
            fee_rate=D("0.10"),
            render=lambda c: c.checkout_id.encode(),
            clock=self.clock,
        )
        await execute_order(order_id, uow=self.store.uow, psp=self.psp, clock=self.clock)

    async def refund(
        self, amount: str = "", key: str = KEYS[5], order_id: str = "po_1"
    ) -> IdempotentResult:
        cmd = CreateRefund(key, f"{order_id}|{amount}", order_id, amount)
        return await create_refund(cmd, uow=self.store.uow, render=render, clock=self.clock)

    async def execute(self, refund_id: str) -> RefundExecution:
        return await execute_refund(refund_id, uow=self.store.uow, psp=self.psp, clock=self.clock)

    async def refund_and_execute(self, amount: str, key: str) -> list[str]:
        answer = json.loads((await self.refund(amount, key)).response)
        assert await self.execute(answer[0]) is RefundExecution.SUCCEEDED
        return answer

    def refund_events(self) -> list[object]:
        return [
            e
            for e in self.store.outbox
            if isinstance(e, RefundCreated | RefundSucceeded | RefundFailed)
        ]


@pytest.fixture
async def shop() -> Shop:
    s = Shop()
    await s.pay("po_1", "pm_card_visa", KEYS[0])
    await s.pay("po_2", "pm_card_chargeDeclined", KEYS[1])
    return s


async def test_a_full_refund_is_executed_once_and_reversed_through_its_event(shop: Shop) -> None:
    result = await shop.refund()
    refund_id, amount, fee, status = json.loads(result.response)
    assert (amount, fee, status, result.replayed) == ("100.00", "10.00", "PENDING", False)
    assert shop.refund_events() == [RefundCreated(refund_id, "po_1")]

    assert await shop.execute(refund_id) is RefundExecution.SUCCEEDED
    assert await shop.execute(refund_id) is RefundExecution.NOTHING_TO_DO  # a redelivery

    refund = await get_refund(refund_id, uow=shop.store.uow)
    assert (refund.status, refund.psp_reference) == (RefundStatus.SUCCEEDED, "re_fake_000001")
    assert shop.refund_events()[1:] == [
        RefundSucceeded(
            refund_id, "po_1", "seller_1", D("100.00"), D("10.00"), "USD", "re_fake_000001"
        )
    ]
    [at_psp] = shop.psp.refunds.values()
    assert (at_psp.request.amount, at_psp.request.charge_reference) == (
        D("100.00"),
        "pi_fake_000001",
    )
    assert shop.psp.refund_calls == 1


async def test_partial_refunds_up_to_the_limit_then_the_next_is_refused(shop: Shop) -> None:
    first = await shop.refund_and_execute("30.00", KEYS[5])
    second = await shop.refund_and_execute("", KEYS[6])  # the rest
    assert (first[1:3], second[1:3]) == (["30.00", "3.00"], ["70.00", "7.00"])

    with pytest.raises(ServiceError) as refused:
        await shop.refund("0.01", KEYS[7])
    assert (refused.value.code, refused.value.reason) == (
        Code.FAILED_PRECONDITION,
        "REFUND_EXCEEDS_REMAINING",
    )
    # The refusal is the key's stored answer.
    with pytest.raises(ServiceError) as again:
        await shop.refund("0.01", KEYS[7])
    assert (again.value.reason, again.value.replayed) == ("REFUND_EXCEEDS_REMAINING", True)
    assert sum(r.request.amount for r in shop.psp.refunds.values()) == D("100.00")


async def test_refunds_still_pending_count_against_the_limit(shop: Shop) -> None:
    await shop.refund("60.00", KEYS[5])  # not executed yet
    with pytest.raises(ServiceError) as info:
        await shop.refund("40.01", KEYS[6])
    assert info.value.reason == "REFUND_EXCEEDS_REMAINING"
    assert json.loads((await shop.refund("40.00", KEYS[7])).response)[1] == "40.00"


async def test_a_failed_refund_frees_its_amount(shop: Shop) -> None:
    shop.psp.refund_outcome = RefundOutcomeStatus.FAILED
    failed_id = json.loads((await shop.refund("", KEYS[5])).response)[0]
    assert await shop.execute(failed_id) is RefundExecution.FAILED
    assert isinstance(shop.refund_events()[-1], RefundFailed)

    shop.psp.refund_outcome = RefundOutcomeStatus.SUCCEEDED
    assert (await shop.refund_and_execute("", KEYS[6]))[1] == "100.00"


async def test_an_order_that_did_not_succeed_is_not_refundable(shop: Shop) -> None:
    with pytest.raises(ServiceError) as info:
        await shop.refund(order_id="po_2")
    assert (info.value.code, info.value.reason) == (
        Code.FAILED_PRECONDITION,
        "ORDER_NOT_REFUNDABLE",
    )
    assert shop.refund_events() == []


async def test_an_unknown_order_is_not_found_and_its_key_is_not_kept(shop: Shop) -> None:
    with pytest.raises(ServiceError) as info:
        await shop.refund(order_id="po_nope")
    assert info.value.code is Code.NOT_FOUND
    assert ("", KEYS[5]) not in shop.store.state.idempotency


async def test_an_amount_with_too_many_decimals_is_a_stored_invalid_argument(shop: Shop) -> None:
    with pytest.raises(ServiceError) as info:
        await shop.refund("1.001")
    assert (info.value.code, info.value.violations[0].field) == (
        Code.INVALID_ARGUMENT,
        "amount",
    )
    assert shop.store.state.idempotency[("", KEYS[5])].error is not None


async def test_an_amount_the_psp_would_refuse_is_invalid_and_nothing_is_refunded(
    shop: Shop,
) -> None:
    shop.psp.refused_currencies["USD"] = "not in this PSP's minor units"
    cmd = CreateRefund(KEYS[5], "po_1|25.00", "po_1", "25.00")
    with pytest.raises(ServiceError) as info:
        await create_refund(cmd, uow=shop.store.uow, render=render, clock=shop.clock, psp=shop.psp)
    assert info.value.code is Code.INVALID_ARGUMENT
    assert [(v.field, v.rule) for v in info.value.violations] == [("amount", "amount.psp")]
    assert shop.refund_events() == []


async def test_a_replay_returns_the_stored_answer_and_refunds_once(shop: Shop) -> None:
    first = await shop.refund("25.00", KEYS[5])
    again = await shop.refund("25.00", KEYS[5])
    assert again == IdempotentResult(first.response, replayed=True)
    assert len(shop.store.state.refunds) == 1

    with pytest.raises(ServiceError) as other_body:
        await shop.refund("26.00", KEYS[5])
    assert other_body.value.reason == "IDEMPOTENCY_KEY_REUSED"


async def test_a_lost_psp_answer_is_asked_for_before_sending_again(shop: Shop) -> None:
    refund_id = json.loads((await shop.refund("", KEYS[5])).response)[0]
    shop.psp.lose_next_answers(1)
    with pytest.raises(PspUnavailable):
        await shop.execute(refund_id)
    assert (await get_refund(refund_id, uow=shop.store.uow)).status is RefundStatus.PENDING
    assert (shop.psp.refund_calls, shop.psp.refund_lookups) == (1, 0)

    assert await shop.execute(refund_id) is RefundExecution.SUCCEEDED
    # Asked first, found it: never sent a second time.
    assert (shop.psp.refund_calls, shop.psp.refund_lookups) == (1, 1)
    assert len(shop.psp.refunds) == 1


async def test_a_psp_outage_leaves_the_refund_pending_and_the_retry_sends_it_once(
    shop: Shop,
) -> None:
    refund_id = json.loads((await shop.refund("", KEYS[5])).response)[0]
    shop.psp.fail_next(1)
    with pytest.raises(PspUnavailable):
        await shop.execute(refund_id)
    assert await shop.execute(refund_id) is RefundExecution.SUCCEEDED
    assert (shop.psp.refund_calls, shop.psp.refund_lookups, len(shop.psp.refunds)) == (2, 1, 1)


async def test_the_sweeper_settles_refunds_stuck_pending(shop: Shop) -> None:
    refund_id = json.loads((await shop.refund("", KEYS[5])).response)[0]
    shop.psp.lose_next_answers(1)
    with pytest.raises(PspUnavailable):
        await shop.execute(refund_id)

    fresh = await sweep_stuck_refunds(
        uow=shop.store.uow, psp=shop.psp, clock=shop.clock, stuck_after=timedelta(minutes=1)
    )
    assert fresh.settled == {}  # not stuck yet
    shop.clock.now += timedelta(minutes=2)
    report = await sweep_stuck_refunds(
        uow=shop.store.uow, psp=shop.psp, clock=shop.clock, stuck_after=timedelta(minutes=1)
    )
    assert report.settled == {refund_id: RefundExecution.SUCCEEDED}
    assert len(shop.psp.refunds) == 1
