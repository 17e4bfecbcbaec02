"""Reading an incoming envelope in a consumer's handler: what a message can never get past
raises `Poison` (mesh.jetstream dead-letters it at once instead of retrying it). What a handler
raises otherwise is retried: for as long as it takes when a dependency is out of reach
(mesh.transient), a bounded number of times when not (the service's retry policy)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from mesh.events import PAYMENT_ORDER_SUCCEEDED, PAYMENT_REFUND_SUCCEEDED, M, unpack
from mesh.jetstream import Handler, Poison
from mesh.money import InvalidMoney, Money, parse_amount
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2

C = TypeVar("C")  # a use case's command
U = TypeVar("U")  # a service's unit of work


def event_id(envelope: events_pb2.Envelope) -> str:
    """The envelope's event id, which the inbox keys on, in canonical form: a UUID, or the
    message is poison."""
    try:
        return str(uuid.UUID(envelope.event_id))
    except ValueError:
        raise Poison(f"event_id {envelope.event_id!r} is not a UUID") from None


def open_envelope(envelope: events_pb2.Envelope, event_type: str, cls: type[M]) -> M:
    """The payload of an envelope that must be an `event_type` event with a UUID event id and a
    `cls` payload; `Poison` when it is not (wrong type, bad id, wrong or undecodable payload)."""
    if envelope.event_type != event_type:
        raise Poison(f"unexpected event type {envelope.event_type!r}")
    event_id(envelope)
    try:
        return unpack(envelope, cls)
    except Exception as err:  # wrong payload type or undecodable bytes
        raise Poison(str(err)) from None


def money(field: str, value: money_pb2.Money, *, allow_zero: bool) -> Money:
    """An amount of an event as `Money`; `Poison` naming `field` when it is not valid money."""
    try:
        return Money(
            parse_amount(value.amount, value.currency, allow_zero=allow_zero), value.currency
        )
    except InvalidMoney as err:
        raise Poison(f"{field}: {err}") from None


@dataclass(frozen=True)
class OrderSucceeded:
    """A `payment.order.succeeded` event as its consumers read it. `event_id` is the envelope's,
    as sent; `gross` is positive, `fee` may be zero (the rules between them are each
    consumer's domain's)."""

    event_id: str
    payment_order_id: str
    seller_account: str
    gross: Money
    fee: Money


def order_succeeded(envelope: events_pb2.Envelope) -> OrderSucceeded:
    """Read a `payment.order.succeeded` envelope; `Poison` when it can never be applied."""
    event = open_envelope(envelope, PAYMENT_ORDER_SUCCEEDED, events_pb2.PaymentOrderSucceeded)
    if not event.HasField("amount") or not event.HasField("fee"):
        raise Poison("amount and fee are required")
    return OrderSucceeded(
        event_id=envelope.event_id,
        payment_order_id=event.payment_order_id,
        seller_account=event.seller_account,
        gross=money("amount", event.amount, allow_zero=False),
        fee=money("fee", event.fee, allow_zero=True),
    )


@dataclass(frozen=True)
class RefundSucceeded:
    """A `payment.refund.succeeded` event as its consumers read it: `amount` is positive and
    `fee_refunded` (possibly zero) is in its currency; the seller gives back
    amount - fee_refunded. `event_id` is the envelope's, as sent."""

    event_id: str
    refund_id: str
    payment_order_id: str
    seller_account: str
    amount: Money
    fee_refunded: Money


def refund_succeeded(envelope: events_pb2.Envelope) -> RefundSucceeded:
    """Read a `payment.refund.succeeded` envelope; `Poison` when it can never be applied."""
    event = open_envelope(envelope, PAYMENT_REFUND_SUCCEEDED, events_pb2.PaymentRefundSucceeded)
    if not event.refund_id or not event.payment_order_id:
        raise Poison("refund_id and payment_order_id are required")
    if not event.HasField("amount") or not event.HasField("fee_refunded"):
        raise Poison("amount and fee_refunded are required")
    amount = money("amount", event.amount, allow_zero=False)
    fee = money("fee_refunded", event.fee_refunded, allow_zero=True)
    if fee.currency != amount.currency or fee.amount > amount.amount:
        raise Poison(f"fee_refunded {fee} does not fit amount {amount}")
    return RefundSucceeded(
        event_id=envelope.event_id,
        refund_id=event.refund_id,
        payment_order_id=event.payment_order_id,
        seller_account=event.seller_account,
        amount=amount,
        fee_refunded=fee,
    )


def applying(
    to_command: Callable[[events_pb2.Envelope], C],
    use_case: Callable[[U, C], Awaitable[object]],
    new_uow: Callable[[], U],
    refused: tuple[type[Exception], ...],
) -> Handler:
    """The JetStream handler of a consumer that reads an envelope into its use case's command
    and applies it in a new unit of work. `Poison` (dead-letter) when the envelope or the
    use case says it can never be applied (`refused`); anything else is retried (an outage of
    the database without counting, see mesh.transient)."""

    async def handle(envelope: events_pb2.Envelope) -> None:
        command = to_command(envelope)
        try:
            await use_case(new_uow(), command)
        except refused as err:
            raise Poison(str(err)) from err

    return handle
