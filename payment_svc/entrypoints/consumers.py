"""The JetStream consumers of the payment service: the executor (payment.order.created) and the
two flag consumers (wallet.credited, ledger.posted). Each maps an envelope to a use case;
failures the message can never recover from become Poison (dead-letter stream), anything else
is retried with backoff by mesh.jetstream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mesh.consuming import event_id
from mesh.events import LEDGER_POSTED, PAYMENT_ORDER_CREATED, WALLET_CREDITED, M, unpack
from mesh.jetstream import ConsumerSpec, Poison
from mesh.retry import RetryPolicy
from payment_svc.domain.psp import PaymentProvider, PspUnavailable
from payment_svc.service_layer.execute_order import execute_order
from payment_svc.service_layer.flags import FlagRefused, mark_ledger_updated, mark_wallet_updated
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory, UnknownOrder
from payment_svc.service_layer.retry_state import note_retry
from payment_svc.service_layer.start_batch import StartBatch
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


def _always_open() -> None:
    """No circuit breaker in front of the PSP: every try is made."""


@dataclass
class ExecutorHandler:
    uow: UnitOfWorkFactory
    psp: PaymentProvider
    clock: Clock
    # Raises CircuitOpen when the PSP's breaker would refuse a call now: the order is left
    # as it is (no attempt counted) and waits in the queue for the breaker's open time.
    gate: Callable[[], None] = _always_open
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # NOT_STARTED → EXECUTING for the orders arriving together, in one statement.
    starts: StartBatch = field(init=False)

    def __post_init__(self) -> None:
        self.starts = StartBatch(self.uow, self.clock)

    async def __call__(self, env: events_pb2.Envelope) -> None:
        created = _payload(env, events_pb2.PaymentOrderCreated)
        order_id = created.payment_order_id
        try:
            self.gate()
            await execute_order(
                order_id, uow=self.uow, psp=self.psp, clock=self.clock, starts=self.starts
            )
        except UnknownOrder as err:
            raise Poison(f"unknown payment order {err}") from err
        except PspUnavailable as err:
            # Transient: retried with backoff (or after the wait the PSP or the breaker asked
            # for) for as long as the outage lasts, never dead-lettered; same PSP key next
            # time. The order shows why it waits and until when.
            waiting = await note_retry(
                order_id, err, uow=self.uow, clock=self.clock, retry=self.retry
            )
            if waiting is err:
                raise
            raise waiting from err
        # StoreUnavailable (mesh.retry.Transient) propagates: retried the same way.


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
