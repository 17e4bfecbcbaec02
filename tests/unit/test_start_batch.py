"""The executor's batched start (service_layer.start_batch) against the in-memory unit of work:
orders arriving together are started in one transaction, each exactly once, and what the batch
cannot start goes the one-by-one way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from payment_svc.adapters.fake_psp import FakePaymentProvider
from payment_svc.domain.commands import CreatePayment, NewOrder
from payment_svc.domain.order import OrderStatus
from payment_svc.domain.risk import RuleBasedRiskCheck
from payment_svc.service_layer.create_payment import create_payment
from payment_svc.service_layer.execute_order import Execution, execute_order
from payment_svc.service_layer.fake_uow import FakeStore
from payment_svc.service_layer.queries import get_payment_order
from payment_svc.service_layer.start_batch import StartBatch

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


class CountingStore(FakeStore):
    """Counts the transactions begun."""

    def __init__(self) -> None:
        super().__init__()
        self.transactions = 0

    def uow(self):  # type: ignore[no-untyped-def]
        self.transactions += 1
        return super().uow()


async def checkout(store: FakeStore, clock: Clock, order_ids: tuple[str, ...]) -> None:
    cmd = CreatePayment(
        request_id="11111111-1111-4111-8111-111111111111",
        request_hash="body",
        checkout_id="co_1",
        buyer_id="buyer_1",
        payment_method="pm_card_visa",
        orders=tuple(NewOrder(o, f"seller_{o}", Decimal("10.00"), "USD") for o in order_ids),
    )
    await create_payment(
        cmd,
        uow=store.uow,
        risk=RuleBasedRiskCheck(Decimal("10000"), frozenset()),
        fee_rate=Decimal("0.10"),
        render=lambda c: c.checkout_id.encode(),
        clock=clock,
    )


async def test_orders_arriving_together_start_in_one_transaction_and_are_charged_once() -> None:
    store, clock, psp = CountingStore(), Clock(), FakePaymentProvider()
    ids = ("po_1", "po_2", "po_3")
    await checkout(store, clock, ids)
    starts = StartBatch(store.uow, clock)
    store.transactions = 0

    started = await asyncio.gather(*(starts.start(i) for i in ids))

    assert store.transactions == 1
    assert [s.order.status if s else None for s in started] == [OrderStatus.EXECUTING] * 3
    results = await asyncio.gather(
        *(execute_order(i, uow=store.uow, psp=psp, clock=clock, starts=starts) for i in ids)
    )
    # Already EXECUTING from the batch above: each is asked about first, then charged once.
    assert all(r is Execution.SUCCEEDED for r in results)
    assert psp.charges_by_order() == dict.fromkeys(ids, 1)


async def test_a_duplicate_delivery_in_the_same_batch_is_not_started_twice() -> None:
    store, clock, psp = FakeStore(), Clock(), FakePaymentProvider()
    await checkout(store, clock, ("po_1",))
    starts = StartBatch(store.uow, clock)

    results = await asyncio.gather(
        execute_order("po_1", uow=store.uow, psp=psp, clock=clock, starts=starts),
        execute_order("po_1", uow=store.uow, psp=psp, clock=clock, starts=starts),
    )

    assert psp.charges_by_order() == {"po_1": 1}
    assert Execution.SUCCEEDED in results
    order = await get_payment_order("po_1", uow=store.uow)
    assert [c.to_status for c in order.history].count(OrderStatus.EXECUTING) == 1


async def test_an_order_past_not_started_is_handed_back() -> None:
    store, clock, psp = FakeStore(), Clock(), FakePaymentProvider()
    await checkout(store, clock, ("po_1",))
    starts = StartBatch(store.uow, clock)
    assert await execute_order("po_1", uow=store.uow, psp=psp, clock=clock) is Execution.SUCCEEDED

    assert await starts.start("po_1") is None
    assert (
        await execute_order("po_1", uow=store.uow, psp=psp, clock=clock, starts=starts)
        is Execution.NOTHING_TO_DO
    )
    assert psp.charges_by_order() == {"po_1": 1}
