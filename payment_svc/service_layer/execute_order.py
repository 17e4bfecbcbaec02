"""The executor's use case: charge one payment order at the PSP, at most once.

NOT_STARTED → EXECUTING is committed before the PSP is called. An order found EXECUTING had an
earlier attempt whose outcome we do not know: the PSP is asked first what became of it (by the
payment order id it carries in its metadata), and only if it knows of no charge is it called
again, with the same idempotency key (the payment order id), which would replay a first outcome
instead of charging again. The outcome is recorded with a conditional update, so of two
executors racing on one order only one records; the other does nothing.

`settle_pending` asks the PSP about an order it left PENDING (the sweeper's polling, when no
webhook came).
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime

from payment_svc.domain.checkout import Flow
from payment_svc.domain.events import OrderFailed, OrderPending, OrderSucceeded
from payment_svc.domain.order import OrderStatus, PaymentOrder
from payment_svc.domain.psp import (
    ChargeOutcome,
    ChargeRequest,
    ChargeStatus,
    PaymentProvider,
    PspRejected,
)
from payment_svc.service_layer.ask_psp_first import ask_psp_first
from payment_svc.service_layer.payment_done import refresh_payment_done
from payment_svc.service_layer.ports import (
    Clock,
    OrderToCharge,
    UnitOfWork,
    UnitOfWorkFactory,
    UnknownOrder,
)
from payment_svc.service_layer.start_batch import StartBatch

log = logging.getLogger(__name__)

MAX_REASON_LENGTH = 500


class Execution(enum.Enum):
    """What `execute_order` did."""

    NOTHING_TO_DO = "nothing_to_do"  # terminal, or PENDING (settled by webhook or sweeper)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"
    LOST_RACE = "lost_race"  # another executor recorded the outcome first


async def execute_order(
    payment_order_id: str,
    *,
    uow: UnitOfWorkFactory,
    psp: PaymentProvider,
    clock: Clock,
    starts: StartBatch | None = None,
) -> Execution:
    """Charge the order unless it is already past that. Raises PspUnavailable when the outcome
    is unknown (the order stays EXECUTING; retry later) and UnknownOrder for an unknown id.
    With `starts`, a NOT_STARTED order is started together with the others arriving now."""
    started = await starts.start(payment_order_id) if starts is not None else None
    begun = (started, False) if started is not None else await _begin(payment_order_id, uow, clock)
    if begun is None:
        return Execution.NOTHING_TO_DO
    target, outcome_unknown = begun
    order = target.order
    if outcome_unknown:
        found = await ask_psp_first(
            psp.find_charge(payment_order_id), f"payment order {payment_order_id}"
        )
        if found is not None:
            return await _record(order, found, uow, clock, OrderStatus.EXECUTING)
    request = ChargeRequest(
        payment_order_id=order.payment_order_id,
        amount=order.amount,
        currency=order.currency,
        payment_method=target.payment_method,
        buyer_id=target.buyer_id,
        checkout_id=order.checkout_id,
    )
    try:
        outcome = await psp.charge(request)
    except PspRejected as err:
        log.warning("PSP rejected payment order %s: %s", order.payment_order_id, err)
        reason = f"psp_rejected: {err}"[:MAX_REASON_LENGTH]
        outcome = ChargeOutcome(ChargeStatus.DECLINED, "", reason)
    return await _record(order, outcome, uow, clock, OrderStatus.EXECUTING)


async def settle_pending(
    payment_order_id: str, *, uow: UnitOfWorkFactory, psp: PaymentProvider, clock: Clock
) -> Execution:
    """Ask the PSP about a PENDING order and record its outcome if it has one. Raises
    PspUnavailable when the PSP cannot be asked."""
    async with uow() as tx:
        target = await tx.repo.get_order_to_charge(payment_order_id)
    if target is None:
        raise UnknownOrder(payment_order_id)
    order = target.order
    if order.status is not OrderStatus.PENDING:
        return Execution.NOTHING_TO_DO
    if order.psp_reference:
        outcome: ChargeOutcome | None = await psp.retrieve(order.psp_reference)
    else:
        outcome = await psp.find_charge(payment_order_id)
    if outcome is None or outcome.status is ChargeStatus.PENDING:
        return Execution.PENDING
    return await _record(order, outcome, uow, clock, OrderStatus.PENDING)


async def _begin(
    payment_order_id: str, uow: UnitOfWorkFactory, clock: Clock
) -> tuple[OrderToCharge, bool] | None:
    """Load the order; commit EXECUTING if it was never sent, or count one more attempt if its
    first outcome is unknown. Returns what to charge and whether an earlier attempt's outcome
    is unknown, or None when there is nothing to do."""
    while True:
        async with uow() as tx:
            target = await tx.repo.get_order_to_charge(payment_order_id)
            if target is None:
                raise UnknownOrder(payment_order_id)
            order = target.order
            if target.flow is Flow.HOSTED:
                return None  # the buyer pays on the PSP's page: never charged from here
            if order.status is OrderStatus.NOT_STARTED:
                change = order.start_execution(clock())
                if await tx.repo.record_transition(order, change, OrderStatus.NOT_STARTED):
                    await tx.commit()
                    return target, False
            elif order.status is OrderStatus.EXECUTING:
                if await tx.repo.count_attempt(payment_order_id, OrderStatus.EXECUTING):
                    order.attempts += 1
                    await tx.commit()
                    return target, True
            else:
                return None  # terminal, or PENDING (settled by webhook or sweeper)
        # Another executor moved the order meanwhile: look again.


async def _record(
    order: PaymentOrder,
    outcome: ChargeOutcome,
    uow: UnitOfWorkFactory,
    clock: Clock,
    expected: OrderStatus,
) -> Execution:
    """Store the PSP's outcome, in a transaction of its own, if the order is still `expected`."""
    async with uow() as tx:
        result = await record_outcome(tx, order, outcome, clock(), expected)
        if result is not Execution.LOST_RACE:
            await tx.commit()
    return result


async def record_outcome(
    tx: UnitOfWork,
    order: PaymentOrder,
    outcome: ChargeOutcome,
    now: datetime,
    expected: OrderStatus,
) -> Execution:
    """Move `order` (loaded as `expected`) to what the PSP said, inside `tx`, with its event;
    LOST_RACE (nothing written) if the database no longer holds it as `expected`."""
    if outcome.status is ChargeStatus.SUCCEEDED:
        change = order.succeed(outcome.psp_reference, now)
        if not await tx.repo.record_transition(order, change, expected):
            return Execution.LOST_RACE
        await tx.emit(
            OrderSucceeded(
                payment_order_id=order.payment_order_id,
                checkout_id=order.checkout_id,
                seller_account=order.seller_account,
                amount=order.amount,
                fee_amount=order.fee_amount,
                currency=order.currency,
                psp_reference=order.psp_reference,
            )
        )
        return Execution.SUCCEEDED
    if outcome.status is ChargeStatus.DECLINED:
        # The checkout may be done now. Lock it before writing the order: the same lock order
        # as the flag updates, so neither can miss the other's change.
        checkout = await tx.repo.lock_checkout_of(order.payment_order_id)
        reason = (outcome.decline_reason or "declined")[:MAX_REASON_LENGTH]
        change = order.fail(reason, now, outcome.psp_reference)
        if not await tx.repo.record_transition(order, change, expected):
            return Execution.LOST_RACE
        await tx.emit(OrderFailed(order.payment_order_id, order.checkout_id, order.failure_reason))
        if checkout is not None:
            await refresh_payment_done(tx, checkout, order)
        return Execution.FAILED
    change = order.wait_for_psp(outcome.psp_reference, now)
    if not await tx.repo.record_transition(order, change, expected):
        return Execution.LOST_RACE
    await tx.emit(OrderPending(order.payment_order_id, order.checkout_id, change.reason))
    return Execution.PENDING
