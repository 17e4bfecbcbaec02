"""How a consumer reads a money event (mesh.consuming), at the edges mutation testing found
unguarded: a zero fee and a fee of the whole amount are valid, one missing id is enough to
refuse, and every field reaches the consumer (docs/mutation-testing.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mesh.consuming import applying, event_id, order_succeeded, refund_succeeded
from mesh.events import PAYMENT_ORDER_SUCCEEDED, PAYMENT_REFUND_SUCCEEDED, new_envelope
from mesh.jetstream import Poison
from mesh.money import Money
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2

EVENT_ID = "6F9619FF-8B86-4011-B42D-00C04FC964FF"


def usd(amount: str) -> money_pb2.Money:
    return money_pb2.Money(amount=amount, currency="USD")


def order_event(amount: str = "10.00", fee: str | None = "1.00") -> events_pb2.Envelope:
    payload = events_pb2.PaymentOrderSucceeded(
        payment_order_id="po-1", seller_account="seller-1", amount=usd(amount)
    )
    if fee is not None:
        payload.fee.CopyFrom(usd(fee))
    return new_envelope(PAYMENT_ORDER_SUCCEEDED, "po-1", payload, event_id=EVENT_ID)


def refund_event(
    amount: str = "10.00", fee: str = "1.00", refund_id: str = "rf-1", order_id: str = "po-1"
) -> events_pb2.Envelope:
    payload = events_pb2.PaymentRefundSucceeded(
        refund_id=refund_id,
        payment_order_id=order_id,
        seller_account="seller-1",
        amount=usd(amount),
        fee_refunded=usd(fee),
    )
    return new_envelope(PAYMENT_REFUND_SUCCEEDED, order_id, payload, event_id=EVENT_ID)


def test_the_event_id_is_the_canonical_uuid() -> None:
    assert event_id(order_event()) == EVENT_ID.lower()


def test_an_order_event_reaches_the_consumer_whole_and_a_zero_fee_is_valid() -> None:
    read = order_succeeded(order_event("10.00", "0.00"))
    assert (read.event_id, read.payment_order_id, read.seller_account) == (
        EVENT_ID,
        "po-1",
        "seller-1",
    )
    assert (read.gross, read.fee) == (Money(Decimal("10.00"), "USD"), Money(Decimal("0"), "USD"))


def test_an_order_event_without_its_fee_or_with_zero_gross_is_poison() -> None:
    with pytest.raises(Poison, match="amount and fee are required"):
        order_succeeded(order_event(fee=None))
    with pytest.raises(Poison, match="amount"):
        order_succeeded(order_event("0.00", "0.00"))


def test_a_refund_event_reaches_the_consumer_whole() -> None:
    read = refund_succeeded(refund_event("10.00", "1.00"))
    assert (read.event_id, read.refund_id, read.payment_order_id, read.seller_account) == (
        EVENT_ID,
        "rf-1",
        "po-1",
        "seller-1",
    )
    assert (read.amount, read.fee_refunded) == (
        Money(Decimal("10.00"), "USD"),
        Money(Decimal("1.00"), "USD"),
    )


@pytest.mark.parametrize("fee", ["0.00", "10.00"])
def test_a_refund_fee_of_nothing_or_of_everything_is_valid(fee: str) -> None:
    assert refund_succeeded(refund_event("10.00", fee)).fee_refunded.amount == Decimal(fee)


def test_a_refund_event_missing_one_id_or_with_too_much_fee_is_poison() -> None:
    for refund_id, order_id in (("", "po-1"), ("rf-1", "")):
        with pytest.raises(Poison, match="refund_id and payment_order_id are required"):
            refund_succeeded(refund_event(refund_id=refund_id, order_id=order_id))
    with pytest.raises(Poison, match="does not fit"):
        refund_succeeded(refund_event("10.00", "10.01"))


async def test_a_refusal_of_the_use_case_is_poison_that_says_why() -> None:
    class Refused(Exception):
        pass

    async def use_case(uow: object, cmd: object) -> None:
        raise Refused("seller-1 has no such order")

    handle = applying(order_succeeded, use_case, lambda: None, (Refused,))
    with pytest.raises(Poison, match="seller-1 has no such order") as info:
        await handle(order_event())
    assert isinstance(info.value.__cause__, Refused)
