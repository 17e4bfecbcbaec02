"""The hosted flow on the in-memory store and fake PSP: each order gets its page at the PSP
before the answer, waits PENDING for the buyer, is never charged by the executor, and is
settled by the PSP's event."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from stripe_events import stripe_event
from test_payment_use_cases import FEE_RATE, RISK, Clock, command, render
from test_psp_events import apply

from payment_svc.adapters.fake_psp import FakePaymentProvider
from payment_svc.domain.checkout import Flow
from payment_svc.domain.events import OrderPending, OrderSucceeded
from payment_svc.domain.order import OrderStatus
from payment_svc.domain.psp import ChargeRequest, PspUnavailable
from payment_svc.service_layer.create_payment import CreatePaymentResult, create_payment
from payment_svc.service_layer.execute_order import Execution, execute_order, settle_pending
from payment_svc.service_layer.fake_uow import FakeStore
from payment_svc.service_layer.ports import UnknownOrder
from payment_svc.service_layer.psp_events import WebhookResult
from payment_svc.service_layer.queries import get_checkout

pytestmark = pytest.mark.unit

HOSTED = replace(
    command(payment_method=""), flow=Flow.HOSTED, redirect_url="https://shop.test/done"
)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def psp() -> FakePaymentProvider:
    return FakePaymentProvider()


async def create_hosted(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> CreatePaymentResult:
    return await create_payment(
        HOSTED, uow=store.uow, risk=RISK, fee_rate=FEE_RATE, render=render, clock=clock, psp=psp
    )


async def test_each_order_waits_on_its_own_page_and_nothing_is_sent_to_the_executor(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await create_hosted(store, clock, psp)

    checkout = await get_checkout("co_1", uow=store.uow)
    assert (checkout.flow, checkout.redirect_url) == (Flow.HOSTED, "https://shop.test/done")
    for order in checkout.orders:
        page = psp.hosted_pages[order.payment_order_id]
        assert (order.status, order.psp_token, order.payment_page_url) == (
            OrderStatus.PENDING,
            page.token,
            page.url,
        )
        assert [c.to_status for c in order.history] == [
            OrderStatus.NOT_STARTED,
            OrderStatus.EXECUTING,
            OrderStatus.PENDING,
        ]
    # No payment.order.created (nothing to charge from here); each order says it is pending.
    assert store.outbox == [
        OrderPending(o.payment_order_id, "co_1", "awaiting the buyer") for o in checkout.orders
    ]


async def test_a_replay_makes_no_new_page(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    first = await create_hosted(store, clock, psp)
    calls = psp.calls

    again = await create_hosted(store, clock, psp)

    assert again.replayed and again.response == first.response
    assert psp.calls == calls


async def test_a_psp_that_is_down_stores_nothing_and_a_retry_goes_through(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    psp.fail_next(1)

    with pytest.raises(PspUnavailable):
        await create_hosted(store, clock, psp)

    assert store.state.checkouts == {} and store.state.idempotency == {}
    assert not (await create_hosted(store, clock, psp)).replayed


async def test_the_executor_never_charges_a_hosted_order(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await create_hosted(store, clock, psp)

    result = await execute_order("po_1", uow=store.uow, psp=psp, clock=clock)

    assert result is Execution.NOTHING_TO_DO
    assert psp.charge_for("po_1") is None


async def test_the_psp_event_settles_a_hosted_order(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await create_hosted(store, clock, psp)
    store.outbox.clear()  # each order's payment.order.pending

    paid = stripe_event("payment_intent.succeeded", intent_id="pi_hosted_1", order_id="po_1")
    assert await apply(store, clock, paid) is WebhookResult.APPLIED

    checkout = await get_checkout("co_1", uow=store.uow)
    assert [(o.status, o.psp_reference) for o in checkout.orders] == [
        (OrderStatus.SUCCESS, "pi_hosted_1"),
        (OrderStatus.PENDING, ""),
    ]
    assert [type(e) for e in store.outbox] == [OrderSucceeded]


async def test_the_sweeper_finds_a_hosted_order_paid_without_a_webhook(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    """A hosted order has no PSP reference until it is paid: the sweeper looks it up by its
    payment order id (mutation testing found this path unguarded)."""
    await create_hosted(store, clock, psp)
    assert await settle_pending("po_1", uow=store.uow, psp=psp, clock=clock) is Execution.PENDING

    # The buyer pays on the page; its webhook never comes.
    paid = await psp.charge(
        ChargeRequest("po_1", Decimal("12.34"), "USD", "pm_card_visa", "buyer_1", "co_1")
    )

    result = await settle_pending("po_1", uow=store.uow, psp=psp, clock=clock)

    assert result is Execution.SUCCEEDED
    checkout = await get_checkout("co_1", uow=store.uow)
    assert (checkout.orders[0].status, checkout.orders[0].psp_reference) == (
        OrderStatus.SUCCESS,
        paid.psp_reference,
    )
    with pytest.raises(UnknownOrder):
        await settle_pending("po_nope", uow=store.uow, psp=psp, clock=clock)
