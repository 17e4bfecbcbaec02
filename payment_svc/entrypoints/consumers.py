"""The JetStream consumers of the payment service: the executor (payment.order.created) and the
two flag consumers (wallet.credited, ledger.posted, batched: mesh.consuming.Applier). Each maps
an envelope to a use case; failures the message can never recover from become Poison
(dead-letter stream), anything else is retried with backoff by mesh.jetstream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mesh.consuming import Applier, event_id
from mesh.events import LEDGER_POSTED, PAYMENT_ORDER_CREATED, WALLET_CREDITED, M, unpack
from mesh.jetstream import ConsumerSpec, Poison
from mesh.retry import RetryPolicy
from payment_svc.domain.psp import PaymentProvider, PspUnavailable
from payment_svc.service_layer.execute_order import execute_order
from payment_svc.service_layer.flags import FlagRefused, MarkFlag, apply_flag, lock_checkouts
from payment_svc.service_layer.ports import (
    Clock,
    Flag,
    UnitOfWork,
    UnitOfWorkFactory,
    UnknownOrder,
)
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


class FlagNotApplicable(Exception):
    """A flag event that can never apply (an unknown order, an order that did not succeed):
    dead-lettered at once (mesh.consuming.Applier's `refused`)."""


def _wallet_credited(env: events_pb2.Envelope) -> MarkFlag:
    credited = _payload(env, events_pb2.WalletCredited)
    return MarkFlag(credited.payment_order_id, Flag.WALLET_UPDATED, event_id(env), WALLET_FLAG)


def _ledger_posted(env: events_pb2.Envelope) -> MarkFlag:
    posted = _payload(env, events_pb2.LedgerPosted)
    return MarkFlag(posted.payment_order_id, Flag.LEDGER_UPDATED, event_id(env), LEDGER_FLAG)


def _apply_or_refuse(subject: str) -> Callable[[UnitOfWork, MarkFlag], Awaitable[bool]]:
    async def apply(tx: UnitOfWork, cmd: MarkFlag) -> bool:
        try:
            return await apply_flag(tx, cmd)
        except (UnknownOrder, FlagRefused) as err:
            raise FlagNotApplicable(f"{subject} not applicable: {err}") from err

    return apply


def _flag_handler(
    to_command: Callable[[events_pb2.Envelope], MarkFlag], subject: str, uow: UnitOfWorkFactory
) -> Applier[MarkFlag, UnitOfWork, bool]:
    """The flag consumers, batched as every consumer of the mesh (mesh.consuming.Applier): up
    to PAYMENT_CONSUMER_BATCH_SIZE events in one transaction, one inbox claim, every checkout
    of the batch locked once in checkout id order (`lock_checkouts`), and one by one when the
    batch fails, where an unknown order or an order that did not succeed is poison."""
    return Applier(
        to_command,
        _apply_or_refuse(subject),
        uow,
        refused=(FlagNotApplicable,),
        prepare=lock_checkouts,
    )


def wallet_flag_handler(uow: UnitOfWorkFactory) -> Applier[MarkFlag, UnitOfWork, bool]:
    """`wallet.credited` → the order's wallet_updated flag."""
    return _flag_handler(_wallet_credited, WALLET_CREDITED, uow)


def ledger_flag_handler(uow: UnitOfWorkFactory) -> Applier[MarkFlag, UnitOfWork, bool]:
    """`ledger.posted` → the order's ledger_updated flag."""
    return _flag_handler(_ledger_posted, LEDGER_POSTED, uow)
