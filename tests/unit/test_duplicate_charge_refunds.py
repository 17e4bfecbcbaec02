"""A duplicate charge given back by the payment service: which charge may be (the rules) and
the use case against the in-memory unit of work and a fake PSP: only a second charge of a
SUCCESS order, in full, once, and nothing of the order changes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mesh.errors import Code, ServiceError
from payment_svc.domain.duplicate_charges import ChargeAtPsp, NotADuplicate, check_duplicate
from payment_svc.domain.order import OrderStatus, PaymentOrder
from payment_svc.domain.psp import PspRejected
from payment_svc.service_layer.duplicate_charges import refund_duplicate_charge
from payment_svc.service_layer.fake_charge_refunds import FakeChargeRefunds
from payment_svc.service_layer.fake_uow import FakeStore

pytestmark = pytest.mark.unit

D = Decimal
NOW = datetime(2026, 12, 2, tzinfo=UTC)
KEY = "00000000-0000-4000-8000-000000000001"


def order(status: OrderStatus = OrderStatus.SUCCESS) -> PaymentOrder:
    return PaymentOrder(
        "po-1", "co-1", "seller-1", D("25.00"), "USD", D("2.50"), NOW, NOW,
        status=status, psp_reference="pi_1",
    )  # fmt: skip


def charge(charge_id: str, intent: str = "pi_1", order_id: str = "po-1") -> ChargeAtPsp:
    return ChargeAtPsp(charge_id, intent, order_id, D("25.00"), D(0), "USD", True)


def stored(store: FakeStore) -> FakeStore:
    store.state.orders["po-1"] = order()
    store.state.history["po-1"] = []
    return store


def test_only_a_second_charge_of_a_paid_order_is_a_duplicate() -> None:
    check_duplicate(order(), charge("ch_2"), settled_charge_id="ch_1")
    # A second PaymentIntent for the same order (metadata) is a duplicate too.
    check_duplicate(order(), charge("ch_3", intent="pi_9"), settled_charge_id="ch_1")
    refusals = [
        (order(), charge("ch_1"), "ch_1"),  # the order's own charge
        (order(OrderStatus.FAILED), charge("ch_2"), "ch_1"),  # no good charge to keep
        (order(), charge("ch_2", intent="pi_9", order_id="po-9"), "ch_1"),  # another order's
    ]
    for o, c, settled in refusals:
        with pytest.raises(NotADuplicate) as refused:
            check_duplicate(o, c, settled)
        assert refused.value.reason == "NOT_A_DUPLICATE_CHARGE"


async def test_the_duplicate_is_refunded_in_full_once_and_the_order_is_left_alone() -> None:
    store = stored(FakeStore())
    psp = FakeChargeRefunds(
        charges={"ch_1": charge("ch_1"), "ch_2": charge("ch_2")}, settled={"pi_1": "ch_1"}
    )
    first = await refund_duplicate_charge(KEY, "po-1", "ch_2", uow=store.uow, psp=psp)
    assert (first.charge_id, first.refund.amount, first.refund.currency) == (
        "ch_2",
        D("25.00"),
        "USD",
    )
    # Asked again, under the same key or another (past the PSP's idempotency window): the
    # same refund, nothing more given back.
    again = await refund_duplicate_charge(KEY, "po-1", "ch_2", uow=store.uow, psp=psp)
    other = await refund_duplicate_charge(
        "00000000-0000-4000-8000-000000000002", "po-1", "ch_2", uow=store.uow, psp=psp
    )
    assert again.refund == other.refund == first.refund
    assert list(psp.refunds) == ["ch_2"] and len(psp.refunds["ch_2"]) == 1
    assert psp.charges["ch_1"].amount_refunded == 0
    assert store.state.orders["po-1"].status is OrderStatus.SUCCESS
    assert store.state.refunds == {} and store.outbox == []


async def test_the_orders_own_charge_or_an_unknown_one_is_refused() -> None:
    store = stored(FakeStore())
    psp = FakeChargeRefunds(charges={"ch_1": charge("ch_1")}, settled={"pi_1": "ch_1"})
    with pytest.raises(ServiceError) as own:
        await refund_duplicate_charge(KEY, "po-1", "ch_1", uow=store.uow, psp=psp)
    assert (own.value.code, own.value.reason) == (
        Code.FAILED_PRECONDITION,
        "NOT_A_DUPLICATE_CHARGE",
    )
    with pytest.raises(ServiceError) as unknown:
        await refund_duplicate_charge(KEY, "po-1", "ch_9", uow=store.uow, psp=psp)
    assert unknown.value.code is Code.NOT_FOUND
    with pytest.raises(ServiceError) as no_order:
        await refund_duplicate_charge(KEY, "po-9", "ch_1", uow=store.uow, psp=psp)
    assert no_order.value.code is Code.NOT_FOUND
    assert psp.refunds == {}


async def test_a_refund_the_psp_refuses_is_a_clear_refusal() -> None:
    store = stored(FakeStore())

    class Refusing(FakeChargeRefunds):
        async def refund_charge(self, charge, amount, idempotency_key):  # type: ignore[no-untyped-def]
            raise PspRejected("charge_already_refunded")

    psp = Refusing(charges={"ch_2": charge("ch_2")}, settled={"pi_1": "ch_1"})
    with pytest.raises(ServiceError) as refused:
        await refund_duplicate_charge(KEY, "po-1", "ch_2", uow=store.uow, psp=psp)
    assert (refused.value.code, refused.value.reason) == (
        Code.FAILED_PRECONDITION,
        "PSP_REJECTED",
    )
