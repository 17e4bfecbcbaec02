"""Releasing an order's funds: what is left in `pending` of its credit moves to `available`,
once per order, when the order is released (delivery confirmed: `payment.order.released`) or
when its hold period is over (the auto-release loop)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from wallet_svc.domain import Bucket
from wallet_svc.service_layer.moves import move
from wallet_svc.service_layer.ports import WalletUnitOfWork
from wallet_svc.service_layer.refunds import CreditNotYetApplied

RELEASE_CONSUMER = "wallet-release"
AUTO_RELEASE = "wallet-auto-release"


@dataclass(frozen=True)
class ReleaseOrder:
    """Release a SUCCESS order's credit (from `payment.order.released`, or the hold period)."""

    event_id: str
    payment_order_id: str
    reason: str = "release"


class ReleaseOutcome(enum.Enum):
    RELEASED = "released"
    DUPLICATE_EVENT = "duplicate_event"
    ALREADY_RELEASED = "already_released"


async def release_order(
    uow: WalletUnitOfWork, cmd: ReleaseOrder, consumer: str = RELEASE_CONSUMER
) -> ReleaseOutcome:
    """Move what is left in pending of the order's credit to available (a `release` move), once
    per order, in one transaction with the inbox claim. `CreditNotYetApplied` when the order's
    credit has not arrived yet (retried)."""
    async with uow:
        if not await uow.claim_event(consumer, cmd.event_id):
            return ReleaseOutcome.DUPLICATE_EVENT
        credit = await uow.wallets.credit_to_release(cmd.payment_order_id)
        if credit is None:
            raise CreditNotYetApplied(cmd.payment_order_id)
        if credit.released:
            await uow.commit()
            return ReleaseOutcome.ALREADY_RELEASED
        balance = await uow.wallets.lock_balance(credit.seller_account, credit.currency)
        amount = max(min(credit.in_pending, balance.pending), Decimal(0))
        if not await uow.wallets.add_release(credit, amount, cmd.reason, cmd.event_id):
            await uow.commit()
            return ReleaseOutcome.ALREADY_RELEASED
        balance = await move(
            uow,
            credit.seller_account,
            balance,
            amount,
            Bucket.PENDING,
            Bucket.AVAILABLE,
            cmd.reason,
            cmd.payment_order_id,
        )
        await uow.wallets.save_balance(credit.seller_account, balance)
        await uow.commit()
    return ReleaseOutcome.RELEASED


async def release_due(
    new_uow: Callable[[], WalletUnitOfWork],
    hold_period_s: float,
    batch: int = 200,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Release every order credited more than `hold_period_s` ago and not released yet (a round
    of the auto-release loop); returns how many it released. Several replicas may run it: an
    order is released once (its release row), whoever gets there first."""
    async with new_uow() as uow:
        due = await uow.wallets.due_for_release(now() - timedelta(seconds=hold_period_s), batch)
    released = 0
    for payment_order_id in due:
        outcome = await release_order(
            new_uow(),
            ReleaseOrder(str(uuid.uuid4()), payment_order_id, "auto_release"),
            consumer=AUTO_RELEASE,
        )
        released += outcome is ReleaseOutcome.RELEASED
    return released
