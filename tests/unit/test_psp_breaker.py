"""The PSP circuit breaker: its state machine, the guarded PSP in front of the fake PSP, the
executor leaving orders untouched while it is open with their retry state shown, and the PSP's
Retry-After honoured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import stripe

from mesh.events import PAYMENT_ORDER_CREATED, new_envelope
from mesh.retry import RetryPolicy, retry_after
from payment_svc.adapters.fake_psp import FakePaymentProvider
from payment_svc.adapters.guarded_psp import GuardedPsp
from payment_svc.adapters.stripe_psp import psp_error, retry_after_header
from payment_svc.domain.breaker import BreakerPolicy, BreakerState, CircuitBreaker, CircuitOpen
from payment_svc.domain.commands import CreatePayment, NewOrder
from payment_svc.domain.order import OrderStatus
from payment_svc.domain.psp import ChargeRequest, ChargeStatus, PspRejected, PspUnavailable
from payment_svc.domain.risk import RuleBasedRiskCheck
from payment_svc.entrypoints.consumers import ExecutorHandler
from payment_svc.service_layer.create_payment import create_payment
from payment_svc.service_layer.fake_uow import FakeStore
from paymesh.events.v1 import events_pb2

pytestmark = pytest.mark.unit


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(ticks: Ticks, **policy: float) -> CircuitBreaker:
    return CircuitBreaker(BreakerPolicy(**policy), ticks)  # type: ignore[arg-type]


def test_the_breaker_opens_after_the_threshold_of_failures_in_a_row() -> None:
    ticks = Ticks()
    b = breaker(ticks, failure_threshold=3, open_s=30)
    for _ in range(2):
        b.admit()
        b.failed()
    b.admit()
    b.succeeded()  # an answer breaks the run
    for _ in range(2):
        b.admit()
        b.failed()
    assert b.state is BreakerState.CLOSED
    b.admit()
    b.failed()
    assert b.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as refused:
        b.admit()
    assert refused.value.retry_after_s == pytest.approx(30)
    ticks.now += 20
    with pytest.raises(CircuitOpen) as refused:
        b.check()
    assert refused.value.retry_after_s == pytest.approx(10)
    assert isinstance(refused.value, PspUnavailable)  # transient: never dead-lettered


def test_half_open_lets_one_probe_through_and_closes_on_its_success() -> None:
    ticks = Ticks()
    b = breaker(ticks, failure_threshold=1, open_s=5, recovery_s=60)
    b.admit()
    b.failed()
    ticks.now += 5
    assert b.state is BreakerState.HALF_OPEN
    b.admit()  # the probe
    with pytest.raises(CircuitOpen):
        b.admit()  # a second one waits for the probe
    b.succeeded()
    assert b.state is BreakerState.CLOSED
    assert b.recovering
    ticks.now += 61
    assert not b.recovering


def test_a_failed_probe_opens_the_breaker_again_for_the_whole_open_time() -> None:
    ticks = Ticks()
    b = breaker(ticks, failure_threshold=1, open_s=5)
    b.admit()
    b.failed()
    ticks.now += 6
    b.admit()
    b.failed()
    assert b.state is BreakerState.OPEN
    assert b.open_for_s() == pytest.approx(5)


def test_a_cancelled_probe_frees_its_slot() -> None:
    ticks = Ticks()
    b = breaker(ticks, failure_threshold=1, open_s=5)
    b.admit()
    b.failed()
    ticks.now += 5
    b.admit()
    b.abandoned()
    b.admit()  # the slot is free again
    assert b.state is BreakerState.HALF_OPEN


def request(order_id: str, method: str = "pm_card_visa") -> ChargeRequest:
    return ChargeRequest(order_id, Decimal("10.00"), "USD", method, "buyer", "co")


async def test_the_guarded_psp_counts_outages_not_declines() -> None:
    ticks = Ticks()
    fake = FakePaymentProvider()
    guarded = GuardedPsp(fake, breaker(ticks, failure_threshold=2, open_s=30), "1000/second")
    for i in range(5):  # declines are answers: the breaker stays closed
        outcome = await guarded.charge(request(f"po_d{i}", "pm_card_chargeDeclined"))
        assert outcome.status is ChargeStatus.DECLINED
    fake.fail_next(2)
    for i in range(2):
        with pytest.raises(PspUnavailable):
            await guarded.charge(request(f"po_f{i}"))
    assert guarded.breaker.state is BreakerState.OPEN
    before = len(fake.charges_by_order())
    with pytest.raises(CircuitOpen):
        await guarded.charge(request("po_x"))
    assert len(fake.charges_by_order()) == before  # not called at all


async def test_a_refusal_is_an_answer_too() -> None:
    ticks = Ticks()

    class Refusing(FakePaymentProvider):
        async def charge(self, request: ChargeRequest):  # type: ignore[no-untyped-def]
            raise PspRejected("bad request")

    guarded = GuardedPsp(Refusing(), breaker(ticks, failure_threshold=1), "1000/second")
    with pytest.raises(PspRejected):
        await guarded.charge(request("po_r"))
    assert guarded.breaker.state is BreakerState.CLOSED


async def test_after_recovery_calls_are_bounded_to_the_drain_rate() -> None:
    ticks = Ticks()
    fake = FakePaymentProvider()
    guarded = GuardedPsp(fake, breaker(ticks, failure_threshold=1, open_s=1), "3/minute")
    fake.fail_next(1)
    with pytest.raises(PspUnavailable):
        await guarded.charge(request("po_0"))
    ticks.now += 1
    await guarded.charge(request("po_probe"))  # the probe closes it: recovering
    assert guarded.breaker.recovering
    for i in range(3):  # three a minute
        await guarded.charge(request(f"po_{i + 1}"))
    with pytest.raises(CircuitOpen) as refused:
        await guarded.charge(request("po_4"))
    assert 0 < (refused.value.retry_after_s or 0) <= 60
    with pytest.raises(CircuitOpen):
        guarded.check()  # the executor's look before it starts an attempt


def test_the_psp_retry_after_is_read_from_the_stripe_error() -> None:
    err = stripe.RateLimitError("slow down", http_status=429, headers={"retry-after": "7"})
    mapped = psp_error(err)
    assert isinstance(mapped, PspUnavailable)
    assert retry_after(mapped) == 7
    unavailable = stripe.APIError("down", http_status=503, headers={"Retry-After": "2.5"})
    assert retry_after(psp_error(unavailable)) == 2.5
    assert retry_after(psp_error(stripe.APIError("down", http_status=500))) is None
    assert retry_after_header({"Retry-After": "soon"}) is None
    assert retry_after_header({"Retry-After": "99999"}) == 3600
    later = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 25 < (retry_after_header({"Retry-After": later}) or 0) <= 30


def test_a_wait_asked_for_is_never_shortened_by_jitter() -> None:
    policy = RetryPolicy(jitter=0.5)
    for _ in range(50):
        assert 10 <= policy.delay_after(10) <= 15


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_while_the_breaker_is_open_an_order_waits_untouched_and_shows_why() -> None:
    store, clock, ticks = FakeStore(), Clock(), Ticks()
    fake = FakePaymentProvider()
    guarded = GuardedPsp(fake, breaker(ticks, failure_threshold=1, open_s=30), "1000/second")
    cmd = CreatePayment(
        request_id="11111111-1111-4111-8111-111111111111",
        request_hash="h",
        checkout_id="co_1",
        buyer_id="buyer_1",
        payment_method="pm_card_visa",
        orders=(NewOrder("po_1", "seller_1", Decimal("5.00"), "USD"),),
        buyer_email="b@example.com",
        buyer_name="B",
    )
    await create_payment(
        cmd,
        uow=store.uow,
        risk=RuleBasedRiskCheck(Decimal("10000"), frozenset()),
        fee_rate=Decimal("0.1"),
        render=lambda checkout: b"{}",
        clock=clock,
    )
    handler = ExecutorHandler(
        uow=store.uow, psp=guarded, clock=clock, gate=guarded.check, retry=RetryPolicy()
    )
    envelope = new_envelope(
        PAYMENT_ORDER_CREATED, "po_1", events_pb2.PaymentOrderCreated(payment_order_id="po_1")
    )
    fake.fail_next(1)
    with pytest.raises(PspUnavailable) as first:
        await handler(envelope)  # one attempt, the PSP down: the breaker opens
    order = store.state.orders["po_1"]
    assert order.status is OrderStatus.EXECUTING and order.attempts == 1
    assert order.last_error == "fake PSP: scripted outage"
    assert retry_after(first.value) is not None
    with pytest.raises(PspUnavailable) as refused:
        await handler(envelope)
    assert retry_after(refused.value) == 30  # the consumer naks with the breaker's open time
    order = store.state.orders["po_1"]
    assert order.attempts == 1  # no attempt burnt while open
    assert "circuit breaker is open" in order.last_error
    assert order.next_attempt_at == clock.now + timedelta(seconds=30)
    ticks.now += 30
    await handler(envelope)  # the probe: found nothing at the PSP, charged once
    assert store.state.orders["po_1"].status is OrderStatus.SUCCESS
    assert fake.charges_by_order() == {"po_1": 1}
