"""The JetStream consumers of the payment service: the executor (payment.order.created) and the
two flag consumers (wallet.credited, ledger.posted). Each maps an envelope to a use case;
failures the message can never recover from become Poison (dead-letter stream), anything else
is retried with backoff by mesh.jetstream."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.consuming import event_id
from mesh.events import LEDGER_POSTED, PAYMENT_ORDER_CREATED, WALLET_CREDITED, M, unpack
from mesh.jetstream import ConsumerSpec, Poison
from mesh.retry import RetryPolicy
from payment_svc.domain.psp import PaymentProvider
from payment_svc.service_layer.execute_order import execute_order
from payment_svc.service_layer.flags import FlagRefused, mark_ledger_updated, mark_wallet_updated
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory, UnknownOrder
from paymesh.events.v1 import events_pb2

EXECUTOR = "payment-executor"
WALLET_FLAG = "payment-wallet-flag"
LEDGER_FLAG = "payment-ledger-flag"


def executor_spec(concurrency: int, retry: RetryPolicy = RetryPolicy()) -> ConsumerSpec:
    return ConsumerSpec(
        stream="PAYMENT",
        durable=EXECUTOR,
        subject=PAYMENT_ORDER_CREATED,
        concurrency=concurrency,
        retry=retry,
    )


def wallet_flag_spec(concurrency: int, retry: RetryPolicy = RetryPolicy()) -> ConsumerSpec:
    return ConsumerSpec(
        stream="WALLET",
        durable=WALLET_FLAG,
        subject=WALLET_CREDITED,
        concurrency=concurrency,
        retry=retry,
    )


def ledger_flag_spec(concurrency: int, retry: RetryPolicy = RetryPolicy()) -> ConsumerSpec:
    return ConsumerSpec(
        stream="LEDGER",
        durable=LEDGER_FLAG,
        subject=LEDGER_POSTED,
        concurrency=concurrency,
        retry=retry,
    )


def _payload(env: events_pb2.Envelope, cls: type[M]) -> M:
    # Only a payload of the wrong type is poison here; undecodable bytes are retried (unlike
    # mesh.consuming.open_envelope, which dead-letters both).
    try:
        return unpack(env, cls)
    except ValueError as err:
        raise Poison(str(err)) from err


@dataclass
class ExecutorHandler:
    uow: UnitOfWorkFactory
    psp: PaymentProvider
    clock: Clock

    async def __call__(self, env: events_pb2.Envelope) -> None:
        created = _payload(env, events_pb2.PaymentOrderCreated)
        try:
            await execute_order(
                created.payment_order_id, uow=self.uow, psp=self.psp, clock=self.clock
            )
        except UnknownOrder as err:
            raise Poison(f"unknown payment order {err}") from err
        # PspUnavailable and StoreUnavailable (mesh.retry.Transient) propagate: retried with
        # backoff for as long as the outage lasts, never dead-lettered; same PSP key next time.


@dataclass
class WalletFlagHandler:
    uow: UnitOfWorkFactory

    async def __call__(self, env: events_pb2.Envelope) -> None:
        credited = _payload(env, events_pb2.WalletCredited)
        try:
            await mark_wallet_updated(
                credited.payment_order_id,
                event_id=event_id(env),
                consumer=WALLET_FLAG,
                uow=self.uow,
            )
        except (UnknownOrder, FlagRefused) as err:
            raise Poison(f"wallet.credited not applicable: {err}") from err


@dataclass
class LedgerFlagHandler:
    uow: UnitOfWorkFactory

    async def __call__(self, env: events_pb2.Envelope) -> None:
        posted = _payload(env, events_pb2.LedgerPosted)
        try:
            await mark_ledger_updated(
                posted.payment_order_id, event_id=event_id(env), consumer=LEDGER_FLAG, uow=self.uow
            )
        except (UnknownOrder, FlagRefused) as err:
            raise Poison(f"ledger.posted not applicable: {err}") from err
