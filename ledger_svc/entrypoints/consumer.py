"""The `ledger-post` consumer: `payment.order.succeeded` → post the order's transaction."""

from __future__ import annotations

from collections.abc import Callable

from ledger_svc.domain import InvalidTransaction
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from ledger_svc.service_layer.use_cases import POST_CONSUMER, PostPaymentOrder, post_payment_order
from mesh.consuming import applying, order_succeeded
from mesh.events import PAYMENT_ORDER_SUCCEEDED
from mesh.jetstream import ConsumerSpec, Handler
from mesh.retry import RetryPolicy
from paymesh.events.v1 import events_pb2


def consumer_spec(concurrency: int, retry: RetryPolicy = RetryPolicy()) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYMENT",
        durable=POST_CONSUMER,
        subject=PAYMENT_ORDER_SUCCEEDED,
        concurrency=concurrency,
        retry=retry,
    )


def to_command(envelope: events_pb2.Envelope) -> PostPaymentOrder:
    """The use-case command an envelope asks for; `Poison` when it can never be applied."""
    order = order_succeeded(envelope)
    return PostPaymentOrder(
        event_id=order.event_id,
        payment_order_id=order.payment_order_id,
        seller_account=order.seller_account,
        gross=order.gross,
        fee=order.fee,
    )


def post_handler(uow_factory: Callable[[], LedgerUnitOfWork]) -> Handler:
    """`post_payment_order` for every envelope; `InvalidTransaction` dead-letters it,
    anything else is retried."""
    return applying(to_command, post_payment_order, uow_factory, refused=(InvalidTransaction,))
