"""The `wallet-refund` consumer: `payment.refund.succeeded` → debit the seller. A refund that
arrives before its order's credit is retried (with backoff) until the credit is there."""

from __future__ import annotations

from collections.abc import Callable

from mesh.consuming import applying, refund_succeeded
from mesh.events import PAYMENT_REFUND_SUCCEEDED
from mesh.jetstream import ConsumerSpec, Handler
from mesh.retry import RetryPolicy
from wallet_svc.domain import InvalidRefundDebit
from wallet_svc.service_layer.ports import WalletUnitOfWork
from wallet_svc.service_layer.refunds import REFUND_CONSUMER, debit_refund


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


def refund_handler(uow_factory: Callable[[], WalletUnitOfWork]) -> Handler:
    """`debit_refund` for every envelope; `InvalidRefundDebit` dead-letters it, anything else is
    retried.
    A refund before its order's credit (CreditNotYetApplied) is retried until the credit is
    there."""
    return applying(to_refund_command, debit_refund, uow_factory, refused=(InvalidRefundDebit,))
