"""The ledger's wallet-move use case: post each move between a seller's buckets once."""

from __future__ import annotations

from dataclasses import dataclass

from ledger_svc.domain import wallet_moved
from ledger_svc.service_layer.ports import LedgerUnitOfWork
from ledger_svc.service_layer.use_cases import PostOutcome, post_transaction
from mesh.money import Money

MOVE_CONSUMER = "ledger-wallet-move"


@dataclass(frozen=True)
class PostWalletMove:
    """Post a wallet move (from `wallet.moved`)."""

    event_id: str
    move_id: str
    seller_account: str
    amount: Money
    debit: str
    credit: str
    reason: str
    reference: str


async def post_wallet_move(uow: LedgerUnitOfWork, cmd: PostWalletMove) -> PostOutcome:
    """Post the move's balanced transaction once (its id is the move id: ALREADY_POSTED for a
    second event of the same move). `InvalidTransaction` before any I/O when it cannot be."""
    txn = wallet_moved(
        cmd.move_id,
        cmd.seller_account,
        cmd.amount,
        cmd.debit,
        cmd.credit,
        cmd.reason,
        cmd.reference,
    )
    return await post_transaction(uow, MOVE_CONSUMER, cmd.event_id, txn)
