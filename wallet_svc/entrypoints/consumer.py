"""The `wallet-credit` consumer: `payment.order.succeeded` → credit the seller."""

from __future__ import annotations

from collections.abc import Callable

from mesh.consuming import applying, order_succeeded
from mesh.events import PAYMENT_ORDER_SUCCEEDED
from mesh.jetstream import ConsumerSpec, Handler
from mesh.retry import RetryPolicy
from wallet_svc.domain import InvalidCredit
from wallet_svc.service_layer.ports import WalletUnitOfWork
from wallet_svc.service_layer.use_cases import CREDIT_CONSUMER, credit_seller


def consumer_spec(concurrency: int, retry: RetryPolicy = RetryPolicy()) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYMENT",
        durable=CREDIT_CONSUMER,
        subject=PAYMENT_ORDER_SUCCEEDED,
        concurrency=concurrency,
        retry=retry,
    )


# The use-case command an envelope asks for (`Poison` when it can never be applied): the
# succeeded event as every consumer reads it.
to_command = order_succeeded


def credit_handler(uow_factory: Callable[[], WalletUnitOfWork]) -> Handler:
    """`credit_seller` for every envelope; `InvalidCredit` dead-letters it, anything else is
    retried."""
    return applying(to_command, credit_seller, uow_factory, refused=(InvalidCredit,))
