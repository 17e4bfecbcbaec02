"""Reading an incoming envelope in a consumer's handler: what a message can never get past
raises `Poison` (mesh.jetstream dead-letters it at once instead of retrying it). What a handler
raises otherwise is retried: for as long as it takes when a dependency is out of reach
(mesh.transient), a bounded number of times when not (the service's retry policy)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from mesh.events import PAYMENT_ORDER_SUCCEEDED, PAYMENT_REFUND_SUCCEEDED, M, unpack
from mesh.jetstream import Poison
from mesh.money import InvalidMoney, Money, parse_amount
from mesh.payment_events import OrderSucceeded, RefundSucceeded
from mesh.uow import BatchingUnitOfWork
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2

C = TypeVar("C")  # a use case's command
U = TypeVar("U")  # a service's unit of work
R = TypeVar("R")  # what a use case returns


def event_id(envelope: events_pb2.Envelope) -> str:
    """The envelope's event id, which the inbox keys on, in canonical form: a UUID, or the
    message is poison."""
    try:
        return str(uuid.UUID(envelope.event_id))
    except ValueError:
        raise Poison(f"event_id {envelope.event_id!r} is not a UUID") from None


def open_envelope(envelope: events_pb2.Envelope, event_type: str, cls: type[M]) -> M:
    """The payload of an envelope that must be an `event_type` event with a UUID event id and a
    `cls` payload; `Poison` when it is not (wrong type, bad id, wrong or undecodable payload)."""
    if envelope.event_type != event_type:
        raise Poison(f"unexpected event type {envelope.event_type!r}")
    event_id(envelope)
    try:
        return unpack(envelope, cls)
    except Exception as err:  # wrong payload type or undecodable bytes
        raise Poison(str(err)) from None


def money(field: str, value: money_pb2.Money, *, allow_zero: bool) -> Money:
    """An amount of an event as `Money`; `Poison` naming `field` when it is not valid money."""
    try:
        return Money(
            parse_amount(value.amount, value.currency, allow_zero=allow_zero), value.currency
        )
    except InvalidMoney as err:
        raise Poison(f"{field}: {err}") from None


def order_succeeded(envelope: events_pb2.Envelope) -> OrderSucceeded:
    """Read a `payment.order.succeeded` envelope; `Poison` when it can never be applied."""
    event = open_envelope(envelope, PAYMENT_ORDER_SUCCEEDED, events_pb2.PaymentOrderSucceeded)
    if not event.HasField("amount") or not event.HasField("fee"):
        raise Poison("amount and fee are required")
    return OrderSucceeded(
        event_id=envelope.event_id,
        payment_order_id=event.payment_order_id,
        seller_account=event.seller_account,
        gross=money("amount", event.amount, allow_zero=False),
        fee=money("fee", event.fee, allow_zero=True),
    )


def refund_succeeded(envelope: events_pb2.Envelope) -> RefundSucceeded:
    """Read a `payment.refund.succeeded` envelope; `Poison` when it can never be applied."""
    event = open_envelope(envelope, PAYMENT_REFUND_SUCCEEDED, events_pb2.PaymentRefundSucceeded)
    if not event.refund_id or not event.payment_order_id:
        raise Poison("refund_id and payment_order_id are required")
    if not event.HasField("amount") or not event.HasField("fee_refunded"):
        raise Poison("amount and fee_refunded are required")
    amount = money("amount", event.amount, allow_zero=False)
    fee = money("fee_refunded", event.fee_refunded, allow_zero=True)
    if fee.currency != amount.currency or fee.amount > amount.amount:
        raise Poison(f"fee_refunded {fee} does not fit amount {amount}")
    return RefundSucceeded(
        event_id=envelope.event_id,
        refund_id=event.refund_id,
        payment_order_id=event.payment_order_id,
        seller_account=event.seller_account,
        amount=amount,
        fee_refunded=fee,
    )


class Applier(Generic[C, U, R]):
    """The JetStream handler of a consumer that reads an envelope into its use case's command
    (None: nothing to do, acked) and applies it in a unit of work. `Poison` (dead-letter) when
    the envelope or the use case says it can never be applied (`refused`); anything else is
    retried (an outage of the database without counting, see mesh.transient). `applied` is
    told the use cases' results once they committed.

    With a unit of work that can batch (mesh.uow.BatchingUnitOfWork), `apply_batch` applies
    many envelopes in one transaction: one inbox claim for all, each use case in turn, one
    commit (mesh.sql_uow); an envelope that cannot be read is left out (mesh.jetstream then
    dead-letters it on its own), and any failure fails the batch (whose messages are then
    handled one by one, by `__call__`). The inbox name of a batch is the durable's name, as
    for every consumer of the mesh. `prepare`, when given, runs in the batch's transaction
    after its claim and before any use case, with the commands seen for the first time: the
    place to take, in one fixed order and in one statement, the locks the use cases would
    otherwise take one by one in arrival order (two batches must not wait on each other in a
    cycle)."""

    def __init__(
        self,
        to_command: Callable[[events_pb2.Envelope], C | None],
        use_case: Callable[[U, C], Awaitable[R]],
        new_uow: Callable[[], U],
        refused: tuple[type[Exception], ...] = (),
        applied: Callable[[Sequence[R]], None] | None = None,
        prepare: Callable[[U, Sequence[C]], Awaitable[None]] | None = None,
    ) -> None:
        self.to_command = to_command
        self.use_case = use_case
        self.new_uow = new_uow
        self.refused = refused
        self.applied = applied
        self.prepare = prepare

    async def __call__(self, envelope: events_pb2.Envelope) -> None:
        command = self.to_command(envelope)
        if command is None:
            return
        try:
            result = await self.use_case(self.new_uow(), command)
        except self.refused as err:
            raise Poison(str(err)) from err
        if self.applied is not None:
            self.applied([result])

    async def apply_batch(
        self, consumer: str, envelopes: Sequence[events_pb2.Envelope]
    ) -> list[int]:
        uow = self.new_uow()
        if not isinstance(uow, BatchingUnitOfWork):
            return list(range(len(envelopes)))  # this unit of work applies one at a time
        left_out: list[int] = []
        commands: list[tuple[str, C]] = []
        for i, envelope in enumerate(envelopes):
            try:
                command = self.to_command(envelope)
                if command is not None:
                    commands.append((event_id(envelope), command))
            except Exception:  # poison: dead-lettered on its own, with its reason
                left_out.append(i)
        if not commands:
            return left_out
        results: list[R] = []
        async with uow.batch(consumer, [eid for eid, _ in commands]) as first_seen:
            todo: list[C] = []
            for eid, command in commands:
                if eid not in first_seen:
                    continue  # handled before (or twice in this batch): no second effect
                first_seen.discard(eid)
                todo.append(command)
            if self.prepare is not None and todo:
                await self.prepare(uow, todo)
            for command in todo:
                results.append(await self.use_case(uow, command))
        if self.applied is not None and results:
            self.applied(results)
        return left_out


def applying(
    to_command: Callable[[events_pb2.Envelope], C | None],
    use_case: Callable[[U, C], Awaitable[object]],
    new_uow: Callable[[], U],
    refused: tuple[type[Exception], ...],
) -> Applier[C, U, object]:
    """The `Applier` of a use case (see there)."""
    return Applier(to_command, use_case, new_uow, refused)
