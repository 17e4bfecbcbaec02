"""The wallet's refund use case: debit the seller of a succeeded refund, once per refund."""

from __future__ import annotations

import enum

from mesh.payment_events import RefundSucceeded
from mesh.retry import Transient
from wallet_svc.domain import Bucket, RefundDebit, split_debit
from wallet_svc.service_layer.moves import move
from wallet_svc.service_layer.ports import WalletUnitOfWork

REFUND_CONSUMER = "wallet-refund"


# Debit the seller of a succeeded refund: the event as every consumer reads it.
DebitRefund = RefundSucceeded


class DebitOutcome(enum.Enum):
    DEBITED = "debited"
    DUPLICATE_EVENT = "duplicate_event"  # this event was handled before
    ALREADY_DEBITED = "already_debited"  # another event debited this refund before


class CreditNotYetApplied(Transient):
    """The order's credit has not reached the wallet yet (events may arrive out of order, or the
    credit may wait in the dead-letter stream for a replay): retry later, for as long as it
    takes, so that the debit meets the credit in `pending`."""


async def debit_refund(uow: WalletUnitOfWork, cmd: DebitRefund) -> DebitOutcome:
    """Take amount - fee_refunded back from the seller (an unreleased order's from pending first,
    then available; a released order's from available; the rest becomes debt), once per
    refund, in one transaction with the inbox claim. The ledger's refund posting debits the
    pending account; the parts taken elsewhere are told to it as moves. Raises
    `InvalidRefundDebit` (before any I/O) when the refund cannot be debited as stated,
    `CreditNotYetApplied` when it must wait."""
    debit = RefundDebit(
        cmd.refund_id, cmd.payment_order_id, cmd.seller_account, cmd.amount, cmd.fee_refunded
    )
    async with uow:
        if not await uow.claim_event(REFUND_CONSUMER, cmd.event_id):
            return DebitOutcome.DUPLICATE_EVENT
        if not await uow.wallets.has_credit(debit.payment_order_id):
            raise CreditNotYetApplied(debit.payment_order_id)
        released = await uow.wallets.is_released(debit.payment_order_id)
        balance = await uow.wallets.lock_balance(debit.seller_account, debit.currency)
        split = split_debit(balance, debit.net.amount, released)
        if not await uow.wallets.add_refund_debit(debit, split, cmd.event_id):
            # Commit the claim alone: this event is handled, and had no effect.
            await uow.commit()
            return DebitOutcome.ALREADY_DEBITED
        seller, ref = debit.seller_account, debit.refund_id
        for amount, source, reason in (
            (split.from_available, Bucket.AVAILABLE, "refund_from_available"),
            (split.to_debt, Bucket.DEBT, "refund_to_debt"),
        ):
            await move(uow, seller, balance, amount, source, Bucket.PENDING, reason, ref)
        await uow.wallets.apply_refund_debit(debit.seller_account, debit.currency, split)
        await uow.commit()
    return DebitOutcome.DEBITED
