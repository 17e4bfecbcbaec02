"""The `ledger-refund` consumer: `payment.refund.succeeded` → post the refund's reversal."""

from __future__ import annotations

from collections.abc import Callable

from ledger_svc.domain import InvalidTransaction
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from ledger_svc.service_layer.refunds import REFUND_CONSUMER, post_refund
from mesh.consuming import applying, refund_succeeded
from mesh.events import PAYMENT_REFUND_SUCCEEDED
from mesh.jetstream import ConsumerSpec, Handler
from mesh.retry import RetryPolicy


def refund_consumer_spec(concurrency: int, retry: RetryPolicy = RetryPolicy()) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYMENT",
        durable=REFUND_CONSUMER,
        subject=PAYMENT_REFUND_SUCCEEDED,
        concurrency=concurrency,
        retry=retry,
    )


# The use-case command an envelope asks for (`Poison` when it can never be applied): the
# succeeded event as every consumer reads it.
to_refund_command = refund_succeeded


def refund_handler(uow_factory: Callable[[], LedgerUnitOfWork]) -> Handler:
    """`post_refund` for every envelope; `InvalidTransaction` dead-letters it, anything else is
    retried."""
    return applying(to_refund_command, post_refund, uow_factory, refused=(InvalidTransaction,))
