"""The `ledger-post` consumer: `payment.order.succeeded` → post the order's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from ledger_svc.domain import InvalidTransaction
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from ledger_svc.service_layer.use_cases import POST_CONSUMER, PostPaymentOrder, post_payment_order
from mesh.events import PAYMENT_ORDER_SUCCEEDED, unpack
from mesh.jetstream import ConsumerSpec, Handler, Poison
from mesh.money import InvalidMoney, Money, parse_amount
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2


def consumer_spec(concurrency: int) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYMENT",
        durable=POST_CONSUMER,
        subject=PAYMENT_ORDER_SUCCEEDED,
        concurrency=concurrency,
    )


def _money(field: str, money: money_pb2.Money, *, allow_zero: bool) -> Money:
    try:
        return Money(
            parse_amount(money.amount, money.currency, allow_zero=allow_zero), money.currency
        )
    except InvalidMoney as err:
        raise Poison(f"{field}: {err}") from None


def to_command(envelope: events_pb2.Envelope) -> PostPaymentOrder:
    """The use-case command an envelope asks for; `Poison` when it can never be applied."""
    if envelope.event_type != PAYMENT_ORDER_SUCCEEDED:
        raise Poison(f"unexpected event type {envelope.event_type!r}")
    try:
        uuid.UUID(envelope.event_id)
    except ValueError:
        raise Poison(f"event_id {envelope.event_id!r} is not a UUID") from None
    try:
        event = unpack(envelope, events_pb2.PaymentOrderSucceeded)
    except Exception as err:  # wrong payload type or undecodable bytes
        raise Poison(str(err)) from None
    if not event.HasField("amount") or not event.HasField("fee"):
        raise Poison("amount and fee are required")
    return PostPaymentOrder(
        event_id=envelope.event_id,
        payment_order_id=event.payment_order_id,
        seller_account=event.seller_account,
        gross=_money("amount", event.amount, allow_zero=False),
        fee=_money("fee", event.fee, allow_zero=True),
    )


def post_handler(uow_factory: Callable[[], LedgerUnitOfWork]) -> Handler:
    async def handle(envelope: events_pb2.Envelope) -> None:
        command = to_command(envelope)
        try:
            await post_payment_order(uow_factory(), command)
        except InvalidTransaction as err:
            raise Poison(str(err)) from err

    return handle
