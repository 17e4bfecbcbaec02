"""The ledger's refund use case: post the reversal of a succeeded refund, once per refund."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from ledger_svc.domain import payment_refunded
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from ledger_svc.service_layer.use_cases import PostOutcome, post_transaction
from mesh.payment_events import RefundSucceeded

REFUND_CONSUMER = "ledger-refund"


# Post the reversal of a succeeded refund: the event as every consumer reads it.
PostRefund = RefundSucceeded


def _new_id() -> str:
    return str(uuid.uuid4())


async def post_refund(
    uow: LedgerUnitOfWork, cmd: PostRefund, new_id: Callable[[], str] = _new_id
) -> PostOutcome:
    """Post the refund's balanced reversal once (ALREADY_POSTED for a second event of the same
    refund). Raises `InvalidTransaction` (before any I/O) when it cannot be posted as stated."""
    txn = payment_refunded(
        new_id(),
        cmd.refund_id,
        cmd.payment_order_id,
        cmd.seller_account,
        cmd.amount,
        cmd.fee_refunded,
    )
    return await post_transaction(uow, REFUND_CONSUMER, cmd.event_id, txn)
