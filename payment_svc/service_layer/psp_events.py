"""Applying the PSP's events (webhooks) to payment orders.

The event is stored (for audit) in the transaction that applies it, on its own primary key: a
redelivery finds it stored and does nothing. An event only ever moves an order forward along
the state machine, so a late or reordered one (`processing` after `succeeded`) is kept and
ignored, never a step back.

A verified event is still checked against the order before it moves it: the order's intent id
(when the order has one recorded), amount and currency must be the event's. A signature only
proves who sent the event, not that it is about this charge: an event that disagrees with the
order (a replayed event of another charge, a forgery signed with a leaked secret) is stored as
MISMATCH and changes nothing. An event the adapter refused (malformed), or made further in the
future than `max_future` allows, is stored as REFUSED and changes nothing.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from mesh.money import format_amount
from payment_svc.domain.order import OrderStatus, PaymentOrder, can_transition
from payment_svc.domain.psp import ChargeStatus
from payment_svc.domain.psp_event import PspEvent
from payment_svc.service_layer.execute_order import Execution, record_outcome
from payment_svc.service_layer.ports import Clock, OrderToCharge, UnitOfWork, UnitOfWorkFactory

# A concurrent writer (the executor, the sweeper) moved the order under us this many times in a
# row: give up for now; the PSP delivers the event again.
MAX_RACES = 3

TARGET: dict[ChargeStatus, OrderStatus] = {
    ChargeStatus.SUCCEEDED: OrderStatus.SUCCESS,
    ChargeStatus.DECLINED: OrderStatus.FAILED,
    ChargeStatus.PENDING: OrderStatus.PENDING,
}


class WebhookResult(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    MISMATCH = "mismatch"  # genuine, but disagrees with the order: nothing changed
    REFUSED = "refused"  # genuine, but malformed or from the future: nothing changed


class OrderBusy(Exception):
    """The order kept changing while the event was applied; nothing was stored. Retryable."""


DEFAULT_MAX_FUTURE = timedelta(seconds=300)


def refusal_of(event: PspEvent, now: datetime, max_future: timedelta) -> str:
    """Why `event` may not be applied whatever the order says; "" when it may."""
    if event.refusal:
        return event.refusal
    if event.created_at > now + max_future:
        return f"made at {event.created_at.isoformat()}, more than {max_future} ahead of our clock"
    return ""


async def apply_psp_event(
    event: PspEvent,
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
) -> tuple[WebhookResult, str]:
    """What the event did, and the note stored with it for audit."""
    for _ in range(MAX_RACES):
        async with uow() as tx:
            now = clock()
            # The event and its order in one step: a redelivery, or an event about an order
            # the executor already settled, costs this and the commit, nothing more.
            new, target = await tx.repo.receive_psp_event(event, now)
            if not new:
                return WebhookResult.DUPLICATE, "already received"
            refusal = refusal_of(event, now, max_future)
            outcome: tuple[WebhookResult, str] | None = (
                (WebhookResult.REFUSED, f"refused: {refusal}")
                if refusal
                else await _apply(tx, event, target, clock)
            )
            if outcome is None:
                continue  # lost a race: roll back (the event too) and look again
            result, note = outcome
            await tx.repo.set_psp_event_result(event.event_id, note)
            await tx.commit()
            return result, note
    raise OrderBusy(event.payment_order_id)


async def _apply(
    tx: UnitOfWork, event: PspEvent, target: OrderToCharge | None, clock: Clock
) -> tuple[WebhookResult, str] | None:
    """What the event does to its order (`target`, as read with the event stored), done in
    `tx`; None if the order moved meanwhile."""
    if event.outcome is None:
        return WebhookResult.IGNORED, "ignored: says nothing about a charge's outcome"
    if not event.payment_order_id:
        return WebhookResult.IGNORED, "ignored: names no payment order"
    if target is None:
        return WebhookResult.IGNORED, "ignored: unknown payment order"
    order = target.order
    mismatch = _mismatch(event, order)
    if mismatch:
        return WebhookResult.MISMATCH, f"mismatch: {mismatch}"
    if not can_transition(order.status, TARGET[event.outcome.status]):
        return WebhookResult.IGNORED, f"ignored: the order is already {order.status.value}"
    recorded = await record_outcome(tx, order, event.outcome, clock(), order.status)
    if recorded is Execution.LOST_RACE:
        return None
    return WebhookResult.APPLIED, f"applied: {order.status.value}"


def _mismatch(event: PspEvent, order: PaymentOrder) -> str:
    """How the event disagrees with the order it names; "" when it agrees. The intent id is
    compared when the order has one recorded (a hosted order learns its intent from the first
    event about it; its amount and currency still have to match)."""
    if not event.psp_reference:
        return "the event names no payment intent"
    if order.psp_reference and event.psp_reference != order.psp_reference:
        return f"intent {event.psp_reference}, the order's is {order.psp_reference}"
    if event.currency != order.currency:
        return f"currency {event.currency or '-'}, the order's is {order.currency}"
    if event.amount is None or event.amount != order.amount:
        return (
            f"amount {event.amount}, the order's is {format_amount(order.amount, order.currency)}"
        )
    return ""
