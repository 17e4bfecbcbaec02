"""The `ledger-post` consumer: `payment.order.succeeded` → post the order's transaction."""

from __future__ import annotations

from collections.abc import Callable

from ledger_svc.domain import InvalidTransaction
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from ledger_svc.service_layer.use_cases import POST_CONSUMER, post_payment_order
from mesh.consuming import applying, order_succeeded
from mesh.events import PAYMENT_ORDER_SUCCEEDED
from mesh.jetstream import ConsumerSpec, Handler
from mesh.retry import RetryPolicy


def consumer_spec(concurrency: int, retry: RetryPolicy = RetryPolicy()) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYMENT",
        durable=POST_CONSUMER,
        subject=PAYMENT_ORDER_SUCCEEDED,
        concurrency=concurrency,
        retry=retry,
    )


# The use-case command an envelope asks for (`Poison` when it can never be applied): the
# succeeded event as every consumer reads it.
to_command = order_succeeded


def post_handler(uow_factory: Callable[[], LedgerUnitOfWork]) -> Handler:
    """`post_payment_order` for every envelope; `InvalidTransaction` dead-letters it,
    anything else is retried."""
    return applying(to_command, post_payment_order, uow_factory, refused=(InvalidTransaction,))
