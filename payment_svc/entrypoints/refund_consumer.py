"""The refund executor: a JetStream consumer of `payment.refund.created` that refunds at the
PSP. An unknown refund is poison (dead-letter stream); anything else that fails (the PSP
unavailable, the database gone) is retried with backoff by mesh.jetstream, under the same PSP
idempotency key."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.consuming import open_envelope
from mesh.events import PAYMENT_REFUND_CREATED
from mesh.jetstream import ConsumerSpec, Poison
from mesh.retry import RetryPolicy
from payment_svc.domain.psp_refunds import RefundProvider
from payment_svc.service_layer.execute_refund import UnknownRefund, execute_refund
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory
from paymesh.events.v1 import events_pb2

REFUND_EXECUTOR = "payment-refund-executor"


def refund_executor_spec(concurrency: int, retry: RetryPolicy = RetryPolicy()) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYMENT",
        durable=REFUND_EXECUTOR,
        subject=PAYMENT_REFUND_CREATED,
        concurrency=concurrency,
        retry=retry,
    )


@dataclass
class RefundExecutorHandler:
    uow: UnitOfWorkFactory
    psp: RefundProvider
    clock: Clock

    async def __call__(self, env: events_pb2.Envelope) -> None:
        created = open_envelope(env, PAYMENT_REFUND_CREATED, events_pb2.PaymentRefundCreated)
        try:
            await execute_refund(created.refund_id, uow=self.uow, psp=self.psp, clock=self.clock)
        except UnknownRefund as err:
            raise Poison(f"unknown refund {err}") from err
