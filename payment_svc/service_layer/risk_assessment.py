"""The risk check of a checkout inside the transaction that stores it: the buyer's and the
token's recent activity is read under their locks (when the check wants any), so two
checkouts of one buyer are judged one after the other; the decision, allowed or refused, is
stored in that same transaction (ADR 0006)."""

from __future__ import annotations

from datetime import datetime, timedelta

from payment_svc.domain.commands import CreatePayment
from payment_svc.domain.risk import NO_ACTIVITY, RiskCheck, RiskDecision
from payment_svc.service_layer.ports import UnitOfWork
from payment_svc.service_layer.risk_ports import RiskRecord


async def assess_checkout(
    tx: UnitOfWork, risk: RiskCheck, cmd: CreatePayment, now: datetime
) -> RiskDecision:
    subject = cmd.risk_subject()
    recent = NO_ACTIVITY
    if risk.lookback > timedelta(0):
        recent = await tx.risk.lock_recent_activity(
            subject.buyer_id, subject.counted_payment_method, since=now - risk.lookback
        )
    return await risk.assess(subject, recent)


async def record_decision(
    tx: UnitOfWork, cmd: CreatePayment, decision: RiskDecision, now: datetime
) -> None:
    await tx.risk.add_decision(
        RiskRecord(
            checkout_id=cmd.checkout_id,
            buyer_id=cmd.buyer_id,
            payment_method=cmd.payment_method,
            request_id=cmd.request_id,
            decision=decision,
            decided_at=now,
        )
    )
