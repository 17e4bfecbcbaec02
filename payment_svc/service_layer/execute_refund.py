"""The refund executor's use case: refund one PENDING refund at the PSP, at most once.

Each attempt is counted (committed) before the PSP is called, under the refund id as the PSP
idempotency key. A refund found with attempts already counted had an earlier attempt whose
outcome we may not know: the PSP is asked first (by the refund id in its metadata), and only if
it knows of no such refund is it sent again, with the same key. The outcome is recorded with a
conditional update, so of two executors racing on one refund only one records it.

SUCCEEDED emits `payment.refund.succeeded` (wallet and ledger reverse it); FAILED, with the
PSP's reason, emits `payment.refund.failed` and frees its amount for another refund.
"""

from __future__ import annotations

import enum
import logging
from datetime import timedelta

from payment_svc.domain.psp import PspRejected
from payment_svc.domain.psp_refunds import (
    RefundOutcome,
    RefundOutcomeStatus,
    RefundProvider,
    RefundRequest,
)
from payment_svc.domain.refund import Refund, RefundStatus
from payment_svc.domain.refund_events import RefundFailed, RefundSucceeded
from payment_svc.service_layer.ask_psp_first import ask_psp_first
from payment_svc.service_layer.execute_order import MAX_REASON_LENGTH
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory
from payment_svc.service_layer.sweep import SweepReport, settle_each

log = logging.getLogger(__name__)


class UnknownRefund(Exception):
    """An event names a refund this service does not have."""


class RefundExecution(enum.Enum):
    NOTHING_TO_DO = "nothing_to_do"  # already SUCCEEDED or FAILED
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"  # the PSP needs time; the sweeper asks again
    LOST_RACE = "lost_race"  # another executor recorded the outcome first


async def execute_refund(
    refund_id: str, *, uow: UnitOfWorkFactory, psp: RefundProvider, clock: Clock
) -> RefundExecution:
    """Refund at the PSP unless already done. Raises PspUnavailable when the outcome is unknown
    (the refund stays PENDING; retry later) and UnknownRefund for an unknown id."""
    async with uow() as tx:
        refund = await tx.refunds.get_refund(refund_id)
        if refund is None:
            raise UnknownRefund(refund_id)
        if refund.status is not RefundStatus.PENDING:
            return RefundExecution.NOTHING_TO_DO
        charge = await tx.refunds.get_order_reference(refund.payment_order_id)
        if not await tx.refunds.count_attempt(refund_id, clock()):
            return RefundExecution.LOST_RACE  # finished meanwhile
        await tx.commit()
    outcome_unknown = refund.attempts > 0
    request = RefundRequest(
        refund_id=refund.refund_id,
        payment_order_id=refund.payment_order_id,
        charge_reference=charge,
        amount=refund.amount,
        currency=refund.currency,
    )
    if outcome_unknown:
        found = await ask_psp_first(
            psp.find_refund(request.charge_reference, request.refund_id),
            f"refund {request.refund_id}",
        )
        if found is not None:
            return await _record(refund, found, uow, clock)
    try:
        outcome = await psp.refund(request)
    except PspRejected as err:
        log.warning("PSP rejected refund %s: %s", refund_id, err)
        outcome = RefundOutcome(RefundOutcomeStatus.FAILED, "", f"psp_rejected: {err}")
    return await _record(refund, outcome, uow, clock)


async def _record(
    refund: Refund, outcome: RefundOutcome, uow: UnitOfWorkFactory, clock: Clock
) -> RefundExecution:
    """Store the PSP's outcome with its event, in a transaction of its own, if the refund is
    still PENDING."""
    if outcome.status is RefundOutcomeStatus.PENDING:
        return RefundExecution.PENDING
    async with uow() as tx:
        now = clock()
        if outcome.status is RefundOutcomeStatus.SUCCEEDED:
            refund.succeed(outcome.psp_reference, now)
            event: RefundSucceeded | RefundFailed = RefundSucceeded(
                refund_id=refund.refund_id,
                payment_order_id=refund.payment_order_id,
                seller_account=refund.seller_account,
                amount=refund.amount,
                fee_refunded=refund.fee_refunded,
                currency=refund.currency,
                psp_reference=refund.psp_reference,
            )
            result = RefundExecution.SUCCEEDED
        else:
            reason = (outcome.failure_reason or "failed")[:MAX_REASON_LENGTH]
            refund.fail(reason, now, outcome.psp_reference)
            event = RefundFailed(refund.refund_id, refund.payment_order_id, refund.failure_reason)
            result = RefundExecution.FAILED
        if not await tx.refunds.record_outcome(refund):
            return RefundExecution.LOST_RACE
        await tx.emit(event)
        await tx.commit()
    return result


async def sweep_stuck_refunds(
    *,
    uow: UnitOfWorkFactory,
    psp: RefundProvider,
    clock: Clock,
    stuck_after: timedelta,
    limit: int = 200,
) -> SweepReport[RefundExecution]:
    """One round over PENDING refunds not updated for `stuck_after` (their event was
    dead-lettered, or the PSP's answer was lost or pending): execute each again, which asks
    the PSP first when an attempt was made."""
    async with uow() as tx:
        stuck = await tx.refunds.list_stuck(clock() - stuck_after, limit)

    async def settle(refund_id: str) -> RefundExecution:
        return await execute_refund(refund_id, uow=uow, psp=psp, clock=clock)

    return await settle_each(stuck, settle, pending=RefundExecution.PENDING, what="refund")
