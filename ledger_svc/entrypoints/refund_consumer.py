"""The `ledger-refund` consumer: `payment.refund.succeeded` → post the refund's reversal."""

from __future__ import annotations

from collections.abc import Callable

from ledger_svc.domain import InvalidTransaction
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from ledger_svc.service_layer.refunds import REFUND_CONSUMER, PostRefund, post_refund
from mesh.consuming import applying, refund_succeeded
from mesh.events import PAYMENT_REFUND_SUCCEEDED
from mesh.jetstream import ConsumerSpec, Handler
from mesh.retry import RetryPolicy
from paymesh.events.v1 import events_pb2


def refund_consumer_spec(concurrency: int, retry: RetryPolicy = RetryPolicy()) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYMENT",
        durable=REFUND_CONSUMER,
        subject=PAYMENT_REFUND_SUCCEEDED,
        concurrency=concurrency,
        retry=retry,
    )


def to_refund_command(envelope: events_pb2.Envelope) -> PostRefund:
    """The use-case command an envelope asks for; `Poison` when it can never be applied."""
    refund = refund_succeeded(envelope)
    return PostRefund(
        event_id=refund.event_id,
        refund_id=refund.refund_id,
        payment_order_id=refund.payment_order_id,
        seller_account=refund.seller_account,
        amount=refund.amount,
        fee_refunded=refund.fee_refunded,
    )


def refund_handler(uow_factory: Callable[[], LedgerUnitOfWork]) -> Handler:
    """`post_refund` for every envelope; `InvalidTransaction` dead-letters it, anything else is
    retried."""
    return applying(to_refund_command, post_refund, uow_factory, refused=(InvalidTransaction,))
