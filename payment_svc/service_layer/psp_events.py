"""Applying the PSP's events (webhooks) to payment orders.

The event is stored (for audit) in the transaction that applies it, on its own primary key: a
redelivery finds it stored and does nothing. An event only ever moves an order forward along
the state machine, so a late or reordered one (`processing` after `succeeded`) is kept and
ignored, never a step back.
"""

from __future__ import annotations

import enum

from payment_svc.domain.order import OrderStatus, can_transition
from payment_svc.domain.psp import ChargeStatus
from payment_svc.domain.psp_event import PspEvent
from payment_svc.service_layer.execute_order import Execution, record_outcome
from payment_svc.service_layer.ports import Clock, UnitOfWork, UnitOfWorkFactory

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


class OrderBusy(Exception):
    """The order kept changing while the event was applied; nothing was stored. Retryable."""


async def apply_psp_event(
    event: PspEvent, *, uow: UnitOfWorkFactory, clock: Clock
) -> WebhookResult:
    for _ in range(MAX_RACES):
        async with uow() as tx:
            if not await tx.repo.add_psp_event(event, clock()):
                return WebhookResult.DUPLICATE
            outcome = await _apply(tx, event, clock)
            if outcome is None:
                continue  # lost a race: roll back (the event too) and look again
            result, note = outcome
            await tx.repo.set_psp_event_result(event.event_id, note)
            await tx.commit()
            return result
    raise OrderBusy(event.payment_order_id)


async def _apply(tx: UnitOfWork, event: PspEvent, clock: Clock) -> tuple[WebhookResult, str] | None:
    """What the event does to its order, done in `tx`; None if the order moved meanwhile."""
    if event.outcome is None:
        return WebhookResult.IGNORED, "ignored: says nothing about a charge's outcome"
    if not event.payment_order_id:
        return WebhookResult.IGNORED, "ignored: names no payment order"
    target = await tx.repo.get_order_to_charge(event.payment_order_id)
    if target is None:
        return WebhookResult.IGNORED, "ignored: unknown payment order"
    order = target.order
    if order.psp_reference and event.psp_reference not in ("", order.psp_reference):
        return WebhookResult.IGNORED, f"ignored: the order's charge is {order.psp_reference}"
    if not can_transition(order.status, TARGET[event.outcome.status]):
        return WebhookResult.IGNORED, f"ignored: the order is already {order.status.value}"
    recorded = await record_outcome(tx, order, event.outcome, clock(), order.status)
    if recorded is Execution.LOST_RACE:
        return None
    return WebhookResult.APPLIED, f"applied: {order.status.value}"
