"""payment_svc's SettlePaymentOrder use case, reconciliation's class-1 fix: an order whose answer
was lost is settled from the PSP's record of it, never charged a second time; a settled order
is left as it is; an unknown one is NOT_FOUND."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mesh.errors import Code, ServiceError
from payment_svc.adapters.fake_psp import FakePaymentProvider
from payment_svc.domain.checkout import Checkout
from payment_svc.domain.commands import CreatePayment, NewOrder
from payment_svc.domain.order import OrderStatus
from payment_svc.domain.psp import PspUnavailable
from payment_svc.domain.risk import RuleBasedRiskCheck
from payment_svc.service_layer.create_payment import create_payment
from payment_svc.service_layer.execute_order import execute_order
from payment_svc.service_layer.fake_uow import FakeStore
from payment_svc.service_layer.settle_from_psp import settle_order_from_psp

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def render(checkout: Checkout) -> bytes:
    return json.dumps({"checkout_id": checkout.checkout_id}).encode()


async def one_order(store: FakeStore, clock: Clock) -> None:
    await create_payment(
        CreatePayment(
            request_id="11111111-1111-4111-8111-111111111111",
            request_hash="co_1",
            checkout_id="co_1",
            buyer_id="buyer_1",
            payment_method="pm_card_visa",
            orders=(NewOrder("po_1", "seller_1", Decimal("12.34"), "USD"),),
            buyer_email="",
            buyer_name="",
        ),
        uow=store.uow,
        risk=RuleBasedRiskCheck(Decimal("10000"), frozenset()),
        fee_rate=Decimal("0.10"),
        render=render,
        clock=clock,
    )


async def test_an_order_whose_answer_was_lost_is_settled_from_the_psp_once() -> None:
    store, clock, psp = FakeStore(), Clock(), FakePaymentProvider()
    await one_order(store, clock)
    psp.lose_next_answers(1)
    with pytest.raises(PspUnavailable):  # the PSP charged; paymesh never heard
        await execute_order("po_1", uow=store.uow, psp=psp, clock=clock)

    status = await settle_order_from_psp("po_1", uow=store.uow, psp=psp, clock=clock)

    assert status is OrderStatus.SUCCESS
    assert psp.charges_by_order() == {"po_1": 1} and psp.lookups == 1
    again = await settle_order_from_psp("po_1", uow=store.uow, psp=psp, clock=clock)
    assert again is OrderStatus.SUCCESS and psp.charges_by_order() == {"po_1": 1}


async def test_an_unknown_order_is_not_found() -> None:
    store, clock, psp = FakeStore(), Clock(), FakePaymentProvider()
    with pytest.raises(ServiceError) as err:
        await settle_order_from_psp("po_nope", uow=store.uow, psp=psp, clock=clock)
    assert err.value.code is Code.NOT_FOUND
